package io.spdyproxy.tunnel.handshake;

import io.spdyproxy.tunnel.Tunnel;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.ReferenceCountUtil;
import io.spdyproxy.tunnel.RequestHandler;
import io.spdyproxy.tunnel.TunnelSession;
import io.spdyproxy.tunnel.h2.H2TunnelSession;
import io.spdyproxy.tunnel.spdy.SpdyTunnelSession;
import io.spdyproxy.spdy.SpdySessionConfig;
import io.spdyproxy.tls.CertificateProblem;
import io.spdyproxy.tunnel.handshake.TunnelDialer.ConfigurationException;
import io.spdyproxy.tunnel.handshake.TunnelDialer.HandshakeRefusedException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sends the origin's {@code PUT} once connected (after TLS), reads the answer and installs the
 * session; tells a refusal, a wrong port and a certificate problem apart.
 *
 * <p>Threading: confined to the dialled channel's event loop.
 */
final class DialHandler extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(TunnelDialer.class);
    private static final String TUNNEL_PORT_HINT = "point --proxy at the proxy's tunnel port"
            + " (its --tunnel-port, 1444 by default; the proxy prints it at start)";

    private final TunnelDialer.Target target;
    private final SpdySessionConfig config;
    private final RequestHandler handler;
    private final CompletableFuture<Tunnel> result;

    DialHandler(TunnelDialer.Target target, SpdySessionConfig config, RequestHandler handler,
            CompletableFuture<Tunnel> result) {
        this.target = target;
        this.config = config;
        this.handler = handler;
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
            req.append(TunnelProtocol.PROTOCOL_HEADER).append(": ").append(TunnelProtocol.offer(target.protocol()))
                    .append("\r\n");
            req.append(TunnelProtocol.FEATURES_HEADER).append(": ").append(TunnelProtocol.UPGRADE_FEATURE)
                    .append("\r\n");
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
        // Every tunnel port, the original's included, answers 200 with the proxy's hello (PROTOCOL.md).
        if (status == 200 && TunnelProtocol.PROXY_HELLO.equals(m.body())) {
            established(ctx, m);
            return;
        }
        SslHandler tls = ctx.pipeline().get(SslHandler.class);
        String alpn = tls == null ? null : tls.applicationProtocol();
        String answer = m.startLine() + (m.body().isBlank() ? "" : " (" + abbreviate(m.body().trim()) + ")");
        if (status == 401) {
            result.completeExceptionally(new HandshakeRefusedException(status, "proxy refused the tunnel: " + answer));
        } else if (status == 200 || "http/1.1".equals(alpn)) {
            // A 200 without the hello is no tunnel. Our tunnel port selects no ALPN protocol and
            // the original's always answers 200, so an http/1.1 server that refuses is a web
            // server: most likely the proxy's own HTTPS front end (its --https-port).
            result.completeExceptionally(new ConfigurationException(address() + " is not a tunnel port: it answered"
                    + " the tunnel handshake as a web server would (" + answer + "); is it the proxy's"
                    + (tls == null ? " client port" : " HTTPS port (--https-port)") + "? " + TUNNEL_PORT_HINT, null));
        } else {
            result.completeExceptionally(new HandshakeRefusedException(status, "proxy refused the tunnel: " + answer));
        }
        ctx.close();
    }

    private void established(ChannelHandlerContext ctx, HandshakeMessage m) {
        boolean legacy = !m.headers().contains(TunnelProtocol.PROTOCOL_HEADER);
        String name = m.headers().get(TunnelProtocol.NAME_HEADER, target.name() == null
                ? TunnelProtocol.DEFAULT_NAME : target.name());
        Channel ch = ctx.channel();
        boolean upgrades = !legacy && TunnelProtocol.hasFeature(m.headers(), TunnelProtocol.UPGRADE_FEATURE);
        List<TunnelProtocol.Kind> chosen = TunnelProtocol.offered(m.headers());
        TunnelProtocol.Kind protocol = legacy || chosen.isEmpty() ? TunnelProtocol.Kind.SPDY : chosen.get(0);
        if (protocol == TunnelProtocol.Kind.H2 && target.protocol() != TunnelProtocol.Kind.H2) {
            result.completeExceptionally(new HandshakeRefusedException(200, "proxy chose the tunnel protocol "
                    + protocol.id() + ", which this origin did not offer (it offered "
                    + TunnelProtocol.offer(target.protocol()) + ")"));
            ctx.close();
            return;
        }
        if (target.protocol() == TunnelProtocol.Kind.H2 && protocol != TunnelProtocol.Kind.H2) {
            log.info("proxy {} does not speak HTTP/2 tunnels (it answered {}): falling back to SPDY/3.1", address(),
                    legacy ? "as the original proxy" : TunnelProtocol.PROTOCOL_HEADER + ": "
                    + m.headers().get(TunnelProtocol.PROTOCOL_HEADER));
        }
        // Installed before the handshake handlers go: bytes already read after the 200 (the
        // proxy's SPDY frames or HTTP/2 preface) reach the codec when the decoder is removed.
        TunnelSession session = protocol == TunnelProtocol.Kind.H2
                ? H2TunnelSession.install(ch, true, SessionConfigs.h2(config), handler, upgrades)
                : SpdyTunnelSession.install(ch, config.toBuilder().legacyPeer(legacy).build(), handler, upgrades);
        ch.pipeline().remove(this);
        ch.pipeline().remove("handshake-decoder");
        result.complete(new Tunnel(name, session, legacy, ch.remoteAddress()));
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        result.completeExceptionally(explainTlsFailure(target, cause));
        ctx.close();
    }

    private String address() {
        return target.host() + ":" + target.port();
    }

    private static String abbreviate(String s) {
        String oneLine = s.replaceAll("\\s+", " ");
        return oneLine.length() <= 200 ? oneLine : oneLine.substring(0, 200) + "...";
    }

    /**
     * A TLS handshake failure as the user should read it: a refused certificate says which one
     * and what to change; anything else is returned as it is (a network problem, retried).
     */
    static Throwable explainTlsFailure(TunnelDialer.Target target, Throwable cause) {
        for (Throwable t = cause; t != null; t = t.getCause()) {
            if (t instanceof CertificateProblem p) {
                return new ConfigurationException("TLS with " + target.host() + ":" + target.port() + ": "
                        + p.getMessage(), cause);
            }
            if (t.getCause() == t) {
                break;
            }
        }
        return cause;
    }

    /**
     * Looks at the first bytes the server sends, before TLS does: a web server's plain HTTP port
     * answers a TLS ClientHello with an HTTP error, which TLS would only call "not an SSL/TLS
     * record". Removes itself after the first read.
     */
    static final class PlainHttpSniffer extends ChannelInboundHandlerAdapter {
        private static final byte[] HTTP = "HTTP/".getBytes(StandardCharsets.US_ASCII);
        private final TunnelDialer.Target target;
        private final CompletableFuture<Tunnel> result;

        PlainHttpSniffer(TunnelDialer.Target target, CompletableFuture<Tunnel> result) {
            this.target = target;
            this.result = result;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof ByteBuf b && startsWithHttp(b)) {
                result.completeExceptionally(new ConfigurationException(target.host() + ":" + target.port()
                        + " answered in plain HTTP, not TLS: it is a web server's HTTP port (the proxy's client"
                        + " port, --port?), not a tunnel port; " + TUNNEL_PORT_HINT, null));
            }
            ctx.pipeline().remove(this);
            ctx.fireChannelRead(msg);
        }

        private static boolean startsWithHttp(ByteBuf b) {
            int n = Math.min(b.readableBytes(), HTTP.length);
            if (n == 0) {
                return false;
            }
            for (int i = 0; i < n; i++) {
                if (b.getByte(b.readerIndex() + i) != HTTP[i]) {
                    return false;
                }
            }
            return true;
        }
    }
}
