package io.spdyproxy.tunnel.handshake;

import io.spdyproxy.tunnel.Tunnel;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.handler.ssl.SslHandshakeTimeoutException;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import io.spdyproxy.spdy.SpdyRole;
import io.spdyproxy.tunnel.TunnelSession;
import io.spdyproxy.tunnel.h2.H2TunnelSession;
import io.spdyproxy.tunnel.spdy.SpdyTunnelSession;
import io.spdyproxy.spdy.SpdySessionConfig;
import io.spdyproxy.transport.Transport;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.EnumSet;
import java.util.Locale;
import java.util.Set;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Supplier;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The proxy's side of the handshake, as a channel initializer for the tunnel listener: TLS, one
 * {@code PUT}, the authenticator's decision, {@code 200} (or {@code 401} and close), then a SPDY
 * session in the client role on the same connection.
 *
 * <p>The listener faces the internet, so it contains hostile peers (see {@link Limits}): TLS must
 * be done within a few seconds of the accept and the {@code PUT} within the handshake timeout (one
 * timer each, armed at accept, so trickling bytes extends neither); an address with too many
 * handshakes open is closed at accept; failed authentications are answered after a delay and,
 * when too many, get the address banned ({@code 429} before any token is compared).
 *
 * <p>Threading: handlers run on the accepted channel's event loop; the {@link AuthThrottle} they
 * share is thread-safe.
 */
public final class TunnelAcceptor extends ChannelInitializer<Channel> {
    private static final Logger log = LoggerFactory.getLogger(TunnelAcceptor.class);

    /**
     * How the tunnel listener holds out against hostile peers.
     *
     * @param tlsTimeout the TLS handshake must be done this long after the accept
     * @param handshakeTimeout TLS and the {@code PUT} (head and body) must be done this long after
     *     the accept
     * @param maxPendingPerAddress connections of one address (IPv6: one /64) that may be in their
     *     handshake at once; more are closed at accept
     * @param maxFailures failed authentications of one address within {@code failureWindow} that
     *     get it banned
     * @param failureWindow see {@code maxFailures}
     * @param banTime the first ban; each further one lasts twice as long, up to {@code maxBanTime}
     * @param maxBanTime the longest ban; an address quiet for this long starts over
     * @param failureDelay a failed authentication is answered after this (slows guessing; holds no
     *     thread)
     * @param maxTrackedAddresses addresses whose failures are remembered at most (least recently
     *     seen forgotten first)
     * @param nanoClock monotonic time in nanoseconds for failure windows and bans
     */
    public record Limits(Duration tlsTimeout, Duration handshakeTimeout, int maxPendingPerAddress,
            int maxFailures, Duration failureWindow, Duration banTime, Duration maxBanTime,
            Duration failureDelay, int maxTrackedAddresses, LongSupplier nanoClock) {

        public Limits {
            positive(tlsTimeout, "tlsTimeout");
            positive(handshakeTimeout, "handshakeTimeout");
            if (tlsTimeout.compareTo(handshakeTimeout) > 0) {
                throw new IllegalArgumentException("tlsTimeout: " + tlsTimeout + " (expected: <= handshakeTimeout "
                        + handshakeTimeout + ")");
            }
            positive(maxPendingPerAddress, "maxPendingPerAddress");
            positive(maxFailures, "maxFailures");
            positive(failureWindow, "failureWindow");
            positive(banTime, "banTime");
            positive(maxBanTime, "maxBanTime");
            if (banTime.compareTo(maxBanTime) > 0 || maxBanTime.compareTo(Duration.ofDays(7)) > 0) {
                throw new IllegalArgumentException("maxBanTime: " + maxBanTime + " (expected: banTime " + banTime
                        + " to 7 days)");
            }
            Objects.requireNonNull(failureDelay, "failureDelay");
            if (failureDelay.isNegative() || failureDelay.compareTo(handshakeTimeout) >= 0) {
                throw new IllegalArgumentException("failureDelay: " + failureDelay + " (expected: >= 0 and"
                        + " < handshakeTimeout)");
            }
            positive(maxTrackedAddresses, "maxTrackedAddresses");
            Objects.requireNonNull(nanoClock, "nanoClock");
        }

        /**
         * TLS within 5 s and the whole handshake within 10 s; 32 handshakes per address at once;
         * 5 failures a minute ban an address for 1 minute, then 2, 4, ... up to an hour; failures
         * answered after 1 s; 10,000 addresses remembered.
         */
        public static Limits defaults() {
            return new Limits(Duration.ofSeconds(5), Duration.ofSeconds(10), 32, 5, Duration.ofMinutes(1),
                    Duration.ofMinutes(1), Duration.ofHours(1), Duration.ofSeconds(1), 10_000, System::nanoTime);
        }

        public Limits withTimeouts(Duration tls, Duration handshake) {
            return new Limits(tls, handshake, maxPendingPerAddress, maxFailures, failureWindow, banTime, maxBanTime,
                    failureDelay, maxTrackedAddresses, nanoClock);
        }

        public Limits withPending(int perAddress) {
            return new Limits(tlsTimeout, handshakeTimeout, perAddress, maxFailures, failureWindow, banTime,
                    maxBanTime, failureDelay, maxTrackedAddresses, nanoClock);
        }

        public Limits withFailures(int max, Duration window, Duration ban, Duration maxBan, Duration delay) {
            return new Limits(tlsTimeout, handshakeTimeout, maxPendingPerAddress, max, window, ban, maxBan, delay,
                    maxTrackedAddresses, nanoClock);
        }

        public Limits withTrackedAddresses(int max) {
            return new Limits(tlsTimeout, handshakeTimeout, maxPendingPerAddress, maxFailures, failureWindow, banTime,
                    maxBanTime, failureDelay, max, nanoClock);
        }

        public Limits withClock(LongSupplier nanos) {
            return new Limits(tlsTimeout, handshakeTimeout, maxPendingPerAddress, maxFailures, failureWindow, banTime,
                    maxBanTime, failureDelay, maxTrackedAddresses, nanos);
        }

        private static void positive(Duration d, String name) {
            Objects.requireNonNull(d, name);
            if (d.isNegative() || d.isZero()) {
                throw new IllegalArgumentException(name + ": " + d + " (expected: > 0)");
            }
        }

        private static void positive(int n, String name) {
            if (n <= 0) {
                throw new IllegalArgumentException(name + ": " + n + " (expected: > 0)");
            }
        }
    }

