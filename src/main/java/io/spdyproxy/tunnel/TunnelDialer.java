package io.spdyproxy.tunnel;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.ssl.SslContext;
import io.netty.util.ReferenceCountUtil;
import io.spdyproxy.spdy.SpdyRole;
import io.spdyproxy.spdy.SpdySession;
import io.spdyproxy.spdy.SpdySessionConfig;
import io.spdyproxy.spdy.SpdySessionListener;
import io.spdyproxy.transport.Transport;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * The origin's side of the handshake: dial the proxy over TLS, send {@code PUT} with the
 * credentials, wait for {@code 200}, then serve SPDY (server role) on the same connection.
 */
public final class TunnelDialer {

    /** The proxy refused our credentials (401) or the handshake itself. */
    public static final class HandshakeRefusedException extends Exception {
        private static final long serialVersionUID = 1L;
        private final int status;

        HandshakeRefusedException(int status, String message) {
            super(message, null, false, false);
            this.status = status;
        }

        public int status() {
            return status;
        }
    }

    /**
     * Where and as whom to dial.
     *
     * @param host the proxy's host
     * @param port its tunnel port
     * @param name the tunnel name to serve, or null for the proxy's default
     * @param token the bearer token, or null (legacy handshake when {@code legacyHandshake})
     * @param legacyHandshake send the original's handshake byte for byte (no protocol header)
     */
    public record Target(String host, int port, String name, String token, boolean legacyHandshake) {}

    private TunnelDialer() {}

    public static CompletableFuture<Tunnel> dial(EventLoopGroup group, Target target, SslContext ssl,
            SpdySessionConfig sessionConfig, SpdySessionListener listener, Duration timeout) {
        if (sessionConfig.role() != SpdyRole.SERVER) {
            throw new IllegalArgumentException("sessionConfig.role: CLIENT (expected: SERVER at the origin)");
        }
        CompletableFuture<Tunnel> result = new CompletableFuture<>();
        Bootstrap b = new Bootstrap()
                .group(group)
                .channel(Transport.socketChannel())
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) timeout.toMillis())
                .handler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        Transport.limitUnsent(ch, 256 * 1024);
                        if (ssl != null) {
                            ch.pipeline().addLast("tls", ssl.newHandler(ch.alloc(), target.host(), target.port()));
                        }
                        ch.pipeline().addLast("handshake-decoder", new HandshakeDecoder());
                        ch.pipeline().addLast("handshake", new DialHandler(target, sessionConfig, listener, result));
                    }
                });
        ChannelFuture f = b.connect(target.host(), target.port());
        Channel ch = f.channel();
        f.addListener(done -> {
            if (!done.isSuccess()) {
                result.completeExceptionally(done.cause());
            }
        });
        ch.eventLoop().schedule(() -> {
            if (result.completeExceptionally(new java.util.concurrent.TimeoutException(
                    "tunnel handshake with " + target.host() + ":" + target.port() + " timed out"))) {
                ch.close();
            }
        }, timeout.toNanos(), TimeUnit.NANOSECONDS);
        ch.closeFuture().addListener(x -> result.completeExceptionally(f.isDone() && f.cause() != null
                ? f.cause() // e.g. connection refused: say that, not "closed"
                : new java.io.IOException("connection to the proxy closed during the handshake")));
        return result;
    }

    /** Sends the PUT once connected (after TLS), reads the answer, installs the session. */
    private static final class DialHandler extends ChannelInboundHandlerAdapter {
        private final Target target;
        private final SpdySessionConfig config;
        private final SpdySessionListener listener;
        private final CompletableFuture<Tunnel> result;

        DialHandler(Target target, SpdySessionConfig config, SpdySessionListener listener,
                CompletableFuture<Tunnel> result) {
            this.target = target;
            this.config = config;
            this.listener = listener;
            this.result = result;
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            // Writes before the TLS handshake ends are held by SslHandler, in order.
            StringBuilder req = new StringBuilder("PUT / HTTP/1.1\r\n")
                    .append("Host: ").append(target.host()).append(':').append(target.port()).append("\r\n");
            if (target.legacyHandshake()) {
                req.append("User-Agent: Go-http-client/1.1\r\n");
            } else {
                req.append("User-Agent: spdy-proxy\r\n");
                req.append(TunnelProtocol.PROTOCOL_HEADER).append(": ").append(TunnelProtocol.protocolId()).append("\r\n");
                if (target.name() != null) {
                    req.append(TunnelProtocol.NAME_HEADER).append(": ").append(target.name()).append("\r\n");
                }
                if (target.token() != null) {
                    req.append("Authorization: Bearer ").append(target.token()).append("\r\n");
                }
            }
            req.append("Content-Length: ").append(TunnelProtocol.ORIGIN_HELLO.length()).append("\r\n\r\n")
                    .append(TunnelProtocol.ORIGIN_HELLO);
            ctx.writeAndFlush(Unpooled.copiedBuffer(req, StandardCharsets.ISO_8859_1));
            ctx.fireChannelActive();
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (!(msg instanceof HandshakeMessage m)) {
                ReferenceCountUtil.release(msg);
                return;
            }
            String[] start = m.startLine().split(" ", 3);
            int status = start.length >= 2 && start[1].matches("\\d{3}") ? Integer.parseInt(start[1]) : 0;
            if (status != 200) {
                result.completeExceptionally(new HandshakeRefusedException(status,
                        "proxy refused the tunnel: " + m.startLine() + (m.body().isBlank() ? "" : " (" + m.body().trim() + ")")));
                ctx.close();
                return;
            }
            boolean legacy = !m.headers().contains(TunnelProtocol.PROTOCOL_HEADER);
            String name = m.headers().get(TunnelProtocol.NAME_HEADER, target.name() == null
                    ? TunnelProtocol.DEFAULT_NAME : target.name());
            Channel ch = ctx.channel();
            SpdySession session = SpdySession.install(ch, config.toBuilder().legacyPeer(legacy).build(), listener);
            ch.pipeline().remove(this);
            ch.pipeline().remove("handshake-decoder");
            result.complete(new Tunnel(name, session, legacy, ch.remoteAddress()));
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            result.completeExceptionally(cause);
            ctx.close();
        }
    }
}
