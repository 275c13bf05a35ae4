package io.spdyproxy.origin.upstream;

import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ApplicationProtocolConfig.Protocol;
import io.netty.handler.ssl.ApplicationProtocolConfig.SelectedListenerFailureBehavior;
import io.netty.handler.ssl.ApplicationProtocolConfig.SelectorFailureBehavior;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslProvider;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import io.spdyproxy.tls.TlsContexts;
import java.security.cert.CertificateException;
import java.util.Locale;
import javax.net.ssl.SSLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * TLS towards an {@code https://} app (the engine {@link TlsContexts} uses): the JDK's trust store by default, {@code --upstream-ca}'s
 * certificate instead, or (with {@code --upstream-insecure}) no verification at all. The host name
 * of the URL is the SNI name and is checked against the certificate (RFC 9110 section 4.3.4).
 * Two contexts: one offering {@code h2} and {@code http/1.1} by ALPN (the app picks), one offering
 * only {@code http/1.1} for connections that must stay HTTP/1.1 (upgrade requests).
 *
 * <p>Immutable after construction; safe on any thread.
 */
final class UpstreamTls {
    private static final Logger log = LoggerFactory.getLogger(UpstreamTls.class);

    private final UpstreamConfig config;
    private final SslContext h2OrHttp1;
    private final SslContext http1Only;

    UpstreamTls(UpstreamConfig config) {
        this.config = config;
        if (config.insecure()) {
            log.warn("--upstream-insecure: the certificate of {} is NOT verified; anyone on the path to it"
                    + " can read and change the traffic", config.url());
        }
        this.h2OrHttp1 = context(config, ApplicationProtocolNames.HTTP_2, ApplicationProtocolNames.HTTP_1_1);
        this.http1Only = context(config, ApplicationProtocolNames.HTTP_1_1);
    }

    private static SslContext context(UpstreamConfig config, String... alpn) {
        SslContextBuilder b = SslContextBuilder.forClient()
                .sslProvider("jdk".equals(TlsContexts.provider()) ? SslProvider.JDK : SslProvider.OPENSSL)
                .applicationProtocolConfig(new ApplicationProtocolConfig(Protocol.ALPN,
                        SelectorFailureBehavior.NO_ADVERTISE, SelectedListenerFailureBehavior.ACCEPT, alpn));
        if (config.insecure()) {
            b.trustManager(InsecureTrustManagerFactory.INSTANCE).endpointIdentificationAlgorithm(null);
        } else {
            if (config.trustedCa() != null) {
                b.trustManager(config.trustedCa());
            }
            b.endpointIdentificationAlgorithm("HTTPS");
        }
        try {
            return b.build();
        } catch (SSLException e) {
            throw new IllegalStateException("cannot build the TLS context for " + config.url(), e);
        }
    }

    /** A client handler for a new connection, SNI and name check for the URL's host. */
    SslHandler newHandler(ByteBufAllocator alloc, boolean offerH2) {
        SslHandler h = (offerH2 ? h2OrHttp1 : http1Only).newHandler(alloc, config.url().getHost(), config.port());
        h.setHandshakeTimeoutMillis(Math.max(1, config.connectTimeout().toMillis()));
        return h;
    }

    /**
     * Says what a failed handshake means and which flag fixes it, when the app's certificate was
     * refused; null for other failures (a refused connection, a reset), which read as they are.
     */
    String explain(Throwable handshakeFailure) {
        if (!certificateRefused(handshakeFailure)) {
            return null;
        }
        String ca = config.trustedCa() != null ? "the certificate given by --upstream-ca" : "the JDK's trust store";
        return "the certificate of the upstream app " + config.url() + " is not trusted by " + ca
                + " or does not name " + config.url().getHost() + " (" + rootMessage(handshakeFailure)
                + "): pass --upstream-ca FILE with the PEM certificate of the app's CA (or its own),"
                + " or --upstream-insecure to skip verification (tests only)";
    }

    private static boolean certificateRefused(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof CertificateException) {
                return true;
            }
            String m = c.getMessage() == null ? "" : c.getMessage().toLowerCase(Locale.ROOT);
            if (m.contains("certificate") || m.contains("pkix") || m.contains("subject alternative")) {
                return true;
            }
        }
        return false;
    }

    private static String rootMessage(Throwable t) {
        Throwable c = t;
        while (c.getCause() != null && c.getCause() != c) {
            c = c.getCause();
        }
        return c.getMessage() != null ? c.getMessage() : c.toString();
    }
}
