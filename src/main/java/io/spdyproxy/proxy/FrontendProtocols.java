package io.spdyproxy.proxy;

import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.ApplicationProtocolNegotiationHandler;

/**
 * On the HTTPS port, picks the pipeline by what TLS negotiated (ALPN, RFC 7301): {@code h2} gets
 * {@link Http2Frontend}'s; {@code http/1.1}, or a client that offered nothing, today's HTTP/1.1
 * front end. Reads the handshake (auto-read is off) until the choice is made.
 *
 * <p>Threading: confined to the channel's event loop.
 */
final class FrontendProtocols extends ApplicationProtocolNegotiationHandler {
    private final ProxyContext px;
    private final Runnable http1;

    /** {@code http1} adds the HTTP/1.1 handlers at the end of the pipeline. */
    FrontendProtocols(ProxyContext px, Runnable http1) {
        super(ApplicationProtocolNames.HTTP_1_1);
        this.px = px;
        this.http1 = http1;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) throws Exception {
        ctx.read(); // the ClientHello; the TLS handler reads on until the handshake is done
        super.channelActive(ctx);
    }

    @Override
    protected void configurePipeline(ChannelHandlerContext ctx, String protocol) {
        if (ApplicationProtocolNames.HTTP_2.equals(protocol)) {
            ctx.pipeline().remove("timeouts");
            Http2Frontend.install(ctx.pipeline(), px, "https", false);
            return;
        }
        http1.run();
        // The HTTP/1.1 front end starts (counts the connection, reads its first request) on
        // channelActive, which went by before it was there.
        ctx.fireChannelActive();
    }
}
