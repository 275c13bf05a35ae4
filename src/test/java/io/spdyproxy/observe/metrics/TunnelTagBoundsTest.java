package io.spdyproxy.observe.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import io.spdyproxy.observe.RequestRecord;
import io.spdyproxy.tunnel.SessionStats;
import io.spdyproxy.tunnel.Tunnel;
import io.spdyproxy.tunnel.TunnelSession;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

/**
 * Tunnel names are chosen by origins: the {@code tunnel} tag is capped, and a name's series go once
 * its last session has been gone for the retention.
 */
class TunnelTagBoundsTest {

    /** A session that only knows its close future (all the metrics ask of it). */
    static final class StubSession {
        final CompletableFuture<Void> closed = new CompletableFuture<>();
        final TunnelSession session = (TunnelSession) java.lang.reflect.Proxy.newProxyInstance(
                TunnelSession.class.getClassLoader(), new Class<?>[] {TunnelSession.class}, (p, m, args) -> switch (
                        m.getName()) {
                    case "closeFuture" -> closed;
                    case "stats" -> new SessionStats(0, 0, 0, 2, 0);
                    case "state" -> TunnelSession.State.ACTIVE;
                    case "hashCode" -> System.identityHashCode(p);
                    case "equals" -> p == args[0];
                    default -> null;
                });
    }

    static Tunnel tunnel(String name, StubSession s) {
        return new Tunnel(name, s.session, false, new InetSocketAddress("127.0.0.1", 1));
    }

    static RequestRecord request(String tunnel) {
        return new RequestRecord(0, "c", tunnel, "HTTP/1.1", "http", "GET", "h", "/", null, null, null, 200, 0, 1, 1,
                1, RequestRecord.Outcome.COMPLETE);
    }

    @Test
    void namesBeyondTheCapShareOther() {
        try (ProxyMetrics m = new ProxyMetrics(null)) {
            for (int i = 0; i < ProxyMetrics.MAX_TUNNEL_TAGS; i++) {
                m.tunnelUp(tunnel("t" + i, new StubSession()));
            }
            m.tunnelUp(tunnel("one-too-many", new StubSession()));
            m.requestEnded(request("one-too-many"));
            String s = m.scrape();
            assertThat(s).contains("spdyproxy_tunnel_sessions{tunnel=\"t999\"} 1.0",
                    "spdyproxy_tunnel_sessions{tunnel=\"_other\"} 1.0",
                    "spdyproxy_tunnel_streams_open{tunnel=\"t0\"} 2.0",
                    "spdyproxy_tunnel_requests_total{class=\"2xx\",outcome=\"complete\",tunnel=\"_other\"} 1.0")
                    .doesNotContain("one-too-many");
        }
    }

    @Test
    void aNameGoneLongerThanTheRetentionLosesItsSeries() {
        try (ProxyMetrics m = new ProxyMetrics(null, Duration.ZERO)) {
            StubSession a = new StubSession();
            StubSession b = new StubSession();
            m.tunnelUp(tunnel("stays", a));
            m.tunnelUp(tunnel("goes", b));
            m.requestEnded(request("goes"));
            assertThat(m.scrape()).contains("tunnel=\"goes\"");
            b.closed.complete(null);
            String s = m.scrape();
            assertThat(s).doesNotContain("tunnel=\"goes\"").contains("spdyproxy_tunnel_sessions{tunnel=\"stays\"} 1.0");
            m.requestEnded(request("goes")); // a late record of a gone name: bounded, under _other
            assertThat(m.scrape()).doesNotContain("tunnel=\"goes\"");
        }
    }

    @Test
    void aNameWithinTheRetentionKeepsItsCountersAndCountsTheReconnect() {
        try (ProxyMetrics m = new ProxyMetrics(null, Duration.ofHours(1))) {
            StubSession a = new StubSession();
            m.tunnelUp(tunnel("x", a));
            a.closed.complete(null);
            assertThat(m.scrape()).contains("spdyproxy_tunnel_sessions{tunnel=\"x\"} 0.0");
            m.tunnelUp(tunnel("x", new StubSession()));
            assertThat(m.scrape()).contains("spdyproxy_tunnel_reconnects_total{tunnel=\"x\"} 1.0",
                    "spdyproxy_tunnel_sessions{tunnel=\"x\"} 1.0");
        }
    }
}
