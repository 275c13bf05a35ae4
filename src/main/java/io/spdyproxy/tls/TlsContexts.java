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

/** Builds Netty TLS contexts for servers and clients, optionally offering ALPN protocol ids. */
public final class TlsContexts {
    private TlsContexts() {}

    /** A server context; with {@code alpn} ids, the first one the client also offers wins. */
    public static SslContext server(SelfSignedCertificate cert, List<String> alpn) {
        try {
            SslContextBuilder b = SslContextBuilder.forServer(cert.key(), cert.certificate());
            if (!alpn.isEmpty()) {
                b.applicationProtocolConfig(new ApplicationProtocolConfig(Protocol.ALPN,
                        SelectorFailureBehavior.NO_ADVERTISE,
                        SelectedListenerFailureBehavior.ACCEPT, alpn));
            }
            return b.build();
        } catch (SSLException e) {
            throw new IllegalStateException("cannot build a TLS server context", e);
        }
    }

    /**
     * A client context that trusts exactly {@code trusted}, or anything when it is null (the
     * original's behaviour; for tests and {@code --insecure} only).
     */
    public static SslContext client(X509Certificate trusted, List<String> alpn) {
        try {
            SslContextBuilder b = SslContextBuilder.forClient();
            if (trusted == null) {
                b.trustManager(InsecureTrustManagerFactory.INSTANCE);
            } else {
                b.trustManager(trusted);
            }
            if (!alpn.isEmpty()) {
                b.applicationProtocolConfig(new ApplicationProtocolConfig(Protocol.ALPN,
                        SelectorFailureBehavior.NO_ADVERTISE,
                        SelectedListenerFailureBehavior.ACCEPT, alpn));
            }
            return b.build();
        } catch (SSLException e) {
            throw new IllegalStateException("cannot build a TLS client context", e);
        }
    }
}
