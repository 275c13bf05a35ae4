package io.spdyproxy.tls;

import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ApplicationProtocolConfig.Protocol;
import io.netty.handler.ssl.ApplicationProtocolConfig.SelectedListenerFailureBehavior;
import io.netty.handler.ssl.ApplicationProtocolConfig.SelectorFailureBehavior;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import java.security.cert.X509Certificate;
import java.util.List;
import javax.net.ssl.SSLException;

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
     * sha256Hex} (as the proxy prints it). The pin replaces CA and host-name checks.
     */
    public static SslContext clientPinned(String sha256Hex) {
        String want = sha256Hex.replace(":", "").trim().toLowerCase(java.util.Locale.ROOT);
        javax.net.ssl.X509TrustManager pin = new javax.net.ssl.X509TrustManager() {
            @Override
            public void checkClientTrusted(X509Certificate[] chain, String authType)
                    throws java.security.cert.CertificateException {
                throw new java.security.cert.CertificateException("client certificates are not used");
            }

            @Override
            public void checkServerTrusted(X509Certificate[] chain, String authType)
                    throws java.security.cert.CertificateException {
                if (chain == null || chain.length == 0) {
                    throw new java.security.cert.CertificateException("no certificate");
                }
                String got = SelfSignedCertificate.fingerprint(chain[0]);
                if (!java.security.MessageDigest.isEqual(got.getBytes(java.nio.charset.StandardCharsets.US_ASCII),
                        want.getBytes(java.nio.charset.StandardCharsets.US_ASCII))) {
                    throw new java.security.cert.CertificateException(
                            "certificate fingerprint " + got + " does not match the pinned " + want);
                }
            }

            @Override
            public X509Certificate[] getAcceptedIssuers() {
                return new X509Certificate[0];
            }
        };
        try {
            return SslContextBuilder.forClient().sslProvider(PROVIDER).trustManager(pin).endpointIdentificationAlgorithm(null).build();
        } catch (SSLException e) {
            throw new IllegalStateException("cannot build a TLS client context", e);
        }
    }

    /**
     * A client context that trusts exactly {@code trusted}, or anything when it is null (the
     * original's behaviour; for tests and {@code --insecure} only).
     */
    public static SslContext client(X509Certificate trusted, List<String> alpn) {
        try {
            SslContextBuilder b = SslContextBuilder.forClient().sslProvider(PROVIDER);
            if (trusted == null) {
                b.trustManager(InsecureTrustManagerFactory.INSTANCE).endpointIdentificationAlgorithm(null);
            } else {
                b.trustManager(trusted);
            }
            return withAlpn(b, alpn).build();
        } catch (SSLException e) {
            throw new IllegalStateException("cannot build a TLS client context", e);
        }
    }

    /** A client context that trusts the JDK's default CAs and checks the host name. */
    public static SslContext systemTrust() {
        try {
            return SslContextBuilder.forClient().sslProvider(PROVIDER).build();
        } catch (SSLException e) {
            throw new IllegalStateException("cannot build a TLS client context", e);
        }
    }

    private static SslContextBuilder withAlpn(SslContextBuilder b, List<String> alpn) {
        if (!alpn.isEmpty()) {
            b.applicationProtocolConfig(new ApplicationProtocolConfig(Protocol.ALPN,
                    SelectorFailureBehavior.NO_ADVERTISE, SelectedListenerFailureBehavior.ACCEPT, alpn));
        }
        return b;
    }
}
