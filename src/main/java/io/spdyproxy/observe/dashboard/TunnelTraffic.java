package io.spdyproxy.observe.dashboard;

import io.spdyproxy.observe.RequestRecord;
import io.spdyproxy.observe.dashboard.DashboardSource.TunnelFigures;
import java.util.HashMap;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * Per-tunnel traffic turned into rates: requests and errors (5xx answers and origin resets) are
 * counted by tunnel name as records arrive; body bytes are read from each connection's counters; once
 * a second {@link #sample} makes both into per-second rates over the time since the last sample.
 *
 * <p>Threading: {@link #count} runs on every client loop (a map lookup and two adders, no lock);
 * {@link #sample} runs on the one ticker thread, which alone owns the previous samples.
 */
final class TunnelTraffic {
    /**
     * Names counted at most: a record names the tunnel its host routed to even when none is
     * connected (a 503), so visitors choose names; past this many, unknown names go uncounted.
     */
    static final int MAX_NAMES = 1024;

    /** One tunnel connection's figures at a sample. */
    record Rates(TunnelFigures tunnel, double requestsPerSec, double toOriginPerSec,
            double fromOriginPerSec, long requests, long errors) {}

    private static final class NameCounters {
        final LongAdder requests = new LongAdder();
        final LongAdder errors = new LongAdder();
        /** Ticker-only: requests at the last sample. */
        long sampledRequests;
        double requestsPerSec;
    }

    private record SessionSample(long sent, long received) {}

    private final Map<String, NameCounters> byName = new ConcurrentHashMap<>();
    /** By {@link TunnelFigures#id}, compared by identity. */
    private final Map<Object, SessionSample> sessions = new IdentityHashMap<>();
    private long lastSampleNanos = System.nanoTime();

    void count(RequestRecord r) {
        if (r.tunnel() == null) {
            return;
        }
        NameCounters c = byName.get(r.tunnel());
        if (c == null) {
            if (byName.size() >= MAX_NAMES) {
                return;
            }
            c = byName.computeIfAbsent(r.tunnel(), n -> new NameCounters());
        }
        c.requests.increment();
        if (r.status() >= 500 || r.outcome() == RequestRecord.Outcome.ORIGIN_RESET) {
            c.errors.increment();
        }
    }

    /** The rates of each tunnel in {@code tunnels} since the last call. */
    List<Rates> sample(List<TunnelFigures> tunnels) {
        long nowNanos = System.nanoTime();
        double seconds = Math.max(1e-3, (nowNanos - lastSampleNanos) / 1e9);
        lastSampleNanos = nowNanos;
        Set<String> live = new HashSet<>();
        for (TunnelFigures t : tunnels) {
            live.add(t.name());
        }
        // Names with no tunnel now are forgotten, so that refused hosts cannot fill the map.
        byName.keySet().retainAll(live);
        Map<String, NameCounters> counters = new HashMap<>();
        for (String name : live) {
            NameCounters c = byName.computeIfAbsent(name, n -> new NameCounters());
            long total = c.requests.sum();
            c.requestsPerSec = (total - c.sampledRequests) / seconds;
            c.sampledRequests = total;
            counters.put(name, c);
        }
        Map<Object, SessionSample> seen = new IdentityHashMap<>();
        List<Rates> out = new ArrayList<>(tunnels.size());
        for (TunnelFigures t : tunnels) {
            SessionSample now = new SessionSample(t.bytesToOrigin(), t.bytesFromOrigin());
            SessionSample before = sessions.getOrDefault(t.id(), now);
            seen.put(t.id(), now);
            NameCounters c = counters.get(t.name());
            out.add(new Rates(t, c.requestsPerSec, (now.sent() - before.sent()) / seconds,
                    (now.received() - before.received()) / seconds, c.requests.sum(), c.errors.sum()));
        }
        sessions.clear();
        sessions.putAll(seen);
        return out;
    }
}
