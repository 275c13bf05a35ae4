package io.spdyproxy.tls;

import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ApplicationProtocolConfig.Protocol;
import io.netty.handler.ssl.ApplicationProtocolConfig.SelectedListenerFailureBehavior;
import io.netty.handler.ssl.ApplicationProtocolConfig.SelectorFailureBehavior;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import java.io.IOException;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Locale;
import javax.net.ssl.SSLException;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * Builds Netty TLS contexts for servers and clients, optionally offering ALPN protocol ids. Uses
 * OpenSSL (Netty's BoringSSL build) when it loads, which is much faster than the JDK's engine;
 * {@code -Dspdyproxy.tls=jdk} forces the JDK.
 */
public final class TlsContexts {
    private static final io.netty.handler.ssl.SslProvider PROVIDER =
            !"jdk".equals(System.getProperty("spdyproxy.tls")) && io.netty.handler.ssl.OpenSsl.isAvailable()
                    ? io.netty.handler.ssl.SslProvider.OPENSSL : io.netty.handler.ssl.SslProvider.JDK;

    private TlsContexts() {}

    /** The TLS engine in use, for logs and benchmarks. */
    public static String provider() {
        return PROVIDER.name().toLowerCase(java.util.Locale.ROOT);
    }

    /** A server context; with {@code alpn} ids, the first one the client also offers wins. */
    public static SslContext server(SelfSignedCertificate cert, List<String> alpn) {
        try {
            SslContextBuilder b = SslContextBuilder.forServer(cert.key(), cert.certificate()).sslProvider(PROVIDER);
            return withAlpn(b, alpn).build();
        } catch (SSLException e) {
            throw new IllegalStateException("cannot build a TLS server context", e);
        }
    }

    /**
     * A client context that accepts exactly the certificate whose SHA-256 fingerprint is {@code
     * fingerprint} (as the proxy prints it; colons allowed). The pin replaces CA and host-name
     * checks. A certificate with another fingerprint is refused with a {@link CertificateProblem}.
     *
     * @throws IllegalArgumentException if {@code fingerprint} is not 64 hex digits
     */
    public static SslContext clientPinned(String fingerprint) {
        return clientPinned(fingerprint, List.of());
    }

    /** {@link #clientPinned(String)} offering {@code alpn} protocol ids. */
    public static SslContext clientPinned(String fingerprint, List<String> alpn) {
        X509ExtendedTrustManager pin = new ProxyTrust.Pinned(parseFingerprint(fingerprint));
        try {
            return withAlpn(SslContextBuilder.forClient().sslProvider(PROVIDER).trustManager(pin)
                    .endpointIdentificationAlgorithm(null), alpn).build();
        } catch (SSLException e) {
            throw new IllegalStateException("cannot build a TLS client context", e);
        }
    }

    /**
     * A client context that trusts exactly {@code trusted} (a CA or the server's own certificate)
     * and checks the host name, or anything when it is null (the original's behaviour; for tests
     * and {@code --insecure} only). A refusal is a {@link CertificateProblem}.
     */
    public static SslContext client(X509Certificate trusted, List<String> alpn) {
        try {
            SslContextBuilder b = SslContextBuilder.forClient().sslProvider(PROVIDER);
            if (trusted == null) {
                b.trustManager(InsecureTrustManagerFactory.INSTANCE).endpointIdentificationAlgorithm(null);
            } else {
                KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
                ks.load(null, null);
                ks.setCertificateEntry("trusted", trusted);
                b.trustManager(new ProxyTrust.Explaining(pkix(ks)));
            }
            return withAlpn(b, alpn).build();
        } catch (GeneralSecurityException | IOException e) {
            throw new IllegalStateException("cannot build a TLS client context", e);
        }
    }

    /** A client context that trusts the JDK's default CAs and checks the host name. */
    public static SslContext systemTrust() {
        return systemTrust(List.of());
    }

    /** {@link #systemTrust()} offering {@code alpn} protocol ids. A refusal is a {@link CertificateProblem}. */
    public static SslContext systemTrust(List<String> alpn) {
        try {
            return withAlpn(SslContextBuilder.forClient().sslProvider(PROVIDER)
                    .trustManager(new ProxyTrust.Explaining(pkix(null))), alpn).build();
        } catch (GeneralSecurityException | IOException e) {
            throw new IllegalStateException("cannot build a TLS client context", e);
        }
    }

    /**
     * A SHA-256 fingerprint as 64 lower-case hex digits: accepts the proxy's form and the common
     * {@code AB:CD:...} one.
     *
     * @throws IllegalArgumentException naming the value and the expected form
     */
    public static String parseFingerprint(String fingerprint) {
        String hex = fingerprint == null ? "" : fingerprint.trim().replace(":", "").toLowerCase(Locale.ROOT);
        if (!hex.matches("[0-9a-f]{64}")) {
            throw new IllegalArgumentException("fingerprint: " + fingerprint
                    + " (expected: 64 hex digits, colons allowed, as the proxy prints it)");
        }
        return hex;
    }

    private static X509ExtendedTrustManager pkix(KeyStore trusted) throws GeneralSecurityException {
        TrustManagerFactory f = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        f.init(trusted);
        for (TrustManager tm : f.getTrustManagers()) {
            if (tm instanceof X509ExtendedTrustManager x) {
                return x;
            }
        }
        throw new GeneralSecurityException("no X.509 trust manager in " + f.getAlgorithm());
    }

    private static SslContextBuilder withAlpn(SslContextBuilder b, List<String> alpn) {
        if (!alpn.isEmpty()) {
            b.applicationProtocolConfig(new ApplicationProtocolConfig(Protocol.ALPN,
                    SelectorFailureBehavior.NO_ADVERTISE, SelectedListenerFailureBehavior.ACCEPT, alpn));
        }
        return b;
    }
}
