package io.spdyproxy.tunnel;

import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.handler.ssl.SslContext;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import io.spdyproxy.spdy.SpdyRole;
import io.spdyproxy.spdy.SpdySession;
import io.spdyproxy.spdy.SpdySessionConfig;
import io.spdyproxy.spdy.SpdySessionListener;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The proxy's side of the handshake, as a channel initializer for the tunnel listener: TLS, one
 * {@code PUT}, the authenticator's decision, {@code 200} (or {@code 401} and close), then a SPDY
 * session in the client role on the same connection.
 *
 * <p>Threading: handlers run on the accepted channel's event loop.
 */
public final class TunnelAcceptor extends ChannelInitializer<Channel> {
    private static final Logger log = LoggerFactory.getLogger(TunnelAcceptor.class);

    private final SslContext ssl;
    private final SpdySessionConfig sessionConfig;
    private final TunnelAuthenticator authenticator;
    private final Consumer<Tunnel> onTunnel;
    private final Duration handshakeTimeout;

    /**
     * @param sessionConfig client-role session settings; legacy mode is switched on per peer
     * @param onTunnel called on the tunnel's event loop once its session is installed
     */
    public TunnelAcceptor(SslContext ssl, SpdySessionConfig sessionConfig, TunnelAuthenticator authenticator,
            Consumer<Tunnel> onTunnel, Duration handshakeTimeout) {
        if (sessionConfig.role() != SpdyRole.CLIENT) {
            throw new IllegalArgumentException("sessionConfig.role: SERVER (expected: CLIENT at the proxy)");
        }
        this.ssl = ssl;
        this.sessionConfig = sessionConfig;
        this.authenticator = authenticator;
        this.onTunnel = onTunnel;
        this.handshakeTimeout = handshakeTimeout;
    }

    @Override
    protected void initChannel(Channel ch) {
        io.spdyproxy.transport.Transport.limitUnsent(ch, 256 * 1024);
        if (ssl != null) {
            ch.pipeline().addLast("tls", ssl.newHandler(ch.alloc()));
        }
        ch.pipeline().addLast("handshake-decoder", new HandshakeDecoder());
        ch.pipeline().addLast("handshake", new AcceptHandler());
    }

    /** Answers the origin's PUT, then hands the connection to SPDY. */
    private final class AcceptHandler extends ChannelInboundHandlerAdapter {
        private ScheduledFuture<?> timeout;

        @Override
        public void handlerAdded(ChannelHandlerContext ctx) {
            timeout = ctx.executor().schedule(() -> {
                log.info("tunnel handshake from {} timed out", ctx.channel().remoteAddress());
                ctx.close();
            }, handshakeTimeout.toNanos(), TimeUnit.NANOSECONDS);
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (!(msg instanceof HandshakeMessage m)) {
                ReferenceCountUtil.release(msg);
                return;
            }
            timeout.cancel(false);
            String[] start = m.startLine().split(" ");
            if (start.length < 3 || !start[0].equals("PUT") || !start[2].startsWith("HTTP/1.")) {
                refuse(ctx, 405, "Method Not Allowed", "tunnel handshake must be PUT");
                return;
            }
            boolean legacy = !m.headers().contains(TunnelProtocol.PROTOCOL_HEADER);
            String auth = m.headers().get("Authorization");
            String token = null;
            if (auth != null && auth.regionMatches(true, 0, "Bearer ", 0, 7)) {
                token = auth.substring(7).trim();
            }
            TunnelAuthenticator.Decision d = authenticator.authenticate(
                    m.headers().get(TunnelProtocol.NAME_HEADER), token, legacy);
            if (!d.accepted()) {
                log.warn("tunnel from {} refused: {}", ctx.channel().remoteAddress(), d.reason());
                refuse(ctx, 401, "Unauthorized", d.reason());
                return;
            }
            StringBuilder reply = new StringBuilder("HTTP/1.1 200 Connection Established\r\n");
            if (!legacy) {
                reply.append(TunnelProtocol.PROTOCOL_HEADER).append(": ")
                        .append(TunnelProtocol.protocolId()).append("\r\n");
                reply.append(TunnelProtocol.NAME_HEADER).append(": ").append(d.name()).append("\r\n");
            }
            reply.append("Content-Length: ").append(TunnelProtocol.PROXY_HELLO.length()).append("\r\n\r\n")
                    .append(TunnelProtocol.PROXY_HELLO);
            Channel ch = ctx.channel();
            ctx.writeAndFlush(Unpooled.copiedBuffer(reply, StandardCharsets.ISO_8859_1));
            SpdySessionConfig config = sessionConfig.toBuilder().legacyPeer(legacy).build();
            SpdySession session = SpdySession.install(ch, config, SpdySessionListener.refusingStreams());
            ch.pipeline().remove(this);
            ch.pipeline().remove("handshake-decoder"); // any SPDY bytes already read go to the codec
            log.info("tunnel '{}' up from {}{}", d.name(), ch.remoteAddress(), legacy ? " (legacy peer)" : "");
            onTunnel.accept(new Tunnel(d.name(), session, legacy, ch.remoteAddress()));
        }

        private void refuse(ChannelHandlerContext ctx, int code, String reason, String message) {
            String body = message + "\n";
            String response = "HTTP/1.1 " + code + " " + reason + "\r\nContent-Type: text/plain\r\n"
                    + "Connection: close\r\nContent-Length: " + body.getBytes(StandardCharsets.UTF_8).length
                    + "\r\n\r\n" + body;
            ctx.writeAndFlush(Unpooled.copiedBuffer(response, StandardCharsets.UTF_8))
                    .addListener(ChannelFutureListener.CLOSE);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            log.info("tunnel handshake from {} failed: {}", ctx.channel().remoteAddress(),
                    cause.toString().toLowerCase(Locale.ROOT).contains("ssl") ? "TLS: " + cause.getMessage() : cause);
            ctx.close();
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            if (timeout != null) {
                timeout.cancel(false);
            }
            ctx.fireChannelInactive();
        }
    }
}
