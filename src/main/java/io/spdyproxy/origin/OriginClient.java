package io.spdyproxy.origin;

import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.ssl.SslContext;
import io.spdyproxy.tunnel.TunnelSession;
import io.spdyproxy.tunnel.RequestHandler;
import io.spdyproxy.transport.Transport;
import io.spdyproxy.tunnel.Tunnel;
import io.spdyproxy.tunnel.handshake.TunnelDialer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The origin C: keeps {@code connections} tunnels to the proxy open and serves every stream they
 * carry with one handler (file server or reverse proxy). A lost tunnel is redialled after an
 * exponential, jittered backoff (100 ms doubling to 30 s by default), reset once a session has
 * been healthy; keepalive PINGs find a dead link. A dial that cannot work until a setting changes
 * (refused credentials, a certificate that is not the expected one, an address that is not a
 * tunnel port) is logged at ERROR on every attempt, retried only at the longest backoff, and
 * reported once through {@link #fatalError}.
 *
 * <p>Threading: each slot's state is confined to its event loop; {@link #start} and the stop
 * methods may be called from any thread.
 */
public final class OriginClient implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(OriginClient.class);
    /** A session that lived this long counts as healthy: the next failure starts the backoff over. */
    private static final Duration HEALTHY = Duration.ofSeconds(10);

    private final OriginConfig config;
    private final SslContext tls;
    private final RequestHandler handler;
    private final EventLoopGroup group;
    private final boolean ownGroup;
    private final List<Slot> slots = new ArrayList<>();
    private final CompletableFuture<Void> authFailure = new CompletableFuture<>();
    private final CompletableFuture<Void> fatalError = new CompletableFuture<>();
    private volatile boolean stopping;
    private volatile java.util.function.ObjIntConsumer<TunnelSession> tunnelUp = (s, slot) -> {};

    public OriginClient(OriginConfig config, SslContext tls, RequestHandler handler, EventLoopGroup group) {
        this.config = config;
        this.tls = tls;
        this.handler = handler;
        this.ownGroup = group == null;
        this.group = ownGroup ? Transport.newGroup(0, "origin") : group;
    }

    /** Tells {@code listener} of every session that comes up, with its slot (0 to connections - 1); set before {@link #start}. */
    public OriginClient onTunnelUp(java.util.function.ObjIntConsumer<TunnelSession> listener) {
        this.tunnelUp = listener;
        return this;
    }

    /** The event loops the tunnels run on. */
    public EventLoopGroup group() {
        return group;
    }

    /** Starts dialling; returns at once. */
    public OriginClient start() {
        for (int i = 0; i < config.connections(); i++) {
            Slot s = new Slot(i, group.next());
            slots.add(s);
            s.loop.execute(s::dial);
        }
        return this;
    }

    /**
     * Fails when the proxy refused our credentials (401). The client keeps redialling at its
     * longest backoff in case the proxy is reconfigured; the CLI exits instead.
     */
    public CompletableFuture<Void> authFailure() {
        return authFailure;
    }

    /**
     * Fails with the first dial failure that retrying cannot fix: a {@link
     * TunnelDialer.HandshakeRefusedException} with status 401, or a {@link
     * TunnelDialer.ConfigurationException} (certificate, wrong port). Its message says what to
     * change. The client keeps redialling at its longest backoff; the CLI exits instead.
     */
    public CompletableFuture<Void> fatalError() {
        return fatalError;
    }

    public OriginConfig config() {
        return config;
    }

    /** Tunnels up right now (derived from the sessions' state, so a closed one never counts). */
    public int connectedTunnels() {
        int n = 0;
        for (TunnelSession s : sessions()) {
            if (s.state() != TunnelSession.State.CLOSED) {
                n++;
            }
        }
        return n;
    }

    /** The live sessions, for tests and status. */
    public List<TunnelSession> sessions() {
        List<TunnelSession> out = new ArrayList<>();
        for (Slot s : slots) {
            Tunnel t = s.tunnel;
            if (t != null) {
                out.add(t.session());
            }
        }
        return out;
    }

    /** {@link #shutdownGracefully(Duration)} with the configured {@code shutdownGrace}. */
    public void shutdownGracefully() {
        shutdownGracefully(config.shutdownGrace());
    }

    /**
     * Stops redialling, sends GOAWAY on every tunnel (the proxy sends no new stream after it),
     * lets in-flight streams finish within {@code grace}, then closes. Blocks until done.
     */
    public void shutdownGracefully(Duration grace) {
        stopping = true;
        List<CompletableFuture<Void>> closing = new ArrayList<>();
        for (TunnelSession s : sessions()) {
            closing.add(s.shutdownGracefully(grace));
        }
        try {
            CompletableFuture.allOf(closing.toArray(CompletableFuture[]::new))
                    .get(grace.toMillis() + 1000, TimeUnit.MILLISECONDS);
        } catch (Exception e) {
            log.info("grace period over; closing what is left");
        }
        close();
    }

    @Override
    public void close() {
        stopping = true;
        List<CompletableFuture<Void>> closing = new ArrayList<>();
        boolean onALoop = false;
        for (TunnelSession s : sessions()) {
            closing.add(s.close());
            onALoop |= s.eventLoop().inEventLoop();
        }
        if (!onALoop) {
            // Closed means closed when this returns (bounded: a close needs no peer).
            try {
                CompletableFuture.allOf(closing.toArray(CompletableFuture[]::new)).get(5, TimeUnit.SECONDS);
            } catch (Exception e) {
                log.debug("tunnels still closing: {}", e.toString());
            }
        }
        if (ownGroup) {
            group.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly();
        }
    }

    /** One tunnel kept alive. */
    private final class Slot {
        private final int index;
        private final EventLoop loop;
        private volatile Tunnel tunnel;
        private int failures;

        Slot(int index, EventLoop loop) {
            this.index = index;
            this.loop = loop;
        }

        void dial() {
            if (stopping) {
                return;
            }
            TunnelDialer.Target target = new TunnelDialer.Target(config.proxyHost(), config.proxyPort(),
                    config.name(), config.token(), config.legacyHandshake(), config.tunnelProtocol());
            TunnelDialer.dial(loop, target, tls, config.pingInterval(), handler, config.handshakeTimeout())
                    .whenComplete((t, e) -> loop.execute(() -> dialled(t, e)));
        }

        private void dialled(Tunnel t, Throwable e) {
            if (e != null) {
                if (e instanceof TunnelDialer.HandshakeRefusedException r && r.status() == 401) {
                    log.error("proxy {}:{} refused our credentials: {}", config.proxyHost(), config.proxyPort(),
                            r.getMessage());
                    authFailure.completeExceptionally(r);
                    fatalError.completeExceptionally(r);
                    failures = 64; // a config error: keep trying (the proxy may be fixed), but only at the cap
                    retryLater(e.toString());
                    return;
                }
                if (e instanceof TunnelDialer.ConfigurationException c) {
                    log.error("tunnel {}: {}", index, c.getMessage());
                    fatalError.completeExceptionally(c);
                    failures = 64;
                    retryLater("cannot connect until that is fixed");
                    return;
                }
                retryLater(e.toString());
                return;
            }
            if (stopping) {
                t.session().close();
                return;
            }
            tunnel = t;
            tunnelUp.accept(t.session(), index);
            long upAt = System.nanoTime();
            log.info("tunnel {} '{}' up to {}:{}{}", index, t.name(), config.proxyHost(), config.proxyPort(),
                    t.legacy() ? " (legacy proxy)" : "");
            t.session().closeFuture().whenComplete((v, x) -> loop.execute(() -> {
                tunnel = null;
                if (System.nanoTime() - upAt >= HEALTHY.toNanos()) {
                    failures = 0;
                }
                retryLater("tunnel closed");
            }));
        }

        private void retryLater(String why) {
            if (stopping) {
                return;
            }
            long delay = backoffNanos(failures++);
            log.info("tunnel {}: {}; reconnecting in {} ms", index, why, TimeUnit.NANOSECONDS.toMillis(delay));
            loop.schedule(this::dial, delay, TimeUnit.NANOSECONDS);
        }
    }

    /** Exponential backoff with "equal jitter": half the delay fixed, half random. */
    long backoffNanos(int failures) {
        long base = config.initialBackoff().toNanos();
        long cap = config.maxBackoff().toNanos();
        long delay = failures >= 40 ? cap : Math.min(cap, base << Math.min(failures, 40));
        long half = delay / 2;
        return half + ThreadLocalRandom.current().nextLong(half + 1);
    }
}
