package io.spdyproxy.tunnel.handshake;

import io.spdyproxy.tunnel.Tunnel;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.spdyproxy.spdy.SpdyRole;
import io.spdyproxy.spdy.SpdySessionConfig;
import io.spdyproxy.tunnel.RequestHandler;
import io.spdyproxy.transport.Transport;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * The origin's side of the handshake: dial the proxy over TLS, send {@code PUT} with the
 * credentials and the protocols it speaks, wait for {@code 200}, then serve the protocol the proxy
 * chose (SPDY or HTTP/2, server role) on the same connection. A dial
 * that cannot work (a certificate that is not the expected one, an address that is not a tunnel
 * port) fails with a {@link ConfigurationException} that says so, a refusal with a {@link
 * HandshakeRefusedException}.
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
     * The dial cannot succeed until a setting changes: the proxy's certificate is not the one
     * expected, or the address is not a tunnel port. The message says what to change; retrying
     * will not help.
     */
    public static final class ConfigurationException extends Exception {
        private static final long serialVersionUID = 1L;

        ConfigurationException(String message, Throwable cause) {
            super(message, cause, false, false);
        }
    }

    /**
     * The ALPN ids an origin's TLS context should offer. The handshake is an HTTP/1.1 request, so
     * {@code http/1.1} is the honest offer, and every tunnel listener accepts it: ours selects no
     * protocol at all, the original's (Go's {@code http.ListenAndServeTLS}) selects {@code
     * http/1.1}. A server that selects it and then does not answer as a tunnel is a web server,
     * such as the proxy's HTTPS front end, which tells a wrong port apart from a refusal.
     */
    public static final List<String> ALPN = List.of("http/1.1");

    /**
     * Where and as whom to dial.
     *
     * @param host the proxy's host
     * @param port its tunnel port
     * @param name the tunnel name to serve, or null for the proxy's default
     * @param token the bearer token, or null (legacy handshake when {@code legacyHandshake})
     * @param legacyHandshake send the original's handshake byte for byte (no protocol header)
     * @param protocol the tunnel protocol to ask for: {@code H2} offers h2 with SPDY as the
     *     fallback (a proxy without HTTP/2 tunnels answers SPDY, and the tunnel runs SPDY)
     */
    public record Target(String host, int port, String name, String token, boolean legacyHandshake,
            TunnelProtocol.Kind protocol) {

        public Target {
            java.util.Objects.requireNonNull(protocol, "protocol");
        }

        /** A target asking for SPDY/3.1, the tunnel protocol every proxy speaks. */
        public Target(String host, int port, String name, String token, boolean legacyHandshake) {
            this(host, port, name, token, legacyHandshake, TunnelProtocol.Kind.SPDY);
        }
    }

    private TunnelDialer() {}

    public static CompletableFuture<Tunnel> dial(EventLoopGroup group, Target target, SslContext ssl,
            Duration pingInterval, RequestHandler handler, Duration timeout) {
        return dial(group, target, ssl, SpdySessionConfig.builder(SpdyRole.SERVER).pingInterval(pingInterval).build(),
                handler, timeout);
    }

    /** As above, with the SPDY session's settings given in full (tests, the benchmark). */
    public static CompletableFuture<Tunnel> dial(EventLoopGroup group, Target target, SslContext ssl,
            SpdySessionConfig sessionConfig, RequestHandler handler, Duration timeout) {
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
                        ch.pipeline().addLast("handshake", new DialHandler(target, sessionConfig, handler, result));
                        if (ssl != null) {
                            ch.pipeline().addFirst("sniff", new DialHandler.PlainHttpSniffer(target, result));
                            SslHandler tls = ch.pipeline().get(SslHandler.class);
                            tls.handshakeFuture().addListener(hs -> {
                                if (!hs.isSuccess()) {
                                    result.completeExceptionally(DialHandler.explainTlsFailure(target, hs.cause()));
                                }
                            });
                        }
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
                    "tunnel handshake with " + target.host() + ":" + target.port() + " timed out"
                    + (ssl != null && f.isSuccess() && !tlsDone(ch) ? " in TLS (is it the proxy's tunnel port?)" : "")))) {
                ch.close();
            }
        }, timeout.toNanos(), TimeUnit.NANOSECONDS);
        ch.closeFuture().addListener(x -> result.completeExceptionally(f.isDone() && f.cause() != null
                ? f.cause() // e.g. connection refused: say that, not "closed"
                : new java.io.IOException("connection to the proxy closed during the handshake")));
        return result;
    }

    private static boolean tlsDone(Channel ch) {
        SslHandler tls = ch.pipeline().get(SslHandler.class);
        return tls == null || tls.handshakeFuture().isDone();
    }
}