    /** Asked at each accept, so a reloaded certificate serves the next connection. */
    private final Supplier<SslContext> ssl;
    private final SpdySessionConfig sessionConfig;
    private final TunnelAuthenticator authenticator;
    private final Consumer<Tunnel> onTunnel;
    private final Limits limits;
    private final AuthThrottle throttle;
    private final Set<TunnelProtocol.Kind> protocols;

    /**
     * @param sessionConfig client-role session settings; legacy mode is switched on per peer
     * @param onTunnel called on the tunnel's event loop once its session is installed
     */
    public TunnelAcceptor(SslContext ssl, java.time.Duration pingInterval, TunnelAuthenticator authenticator,
            Consumer<Tunnel> onTunnel, Limits limits) {
        this(ssl, SpdySessionConfig.builder(SpdyRole.CLIENT).pingInterval(pingInterval).build(), authenticator,
                onTunnel, limits);
    }

    /** As above, with the TLS context asked for at each accept (a certificate reloaded while running). */
    public TunnelAcceptor(Supplier<SslContext> ssl, java.time.Duration pingInterval,
            TunnelAuthenticator authenticator, Consumer<Tunnel> onTunnel, Limits limits) {
        this(ssl, SpdySessionConfig.builder(SpdyRole.CLIENT).pingInterval(pingInterval).build(), authenticator,
                onTunnel, limits, EnumSet.allOf(TunnelProtocol.Kind.class));
    }

    /** As above, with the SPDY session's settings given in full (tests, the benchmark). */
    public TunnelAcceptor(SslContext ssl, SpdySessionConfig sessionConfig, TunnelAuthenticator authenticator,
            Consumer<Tunnel> onTunnel, Limits limits) {
        this(ssl, sessionConfig, authenticator, onTunnel, limits, EnumSet.allOf(TunnelProtocol.Kind.class));
    }

    /**
     * As above, accepting only {@code protocols} (SPDY alone is what proxies before HTTP/2
     * tunnels did; tests use it to be one). The HTTP/2 session takes its settings from {@code
     * sessionConfig} too.
     */
    public TunnelAcceptor(SslContext ssl, SpdySessionConfig sessionConfig, TunnelAuthenticator authenticator,
            Consumer<Tunnel> onTunnel, Limits limits, Set<TunnelProtocol.Kind> protocols) {
        this(() -> ssl, sessionConfig, authenticator, onTunnel, limits, protocols);
    }

