package io.spdyproxy.proxy.live;

import io.netty.handler.ssl.SslContext;
import io.spdyproxy.tls.PemFiles;
import io.spdyproxy.tls.SelfSignedCertificate;
import io.spdyproxy.tls.TlsContexts;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.Signature;
import java.security.cert.CertificateEncodingException;
import java.security.cert.X509Certificate;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The certificate the proxy's TLS listeners serve, re-read from {@code --cert}/{@code --key} on
 * {@link #reload}. New TLS connections take the contexts in force when they are accepted; live
 * connections keep theirs. A pair that cannot be read, or whose key does not belong to the
 * certificate (checked by signing and verifying), keeps the previous one and is logged at WARN.
 *
 * <p>Threading: the contexts are read from any thread (one volatile snapshot); reloads are
 * serialized.
 */
public final class LiveCertificate implements Reloadable {
    private static final Logger log = LoggerFactory.getLogger(LiveCertificate.class);

    /** The certificate and the contexts made from it, swapped as one. */
    private record Contexts(SelfSignedCertificate certificate, SslContext tunnel, SslContext https) {}

    private final Path certFile;
    private final Path keyFile;
    private final List<String> httpsAlpn;
    private volatile Contexts current;
    private CompletableFuture<X509Certificate> nextChange = new CompletableFuture<>(); // guarded by this

    /**
     * @param certFile the PEM chain to re-read, or null when the certificate never changes
     * @param httpsAlpn the HTTPS listener's ALPN ids (the tunnel listener offers none); empty: no
     *     HTTPS listener, so no context for it
     */
    public LiveCertificate(SelfSignedCertificate initial, Path certFile, Path keyFile, List<String> httpsAlpn) {
        this.certFile = certFile;
        this.keyFile = keyFile;
        this.httpsAlpn = List.copyOf(httpsAlpn);
        this.current = contexts(initial);
    }

    private Contexts contexts(SelfSignedCertificate c) {
        return new Contexts(c, TlsContexts.server(c, List.of()), httpsAlpn.isEmpty() ? null
                : TlsContexts.server(c, httpsAlpn));
    }

    public SslContext tunnelContext() {
        return current.tunnel();
    }

    public SslContext httpsContext() {
        return current.https();
    }

    public X509Certificate certificate() {
        return current.certificate().certificate();
    }

    /** The files re-read, or an empty list when the certificate is not from files. */
    public List<Path> files() {
        return certFile == null ? List.of() : List.of(certFile, keyFile);
    }

    /** Completes with the new certificate at the next reload that changes it. */
    public synchronized CompletableFuture<X509Certificate> nextChange() {
        return nextChange;
    }

    @Override
    public void reload() {
        if (certFile == null) {
            return;
        }
        CompletableFuture<X509Certificate> changed;
        X509Certificate cert;
        synchronized (this) {
            SelfSignedCertificate read;
            try {
                read = PemFiles.read(certFile, keyFile);
                requireMatch(read);
                if (same(read, current.certificate())) {
                    return;
                }
                current = contexts(read);
            } catch (IOException | GeneralSecurityException | RuntimeException e) {
                log.warn("certificate not reloaded from {} and {}, the previous one stays in force: {}", certFile,
                        keyFile, e.getMessage());
                return;
            }
            cert = read.certificate();
            log.info("certificate reloaded from {}: {}, SHA-256 {}, valid until {}", certFile,
                    cert.getSubjectX500Principal().getName(), SelfSignedCertificate.fingerprint(cert),
                    cert.getNotAfter().toInstant());
            changed = nextChange;
            nextChange = new CompletableFuture<>();
        }
        changed.complete(cert);
    }

    /** Signs with the key and verifies with the certificate: a key of another pair fails here. */
    static void requireMatch(SelfSignedCertificate pair) throws GeneralSecurityException {
        String alg = switch (pair.key().getAlgorithm()) {
            case "EC" -> "SHA256withECDSA";
            case "RSA" -> "SHA256withRSA";
            case "Ed25519", "EdDSA" -> "Ed25519";
            default -> null; // no check we know of; the TLS handshake will tell
        };
        if (alg == null) {
            return;
        }
        byte[] probe = "spdy-proxy key check".getBytes(StandardCharsets.US_ASCII);
        Signature s = Signature.getInstance(alg);
        s.initSign(pair.key());
        s.update(probe);
        byte[] sig = s.sign();
        Signature v = Signature.getInstance(alg);
        v.initVerify(pair.certificate().getPublicKey());
        v.update(probe);
        if (!v.verify(sig)) {
            throw new GeneralSecurityException("the key does not belong to the certificate");
        }
    }

    private static boolean same(SelfSignedCertificate a, SelfSignedCertificate b) throws CertificateEncodingException {
        return Arrays.equals(a.certificate().getEncoded(), b.certificate().getEncoded())
                && Arrays.equals(a.key().getEncoded(), b.key().getEncoded());
    }
}
