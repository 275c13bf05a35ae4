package io.spdyproxy.tls;

import java.net.Socket;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.cert.CertificateException;
import java.security.cert.CertificateExpiredException;
import java.security.cert.CertificateNotYetValidException;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * The trust managers of the origin's TLS contexts. Both refuse a certificate with a {@link
 * CertificateProblem} that names what the proxy presented and what to change (the flags the
 * origin command takes), instead of the TLS engine's bare "certificate_unknown".
 *
 * <p>Stateless apart from their configuration, so safe on any thread.
 */
final class ProxyTrust {
    private ProxyTrust() {}

    /** Accepts exactly the certificate with one SHA-256 fingerprint; replaces CA and name checks. */
    static final class Pinned extends ServerOnly {
        private final String want;

        Pinned(String normalizedFingerprint) {
            this.want = normalizedFingerprint;
        }

        @Override
        void check(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
            String got = SelfSignedCertificate.fingerprint(leaf(chain));
            if (!MessageDigest.isEqual(got.getBytes(java.nio.charset.StandardCharsets.US_ASCII),
                    want.getBytes(java.nio.charset.StandardCharsets.US_ASCII))) {
                throw new CertificateProblem("the proxy presented a certificate with fingerprint " + got
                        + " but --fingerprint expects " + want + "; if the proxy's certificate changed on purpose"
                        + " (compare with the fingerprint it printed at start), use --fingerprint " + got, got, null);
            }
        }
    }

    /**
     * Delegates to a PKIX trust manager (the JDK's CAs, or a given CA) and explains its refusals:
     * a self-signed certificate, a host name that is not in the certificate, an expired one.
     */
    static final class Explaining extends ServerOnly {
        private final X509ExtendedTrustManager pkix;

        Explaining(X509ExtendedTrustManager pkix) {
            this.pkix = pkix;
        }

        @Override
        void check(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
            try {
                if (engine != null) {
                    pkix.checkServerTrusted(chain, authType, engine); // with the host name check
                } else {
                    pkix.checkServerTrusted(chain, authType);
                }
            } catch (CertificateException e) {
                throw explain(chain, authType, engine == null ? null : engine.getPeerHost(), e);
            }
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return pkix.getAcceptedIssuers();
        }

        private CertificateException explain(X509Certificate[] chain, String authType, String host,
                CertificateException e) {
            if (chain == null || chain.length == 0) {
                return e;
            }
            X509Certificate leaf = chain[0];
            String fp = SelfSignedCertificate.fingerprint(leaf);
            String fix = "; to trust this certificate anyway, pass --fingerprint " + fp
                    + " (compare with the fingerprint the proxy printed at start) or --ca FILE";
            try {
                leaf.checkValidity();
            } catch (CertificateExpiredException | CertificateNotYetValidException v) {
                return new CertificateProblem("the proxy's certificate (fingerprint " + fp + ") is valid only from "
                        + leaf.getNotBefore().toInstant() + " to " + leaf.getNotAfter().toInstant()
                        + ": renew it on the proxy, or check this machine's clock", fp, e);
            }
            boolean trustedWithoutName;
            try {
                pkix.checkServerTrusted(chain, authType); // the chain alone, no host name check
                trustedWithoutName = true;
            } catch (CertificateException ignored) {
                trustedWithoutName = false;
            }
            if (trustedWithoutName && host != null) {
                return new CertificateProblem(host + " is not a name in the proxy's certificate (names: "
                        + String.join(", ", names(leaf)) + "): connect to one of those names with --proxy NAME:PORT"
                        + fix, fp, e);
            }
            if (selfSigned(leaf)) {
                return new CertificateProblem("the proxy's certificate is self-signed and not trusted: pass"
                        + " --fingerprint " + fp + " (compare with the fingerprint the proxy printed at start)"
                        + " or --ca FILE with the proxy's certificate", fp, e);
            }
            return new CertificateProblem("the proxy's certificate (issued to " + leaf.getSubjectX500Principal()
                    + " by " + leaf.getIssuerX500Principal() + ") is not trusted: " + e.getMessage() + fix, fp, e);
        }
    }

    /** A client-side trust manager: every server check funnels into {@code check}. */
    private abstract static class ServerOnly extends X509ExtendedTrustManager {
        /** {@code engine} is null when the TLS stack gives none (never with Netty's engines). */
        abstract void check(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException;

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
                throws CertificateException {
            check(chain, authType, engine);
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket)
                throws CertificateException {
            check(chain, authType, null);
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            check(chain, authType, null);
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
                throws CertificateException {
            throw new CertificateException("client certificates are not used");
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket)
                throws CertificateException {
            throw new CertificateException("client certificates are not used");
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            throw new CertificateException("client certificates are not used");
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return new X509Certificate[0];
        }
    }

    static X509Certificate leaf(X509Certificate[] chain) throws CertificateException {
        if (chain == null || chain.length == 0) {
            throw new CertificateException("the proxy presented no certificate");
        }
        return chain[0];
    }

    /** Its DNS names and IP addresses (RFC 5280 section 4.2.1.6), or its subject when it has none. */
    static List<String> names(X509Certificate cert) {
        List<String> out = new ArrayList<>();
        try {
            Collection<List<?>> sans = cert.getSubjectAlternativeNames();
            if (sans != null) {
                for (List<?> san : sans) {
                    int type = (Integer) san.get(0);
                    if (type == 2 || type == 7) { // dNSName, iPAddress
                        out.add(String.valueOf(san.get(1)).toLowerCase(Locale.ROOT));
                    }
                }
            }
        } catch (CertificateParsingException e) {
            // fall back to the subject below
        }
        if (out.isEmpty()) {
            out.add(cert.getSubjectX500Principal().getName());
        }
        return out;
    }

    static boolean selfSigned(X509Certificate cert) {
        if (!cert.getSubjectX500Principal().equals(cert.getIssuerX500Principal())) {
            return false;
        }
        try {
            cert.verify(cert.getPublicKey());
            return true;
        } catch (GeneralSecurityException e) {
            return false;
        }
    }
}