    private TunnelAcceptor(Supplier<SslContext> ssl, SpdySessionConfig sessionConfig,
            TunnelAuthenticator authenticator, Consumer<Tunnel> onTunnel, Limits limits,
            Set<TunnelProtocol.Kind> protocols) {
        if (!protocols.contains(TunnelProtocol.Kind.SPDY)) {
            throw new IllegalArgumentException("protocols: " + protocols + " (expected: SPDY among them; every"
                    + " origin speaks it)");
        }
        this.protocols = Set.copyOf(protocols);
        if (sessionConfig.role() != SpdyRole.CLIENT) {
            throw new IllegalArgumentException("sessionConfig.role: SERVER (expected: CLIENT at the proxy)");
        }
        this.ssl = ssl;
        this.sessionConfig = sessionConfig;
        this.authenticator = authenticator;
        this.onTunnel = onTunnel;
        this.limits = limits;
        this.throttle = new AuthThrottle(limits);
    }

    @Override
    protected void initChannel(Channel ch) {
        // Runs at registration, right after the accept: every timer below starts here.
        String address = AuthThrottle.key(ch.remoteAddress());
        if (!throttle.enter(address)) {
            log.debug("tunnel connection from {} closed: {} handshakes from {} already open", ch.remoteAddress(),
                    limits.maxPendingPerAddress(), address);
            ch.close();
            return;
        }
        Transport.limitUnsent(ch, 256 * 1024);
        if (ssl != null) {
            SslHandler tls = ssl.get().newHandler(ch.alloc());
            // SslHandler arms this at handlerAdded on an active channel, i.e. now; it is one fixed
            // deadline, which a peer trickling its ClientHello cannot push back.
            tls.setHandshakeTimeout(limits.tlsTimeout().toNanos(), TimeUnit.NANOSECONDS);
            ch.pipeline().addLast("tls", tls);
        }
        ch.pipeline().addLast("handshake-decoder", new HandshakeDecoder());
        ch.pipeline().addLast("handshake", new AcceptHandler(address));
    }

    /** Where a connection is in its handshake. */
    private enum Phase {
        /** TLS and the PUT under way. */
        HANDSHAKING,
        /** Refused: the answer is on its way (perhaps after the failure delay), then close. */
        REFUSING,
        /** Handed over to SPDY. */
        DONE
    }

    /** Answers the origin's PUT, then hands the connection to SPDY. */
    private final class AcceptHandler extends ChannelInboundHandlerAdapter {
        private final String address;
        private Phase phase = Phase.HANDSHAKING;
        private boolean counted = true;
        private ScheduledFuture<?> timeout;

        AcceptHandler(String address) {
            this.address = address;
        }

        @Override
        public void handlerAdded(ChannelHandlerContext ctx) {
            timeout = ctx.executor().schedule(() -> {
                log.info("tunnel handshake from {} timed out", ctx.channel().remoteAddress());
                ctx.close();
            }, limits.handshakeTimeout().toNanos(), TimeUnit.NANOSECONDS);
            // Also when the channel closes without this handler seeing channelInactive.
            ctx.channel().closeFuture().addListener(f -> leave());
        }

        /** This connection no longer counts as a handshake of its address. */
        private void leave() {
            if (counted) {
                counted = false;
                throttle.leave(address);
            }
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (!(msg instanceof HandshakeMessage m) || phase != Phase.HANDSHAKING) {
                ReferenceCountUtil.release(msg);
                return;
            }
            String[] start = m.startLine().split(" ");
            if (start.length < 3 || !start[0].equals("PUT") || !start[2].startsWith("HTTP/1.")) {
                refuse(ctx, 405, "Method Not Allowed", "tunnel handshake must be PUT", "");
                return;
            }
            long banned = throttle.banRemainingNanos(address);
            if (banned > 0) {
                // Before the authenticator: a banned address learns nothing about its tokens.
                // 429 and Retry-After in delay-seconds: RFC 6585 section 4, RFC 9110 section 10.2.3.
                long seconds = Math.max(1, TimeUnit.NANOSECONDS.toSeconds(banned + 999_999_999L));
                log.debug("tunnel from {} refused: {} is banned for {} s more", ctx.channel().remoteAddress(),
                        address, seconds);
                refuse(ctx, 429, "Too Many Requests", "too many failed attempts from " + address
                        + "; try again in " + seconds + " s", "Retry-After: " + seconds + "\r\n");
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
                failed(ctx, d.reason());
                return;
            }
            TunnelProtocol.Kind protocol = legacy ? TunnelProtocol.Kind.SPDY : TunnelProtocol.choose(m.headers(), protocols);
            accept(ctx, d.name(), legacy,
                    !legacy && TunnelProtocol.hasFeature(m.headers(), TunnelProtocol.UPGRADE_FEATURE), protocol);
        }

