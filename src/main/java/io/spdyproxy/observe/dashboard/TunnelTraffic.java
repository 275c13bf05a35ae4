package io.spdyproxy.observe.dashboard;

import io.spdyproxy.observe.RequestRecord;
import io.spdyproxy.tunnel.SessionStats;
import io.spdyproxy.tunnel.Tunnel;
import io.spdyproxy.tunnel.TunnelSession;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * Per-tunnel traffic turned into rates: requests and errors (5xx answers and origin resets) are
 * counted by tunnel name as records arrive; body bytes are read from each session's counters; once
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
    record Rates(Tunnel tunnel, SessionStats stats, double requestsPerSec, double toOriginPerSec,
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
    private final Map<TunnelSession, SessionSample> sessions = new IdentityHashMap<>();
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
    List<Rates> sample(List<Tunnel> tunnels) {
        long now = System.nanoTime();
        double seconds = Math.max(1e-3, (now - lastSampleNanos) / 1e9);
        lastSampleNanos = now;
        Set<String> live = new HashSet<>();
        for (Tunnel t : tunnels) {
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
        Map<TunnelSession, SessionSample> seen = new IdentityHashMap<>();
        List<Rates> out = new java.util.ArrayList<>(tunnels.size());
        for (Tunnel t : tunnels) {
            SessionStats s = t.session().stats();
            SessionSample before = sessions.getOrDefault(t.session(), new SessionSample(s.dataBytesSent(),
                    s.dataBytesReceived()));
            seen.put(t.session(), new SessionSample(s.dataBytesSent(), s.dataBytesReceived()));
            NameCounters c = counters.get(t.name());
            out.add(new Rates(t, s, c.requestsPerSec, (s.dataBytesSent() - before.sent()) / seconds,
                    (s.dataBytesReceived() - before.received()) / seconds, c.requests.sum(), c.errors.sum()));
        }
        sessions.clear();
        sessions.putAll(seen);
        return out;
    }
}
