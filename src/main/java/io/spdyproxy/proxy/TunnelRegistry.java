package io.spdyproxy.proxy;

import io.spdyproxy.tunnel.TunnelSession;
import io.spdyproxy.tunnel.Tunnel;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The tunnels connected right now, by name. Several connections of one name share its load:
 * {@link #pick} takes the one with the fewest active streams among those still accepting streams,
 * so a draining or dying connection never takes a request another could serve.
 *
 * <p>Threading: safe from any thread (concurrent map of copy-on-write lists).
 */
final class TunnelRegistry {
    private final Map<String, CopyOnWriteArrayList<Tunnel>> byName = new ConcurrentHashMap<>();
    /** Futures of {@link #connected} waiting for a name. */
    private final Map<String, CompletableFuture<Tunnel>> waiting = new ConcurrentHashMap<>();

    void add(Tunnel t) {
        byName.computeIfAbsent(t.name(), n -> new CopyOnWriteArrayList<>()).add(t);
        t.session().closeFuture().whenComplete((v, e) -> remove(t));
        CompletableFuture<Tunnel> w = waiting.remove(t.name());
        if (w != null) {
            w.complete(t);
        }
    }

    /** Completes with a tunnel of {@code name} once one is connected (at once if one is). */
    CompletableFuture<Tunnel> connected(String name) {
        CompletableFuture<Tunnel> f = waiting.computeIfAbsent(name, n -> new CompletableFuture<>());
        List<Tunnel> list = byName.get(name);
        if (list != null && !list.isEmpty()) {
            waiting.remove(name, f);
            f.complete(list.get(0));
        }
        return f;
    }

    void remove(Tunnel t) {
        byName.computeIfPresent(t.name(), (n, list) -> {
            list.remove(t);
            return list.isEmpty() ? null : list;
        });
    }

    /** The least-loaded usable tunnel of {@code name}, skipping {@code exclude}; null when none. */
    Tunnel pick(String name, Set<TunnelSession> exclude) {
        List<Tunnel> list = byName.get(name);
        if (list == null) {
            return null;
        }
        Tunnel best = null;
        int bestLoad = Integer.MAX_VALUE;
        for (Tunnel t : list) {
            TunnelSession s = t.session();
            if (!s.isAcceptingStreams() || exclude.contains(s)) {
                continue;
            }
            int load = s.stats().activeStreams();
            if (load < bestLoad) {
                best = t;
                bestLoad = load;
            }
        }
        return best;
    }

    boolean has(String name) {
        return byName.containsKey(name);
    }

    List<Tunnel> all() {
        List<Tunnel> out = new ArrayList<>();
        byName.values().forEach(out::addAll);
        return out;
    }
}