        private void failed(ChannelHandlerContext ctx, String reason) {
            AuthThrottle.Failure f = throttle.failed(address);
            long window = limits.failureWindow().toSeconds();
            if (f.banNanos() > 0) {
                log.warn("tunnel from {} refused: {} (failure {} within {} s: {} banned for {} s)",
                        ctx.channel().remoteAddress(), reason, f.recentFailures(), window, address,
                        TimeUnit.NANOSECONDS.toSeconds(f.banNanos()));
            } else {
                log.warn("tunnel from {} refused: {} (failure {} of {} within {} s)", ctx.channel().remoteAddress(),
                        reason, f.recentFailures(), limits.maxFailures(), window);
            }
            // The answer waits on the event loop's timer, not on a thread; meanwhile nothing more
            // is read (what the peer sends would pile up in the decoder).
            phase = Phase.REFUSING;
            ctx.channel().config().setAutoRead(false);
            ctx.executor().schedule(() -> {
                if (ctx.channel().isActive()) {
                    refuse(ctx, 401, "Unauthorized", reason, "");
                }
            }, limits.failureDelay().toNanos(), TimeUnit.NANOSECONDS);
        }

        private void accept(ChannelHandlerContext ctx, String name, boolean legacy, boolean upgrades,
                TunnelProtocol.Kind protocol) {
            phase = Phase.DONE;
            timeout.cancel(false);
            leave();
            StringBuilder reply = new StringBuilder("HTTP/1.1 200 Connection Established\r\n");
            if (!legacy) {
                reply.append(TunnelProtocol.PROTOCOL_HEADER).append(": ")
                        .append(protocol.id()).append("\r\n");
                reply.append(TunnelProtocol.NAME_HEADER).append(": ").append(name).append("\r\n");
                reply.append(TunnelProtocol.FEATURES_HEADER).append(": ").append(TunnelProtocol.UPGRADE_FEATURE)
                        .append("\r\n");
            }
            reply.append("Content-Length: ").append(TunnelProtocol.PROXY_HELLO.length()).append("\r\n\r\n")
                    .append(TunnelProtocol.PROXY_HELLO);
            Channel ch = ctx.channel();
            ctx.writeAndFlush(Unpooled.copiedBuffer(reply, StandardCharsets.ISO_8859_1));
            SpdySessionConfig config = sessionConfig.toBuilder().legacyPeer(legacy).build();
            // The proxy is the HTTP/2 client: its preface follows the 200 at once (RFC 9113 section 3.4).
            TunnelSession session = protocol == TunnelProtocol.Kind.H2
                    ? H2TunnelSession.install(ch, false, SessionConfigs.h2(sessionConfig), null, upgrades)
                    : SpdyTunnelSession.install(ch, config, null, upgrades);
            ch.pipeline().remove(this);
            ch.pipeline().remove("handshake-decoder"); // any bytes already read go to the codec
            log.info("tunnel '{}' up from {} over {}{}", name, ch.remoteAddress(), protocol.id(),
                    legacy ? " (legacy peer)" : "");
            onTunnel.accept(new Tunnel(name, session, legacy, ch.remoteAddress()));
        }

        /** Answers with {@code code} and closes; the handshake timer still runs as a backstop. */
        private void refuse(ChannelHandlerContext ctx, int code, String reason, String message, String headers) {
            phase = Phase.REFUSING;
            ctx.channel().config().setAutoRead(false);
            String body = message + "\n";
            String response = "HTTP/1.1 " + code + " " + reason + "\r\nContent-Type: text/plain\r\n" + headers
                    + "Connection: close\r\nContent-Length: " + body.getBytes(StandardCharsets.UTF_8).length
                    + "\r\n\r\n" + body;
            ctx.writeAndFlush(Unpooled.copiedBuffer(response, StandardCharsets.UTF_8))
                    .addListener(ChannelFutureListener.CLOSE);
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof SslHandshakeCompletionEvent e && e.cause() instanceof SslHandshakeTimeoutException) {
                // SslHandler closes the connection itself; say why, as the handshake timer does.
                log.info("tunnel handshake from {} timed out in TLS ({} ms)", ctx.channel().remoteAddress(),
                        limits.tlsTimeout().toMillis());
            }
            ctx.fireUserEventTriggered(evt);
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
            leave();
            ctx.fireChannelInactive();
        }
    }
}
