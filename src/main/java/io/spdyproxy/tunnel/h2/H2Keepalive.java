package io.spdyproxy.tunnel.h2;

import io.netty.handler.codec.http2.DefaultHttp2PingFrame;
import io.netty.util.concurrent.ScheduledFuture;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * PING for an HTTP/2 tunnel (RFC 9113 section 6.7), as the SPDY session's Keepalive does it:
 * measures the round trip of the application's pings and sends a keepalive PING every {@code
 * pingInterval}; a peer that sent no frame at all for {@code maxMissedPings} intervals is dead and
 * the connection is closed. The codec answers the peer's PINGs itself.
 *
 * <p>Threading: confined to the session's event loop.
 */
final class H2Keepalive {
    private record PendingPing(long startNanos, CompletableFuture<Duration> future) {}

    private final H2Connection conn;
    private final H2TunnelConfig config;
    private final Map<Long, PendingPing> pings = new HashMap<>();
    private long nextPing = 1;
    private ScheduledFuture<?> timer;
    private int framesSinceTick;
    private int missedPings;

    H2Keepalive(H2Connection conn, H2TunnelConfig config) {
        this.conn = conn;
        this.config = config;
    }

    void start() {
        Duration interval = config.pingInterval();
        if (!interval.isZero()) {
            long nanos = interval.toNanos();
            timer = conn.loop().scheduleAtFixedRate(this::tick, nanos, nanos, TimeUnit.NANOSECONDS);
        }
    }

    /** Any frame from the peer shows it alive. */
    void frameReceived() {
        framesSinceTick++;
    }

    void ping(CompletableFuture<Duration> result) {
        long id = nextPing++;
        pings.put(id, new PendingPing(System.nanoTime(), result));
        conn.writer().write(new DefaultHttp2PingFrame(id, false));
    }

    /** The peer's PING ACK: the answer to one of ours (keepalive ones are not kept). */
    void onPingAck(long content) {
        PendingPing p = pings.remove(content);
        if (p != null) {
            p.future().complete(Duration.ofNanos(System.nanoTime() - p.startNanos()));
        }
    }

    private void tick() {
        if (framesSinceTick == 0) {
            missedPings++;
            if (missedPings >= config.maxMissedPings()) {
                H2Connection.log.warn("keepalive: no frame from peer in {} intervals of {}; closing {}", missedPings,
                        config.pingInterval(), conn.channel());
                conn.channel().close();
                return;
            }
        } else {
            missedPings = 0;
        }
        framesSinceTick = 0;
        conn.writer().write(new DefaultHttp2PingFrame(-(nextPing++), false)); // negative: not awaited
    }

    void stop(Throwable failure) {
        if (timer != null) {
            timer.cancel(false);
        }
        for (PendingPing p : pings.values()) {
            p.future().completeExceptionally(failure);
        }
        pings.clear();
    }
}
