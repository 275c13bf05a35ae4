package io.spdyproxy.spdy;

import io.netty.handler.codec.spdy.DefaultSpdyPingFrame;
import io.netty.handler.codec.spdy.SpdyPingFrame;
import io.netty.util.collection.IntObjectHashMap;
import io.netty.util.concurrent.ScheduledFuture;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * PING for a {@link SpdySession} (SPDY/3 section 2.6.5): answers the peer's, measures the round
 * trip of ours (the application's {@link SpdySession#ping()} and a keepalive PING every
 * {@code pingInterval}, whose RTT paces receive-window growth), and closes a session whose peer
 * sent no frame at all for {@code maxMissedPings} intervals.
 *
 * <p>Threading: confined to the session's event loop.
 */
final class Keepalive {
    private record PendingPing(long startNanos, CompletableFuture<Duration> future) {}

    private final SpdySession session;
    private final IntObjectHashMap<PendingPing> pings = new IntObjectHashMap<>();
    /** Our PING ids share the parity of our stream ids (SPDY/3 section 2.6.5). */
    private int nextPingId;
    private int silentPingId = -1;
    private long silentPingNanos;
    private ScheduledFuture<?> timer;
    private int framesSinceTick;
    private int missedPings;

    Keepalive(SpdySession session) {
        this.session = session;
        this.nextPingId = session.config.role().firstLocalStreamId();
    }

    /** Starts the keepalive timer, unless the interval is zero. */
    void start() {
        Duration interval = session.config.pingInterval();
        if (!interval.isZero()) {
            long nanos = interval.toNanos();
            timer = session.loop.scheduleAtFixedRate(this::tick, nanos, nanos, TimeUnit.NANOSECONDS);
        }
    }

    /** Any frame from the peer shows it alive. */
    void frameReceived() {
        framesSinceTick++;
    }

    /** The application's PING: {@code result} completes with the round-trip time. */
    void ping(CompletableFuture<Duration> result) {
        if (session.lifecycle.state() == SpdySession.State.CLOSED) {
            result.completeExceptionally(session.lifecycle.closedException());
            return;
        }
        int id = nextPingId;
        nextPingId += 2;
        pings.put(id, new PendingPing(System.nanoTime(), result));
        session.writer.control(new DefaultSpdyPingFrame(id));
    }

    void onPing(SpdyPingFrame f) {
        int id = f.id();
        if (session.config.role().isLocal(id)) {
            PendingPing p = pings.remove(id);
            long now = System.nanoTime();
            if (p != null) {
                session.receive.rttSample(now - p.startNanos());
                p.future().complete(Duration.ofNanos(now - p.startNanos()));
            } else if (id == silentPingId) {
                session.receive.rttSample(now - silentPingNanos);
            }
            return; // the answer to one of ours
        }
        session.writer.control(new DefaultSpdyPingFrame(id));
    }

    private void tick() {
        if (session.lifecycle.state() == SpdySession.State.CLOSED) {
            return;
        }
        if (framesSinceTick == 0) {
            missedPings++;
            if (missedPings >= session.config.maxMissedPings()) {
                SpdySession.log.warn("keepalive: no frame from peer in {} intervals of {}; closing {}",
                        missedPings, session.config.pingInterval(), session.channel);
                session.lifecycle.closeChannel(new SpdySessionException(SpdyError.SESSION_CLOSED,
                        "keepalive: peer silent for " + missedPings + " ping intervals"));
                return;
            }
        } else {
            missedPings = 0;
        }
        framesSinceTick = 0;
        silentPing();
        session.writer.flushSoon();
    }

    /** A keepalive PING, whose answer feeds the RTT estimate. */
    private void silentPing() {
        silentPingId = nextPingId;
        silentPingNanos = System.nanoTime();
        nextPingId += 2;
        session.writer.write(new DefaultSpdyPingFrame(silentPingId));
    }

    void stop() {
        if (timer != null) {
            timer.cancel(false);
        }
    }

    /** The session closed: PINGs still unanswered fail with {@code failure}. */
    void failPending(SpdyStreamException failure) {
        for (PendingPing p : pings.values()) {
            p.future().completeExceptionally(failure);
        }
        pings.clear();
    }
}
