package io.spdyproxy.origin.upstream;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import io.spdyproxy.origin.upstream.UpstreamConfig.UpstreamProtocol;
import io.spdyproxy.transport.Transport;
import java.io.IOException;

/**
 * Opens one connection to the app: TCP, and for {@code https://} the TLS handshake with its
 * certificate check. The connection is handed over with auto-read off and no HTTP codec yet: the
 * caller installs the codec of the protocol the app speaks on it ({@link #speaksH2}).
 *
 * <p>Stateless apart from its configuration; a dial's callbacks run on the loop it was given.
 */
final class UpstreamDialer {
    static final String TLS = "tls";
    private static final String DIALING = "dialing";

    private final UpstreamConfig config;
    private final UpstreamTls tls;

    UpstreamDialer(UpstreamConfig config) {
        this.config = config;
        this.tls = config.protocol() == UpstreamProtocol.HTTPS ? new UpstreamTls(config) : null;
    }

    /**
     * A connected (and for https, handshaken) channel on {@code loop}. {@code offerH2} offers
     * {@code h2} beside {@code http/1.1} by ALPN; without it the app can only pick HTTP/1.1.
     * A refused certificate fails the future with an {@link UpstreamTlsException} that names the fix.
     */
    Future<Channel> dial(EventLoop loop, boolean offerH2) {
        Promise<Channel> promise = loop.newPromise();
        Bootstrap b = new Bootstrap()
                .group(loop)
                .channel(Transport.socketChannel())
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.AUTO_READ, false)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) config.connectTimeout().toMillis())
                .handler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        if (tls != null) {
                            ch.pipeline().addLast(TLS, tls.newHandler(ch.alloc(), offerH2));
                        }
                        ch.pipeline().addLast(DIALING, new Dialing());
                    }
                });
        ChannelFuture connect = b.connect(config.url().getHost(), config.port());
        connect.addListener((ChannelFuture f) -> {
            if (!f.isSuccess()) {
                promise.tryFailure(f.cause());
                return;
            }
            SslHandler ssl = f.channel().pipeline().get(SslHandler.class);
            if (ssl == null) {
                handOver(f.channel(), promise);
                return;
            }
            ssl.handshakeFuture().addListener(h -> {
                if (h.isSuccess()) {
                    handOver(f.channel(), promise);
                    return;
                }
                f.channel().close();
                String explained = tls.explain(h.cause());
                promise.tryFailure(explained != null ? new UpstreamTlsException(explained, h.cause()) : h.cause());
            });
        });
        return promise;
    }

    private static void handOver(Channel ch, Promise<Channel> promise) {
        if (ch.pipeline().get(DIALING) != null) {
            ch.pipeline().remove(DIALING);
        }
        if (!promise.trySuccess(ch)) {
            ch.close();
        }
    }

    /**
     * Ends the pipeline while the connection is being set up: a failed handshake is reported
     * through the dial's future (explained), not logged again as an unhandled exception.
     */
    private static final class Dialing extends ChannelInboundHandlerAdapter {
        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }

    /** True when the connection speaks HTTP/2: h2c by configuration, or {@code h2} chosen by ALPN. */
    boolean speaksH2(Channel ch) {
        SslHandler ssl = ch.pipeline().get(SslHandler.class);
        if (ssl == null) {
            return config.protocol() == UpstreamProtocol.H2C;
        }
        return ApplicationProtocolNames.HTTP_2.equals(ssl.applicationProtocol());
    }

    /** The app's certificate was refused; the message says which flag fixes it. */
    static final class UpstreamTlsException extends IOException {
        private static final long serialVersionUID = 1L;

        UpstreamTlsException(String message, Throwable cause) {
            super(message, cause);
        }
    }
}
