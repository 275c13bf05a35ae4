package io.spdyproxy.observe.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.spdyproxy.observe.RequestRecord;
import io.spdyproxy.tunnel.StreamClosedException;
import io.spdyproxy.tunnel.StreamError;
import io.spdyproxy.tunnel.StreamObserver;
import io.spdyproxy.tunnel.TunnelSession;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * The meters of one tunnel name (tag {@code tunnel}), with their handles cached so that counting a
 * request is a few array reads and adds: no meter lookup, no lock, no allocation. Meters whose tags
 * vary (status class and outcome, reset reason) are made on first use and then cached.
 *
 * <p>Threading: safe from any thread. Also the one shared {@link StreamObserver} of the name's
 * sessions: it keeps no per-stream state.
 */
final class TunnelMeters implements StreamObserver, StreamObserver.Factory {
    /** Status classes as the tag spells them; index = status / 100, 0 for "none went out". */
    private static final String[] CLASSES = {"none", "1xx", "2xx", "3xx", "4xx", "5xx"};
    private static final RequestRecord.Outcome[] OUTCOMES = RequestRecord.Outcome.values();
    private static final StreamError[] ERRORS = StreamError.values();

    final String name;
    private final MeterRegistry registry;
    private final Tags tags;
    private final List<Meter> meters = new CopyOnWriteArrayList<>();
    /** The live sessions of this name: sessions and open streams are read from them at scrape. */
    final List<TunnelSession> sessions = new CopyOnWriteArrayList<>();
    private final AtomicReferenceArray<Counter> requests =
            new AtomicReferenceArray<>(CLASSES.length * OUTCOMES.length);
    /** [sent, received] × reason. */
    private final AtomicReferenceArray<Counter> resets = new AtomicReferenceArray<>(2 * ERRORS.length);
    private final Timer total;
    private final Timer firstByte;
    private final Counter bytesIn;
    private final Counter bytesOut;
    private final Counter stalls;
    private final Counter reconnects;
    private final Counter connects;
    /** When the last session went away (nanoTime), or 0 while one is up; see ProxyMetrics. */
    volatile long idleSince;
    private boolean everConnected;

    TunnelMeters(String name, MeterRegistry registry) {
        this.name = name;
        this.registry = registry;
        this.tags = Tags.of("tunnel", name);
        total = keep(Timers.histogram("spdyproxy.tunnel.request.duration",
                "Requests from their head to their end (whole answer out or aborted)", tags).register(registry));
        firstByte = keep(Timers.histogram("spdyproxy.tunnel.request.first.byte",
                "Requests from their head to their response head going out", tags).register(registry));
        bytesIn = keep(Counter.builder("spdyproxy.tunnel.received").baseUnit("bytes").tags(tags)
                .description("Request body bytes read from clients").register(registry));
        bytesOut = keep(Counter.builder("spdyproxy.tunnel.sent").baseUnit("bytes").tags(tags)
                .description("Response body bytes written to clients").register(registry));
        stalls = keep(Counter.builder("spdyproxy.tunnel.flow.stalls").tags(tags)
                .description("Streams that had data to send and found the peer's window (or the connection) full")
                .register(registry));
        reconnects = keep(Counter.builder("spdyproxy.tunnel.reconnects").tags(tags)
                .description("Sessions of a name that had one before").register(registry));
        connects = keep(Counter.builder("spdyproxy.tunnel.connects").tags(tags)
                .description("Sessions established").register(registry));
        keep(Gauge.builder("spdyproxy.tunnel.sessions", sessions, List::size).tags(tags)
                .description("Sessions connected now").register(registry));
        keep(Gauge.builder("spdyproxy.tunnel.streams.open", sessions, TunnelMeters::openStreams).tags(tags)
                .description("Streams open now on all sessions").register(registry));
    }

    private static double openStreams(List<TunnelSession> sessions) {
        long n = 0;
        for (TunnelSession s : sessions) {
            n += s.stats().activeStreams();
        }
        return n;
    }

    private <M extends Meter> M keep(M m) {
        meters.add(m);
        return m;
    }

    /** A session of this name is up. */
    synchronized void sessionUp(TunnelSession s) {
        if (everConnected) {
            reconnects.increment();
        }
        everConnected = true;
        connects.increment();
        idleSince = 0;
        sessions.add(s);
    }

    synchronized void sessionDown(TunnelSession s) {
        sessions.remove(s);
        if (sessions.isEmpty()) {
            idleSince = Math.max(1, System.nanoTime());
        }
    }

    void request(RequestRecord r) {
        int cls = r.status() >= 100 && r.status() < 600 ? r.status() / 100 : 0;
        int oc = r.outcome().ordinal();
        int i = cls * OUTCOMES.length + oc;
        Counter c = requests.get(i);
        if (c == null) {
            c = keep(Counter.builder("spdyproxy.tunnel.requests").tags(tags)
                    .tag("class", CLASSES[cls]).tag("outcome", OUTCOMES[oc].label())
                    .description("Requests finished, by status class and how they ended").register(registry));
            requests.set(i, c); // a race makes the same meter twice over: the registry returns one
        }
        c.increment();
        total.record(r.durationNanos(), TimeUnit.NANOSECONDS);
        if (r.firstByteNanos() >= 0) {
            firstByte.record(r.firstByteNanos(), TimeUnit.NANOSECONDS);
        }
        if (r.bytesIn() > 0) {
            bytesIn.increment(r.bytesIn());
        }
        if (r.bytesOut() > 0) {
            bytesOut.increment(r.bytesOut());
        }
    }

    // ---- StreamObserver: one shared instance for every stream of the name --------------------------

    @Override
    public StreamObserver streamOpened() {
        return this;
    }

    @Override
    public void sendStalled() {
        stalls.increment();
    }

    @Override
    public void closed(StreamClosedException cause, long bytesSent, long bytesReceived) {
        if (cause == null) {
            return;
        }
        int dir = cause.isLocal() ? 0 : 1;
        int i = dir * ERRORS.length + cause.error().ordinal();
        Counter c = resets.get(i);
        if (c == null) {
            c = keep(Counter.builder("spdyproxy.tunnel.resets").tags(tags)
                    .tag("direction", dir == 0 ? "sent" : "received")
                    .tag("reason", cause.error().name().toLowerCase(java.util.Locale.ROOT))
                    .description("Streams that ended abnormally, by who ended them and why").register(registry));
            resets.set(i, c);
        }
        c.increment();
    }

    /** Takes this name's meters out of the registry. */
    void remove() {
        for (Meter m : meters) {
            registry.remove(m);
        }
    }
}
