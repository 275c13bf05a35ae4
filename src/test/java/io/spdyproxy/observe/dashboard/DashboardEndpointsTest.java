package io.spdyproxy.observe.dashboard;

import static io.spdyproxy.observe.dashboard.EventStreamClient.list;
import static io.spdyproxy.observe.dashboard.EventStreamClient.map;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The dashboard's endpoints over plain sockets: the JSON snapshot and the event stream (shape,
 * escaping of hostile values, the headers that guard the page), the loopback-Host rule, and the
 * bounds: subscribers are capped, and one that does not read loses its connection rather than
 * growing the proxy's memory.
 */
// A guard: each test takes a second or a few. A thread of its own, so that a blocked read ends too.
@Timeout(value = 60, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class DashboardEndpointsTest {
    /** Quotes, a backslash, markup and a query: everything a JSON or HTML writer must escape. */
    static final String HOSTILE = "/x\"y\\z/<script>alert(1)</script>?a=1&b='2'";
    private static final String LONG_HOST = "h".repeat(400) + ".app.test";

    @Test
    void snapshotAndEventsCarryTunnelsHealthAndEscapedRequests(@TempDir Path dir) throws Exception {
        try (DashboardBed bed = new DashboardBed(dir);
                EventStreamClient events = new EventStreamClient(bed.adminPort())) {
            assertThat(events.statusLine).isEqualTo("HTTP/1.1 200 OK");
            assertThat(events.headers).containsEntry("content-type", "text/event-stream; charset=utf-8")
                    .containsEntry("transfer-encoding", "chunked");
            assertSecure(events.headers);
            Map<String, Object> first = events.next();
            assertThat(list(first, "tunnels")).isEmpty();
            assertThat(list(first, "requests")).isEmpty();
            assertThat(map(first, "health")).containsKeys("version", "uptimeMillis", "heapUsed", "heapMax",
                    "directUsed", "directMax", "clientConnections", "tunnels", "requestsInFlight", "requestsTotal");

            bed.connectOrigin();
            assertThat(DashboardBed.exchange(bed.httpPort(), "GET", "/", "app.test")).startsWith("HTTP/1.1 200");
            assertThat(DashboardBed.exchange(bed.httpPort(), "GET", HOSTILE, "app.test")).startsWith("HTTP/1.1 404");
            // Events carry each request once, newest first: wait until both have come.
            List<Map<String, Object>> seen = new ArrayList<>();
            String raw = null;
            while (seen.size() < 2) {
                raw = events.nextData();
                seen.addAll(0, list(EventStreamClient.parse(raw), "requests"));
            }
            assertThat(seen).extracting(r -> r.get("path")).containsExactly(HOSTILE, "/");
            assertThat(raw).as("the event's bytes").doesNotContain("<", ">", "&", "'");
            Map<String, Object> r = seen.get(0);
            assertThat(r).containsEntry("tunnel", "default").containsEntry("method", "GET")
                    .containsEntry("host", "app.test").containsEntry("status", 404)
                    .containsEntry("outcome", "complete").containsEntry("protocol", "HTTP/1.1");
            assertThat((Integer) r.get("seq")).isGreaterThan((Integer) seen.get(1).get("seq"));

            String answer = DashboardBed.exchange(bed.adminPort(), "GET", "/api/dashboard", "127.0.0.1");
            assertThat(answer).startsWith("HTTP/1.1 200").contains("content-type: application/json");
            assertSecure(headers(answer));
            Map<String, Object> snapshot = EventStreamClient.parse(body(answer));
            assertThat(list(snapshot, "requests")).extracting(q -> q.get("path")).containsExactly(HOSTILE, "/");
            Map<String, Object> tunnel = list(snapshot, "tunnels").get(0);
            assertThat(tunnel).containsEntry("name", "default").containsEntry("requests", 2)
                    .containsEntry("errors", 0).containsEntry("state", "ACTIVE")
                    .containsKeys("remote", "protocol", "connectedAt", "streams", "requestsPerSec",
                            "toOriginPerSec", "fromOriginPerSec", "toOriginBytes", "fromOriginBytes");
            assertThat(((Number) tunnel.get("fromOriginBytes")).longValue()).isPositive();
            assertThat(map(snapshot, "health")).containsEntry("tunnels", 1);
        }
    }

    @Test
    void pageAndFilesCarryTheSecurityHeadersAndStatusStaysJson(@TempDir Path dir) throws Exception {
        try (DashboardBed bed = new DashboardBed(dir)) {
            for (String path : new String[] {"/", "/dashboard"}) {
                String page = DashboardBed.exchange(bed.adminPort(), "GET", path, "localhost");
                assertThat(page).startsWith("HTTP/1.1 200").contains("content-type: text/html; charset=utf-8")
                        .contains("<script src=\"/dashboard.js\" defer></script>");
                assertThat(body(page)).doesNotContain("<script>").doesNotContain("http://", "https://");
                assertSecure(headers(page));
            }
            assertThat(DashboardBed.exchange(bed.adminPort(), "GET", "/dashboard.js", "localhost"))
                    .startsWith("HTTP/1.1 200").contains("content-type: text/javascript").doesNotContain("innerHTML");
            assertThat(DashboardBed.exchange(bed.adminPort(), "GET", "/dashboard.css", "localhost"))
                    .startsWith("HTTP/1.1 200").contains("content-type: text/css");
            assertThat(DashboardBed.exchange(bed.adminPort(), "POST", "/api/dashboard", "localhost"))
                    .startsWith("HTTP/1.1 405");
            assertThat(DashboardBed.exchange(bed.adminPort(), "HEAD", "/api/events", "localhost"))
                    .startsWith("HTTP/1.1 405");
            assertThat(DashboardBed.exchange(bed.adminPort(), "HEAD", "/", "localhost"))
                    .startsWith("HTTP/1.1 200").endsWith("\r\n\r\n");
            assertThat(DashboardBed.exchange(bed.adminPort(), "GET", "/debug", "localhost"))
                    .startsWith("HTTP/1.1 200").contains("\"tunnels\":[]");
            assertThat(DashboardBed.exchange(bed.adminPort(), "GET", "/nothing", "localhost"))
                    .startsWith("HTTP/1.1 404");
        }
    }

    @Test
    void aHostThatIsNotLoopbackIsRefused(@TempDir Path dir) throws Exception {
        try (DashboardBed bed = new DashboardBed(dir)) {
            int port = bed.adminPort();
            for (String host : new String[] {"evil.example", "evil.example:" + port, "127.0.0.1.evil.example",
                    "localhost.evil.example", "10.0.0.1", "[::2]"}) {
                for (String path : new String[] {"/", "/api/events", "/debug"}) {
                    assertThat(DashboardBed.exchange(port, "GET", path, host)).as(host + " " + path)
                            .startsWith("HTTP/1.1 403");
                }
            }
            for (String host : new String[] {"127.0.0.1:" + port, "localhost:" + port, "[::1]:" + port,
                    "dash.localhost"}) {
                assertThat(DashboardBed.exchange(port, "GET", "/api/dashboard", host)).as(host)
                        .startsWith("HTTP/1.1 200");
            }
        }
    }

    @Test
    void eventStreamsAreCapped(@TempDir Path dir) throws Exception {
        try (DashboardBed bed = new DashboardBed(dir)) {
            List<EventStreamClient> open = new ArrayList<>();
            try {
                for (int i = 0; i < EventStreams.MAX_SUBSCRIBERS; i++) {
                    EventStreamClient c = new EventStreamClient(bed.adminPort());
                    open.add(c);
                    assertThat(c.statusLine).isEqualTo("HTTP/1.1 200 OK");
                    c.next();
                }
                try (EventStreamClient over = new EventStreamClient(bed.adminPort())) {
                    assertThat(over.statusLine).startsWith("HTTP/1.1 503");
                }
                open.remove(0).close();
                // The closed one's place frees once the proxy saw it close: a later stream gets it.
                // Its close is seen before the next event goes out, which the others receive.
                open.get(0).next();
                open.get(0).next();
                try (EventStreamClient again = new EventStreamClient(bed.adminPort())) {
                    assertThat(again.statusLine).isEqualTo("HTTP/1.1 200 OK");
                }
            } finally {
                for (EventStreamClient c : open) {
                    c.close();
                }
            }
        }
    }

    @Test
    void aSubscriberThatDoesNotReadLosesItsConnection(@TempDir Path dir) throws Exception {
        try (DashboardBed bed = new DashboardBed(dir); Socket stalled = new Socket()) {
            bed.connectOrigin();
            stalled.setReceiveBufferSize(4096);
            stalled.connect(new java.net.InetSocketAddress("127.0.0.1", bed.adminPort()));
            stalled.getOutputStream().write("GET /api/events HTTP/1.1\r\nHost: localhost\r\n\r\n"
                    .getBytes(StandardCharsets.US_ASCII));
            try (EventStreamClient reader = new EventStreamClient(bed.adminPort())) {
                // Each round fills an event with up to 100 requests of long paths and hosts (about
                // 1 KB each); two such events past the kernel's small buffers exceed the stream's
                // high-water mark, and the next event finds the stalled stream still full.
                String path = "/" + "p".repeat(480);
                for (int round = 0; round < 2; round++) {
                    String last = "/last-of-round-" + round;
                    flood(bed.httpPort(), path, 120, last);
                    for (int events = 0; !list(reader.next(), "requests").stream()
                            .anyMatch(r -> last.equals(r.get("path"))); events++) {
                        assertThat(events).as("events until the flood's last request is in one").isLessThan(10);
                    }
                }
                reader.next();
                reader.next();
            }
            stalled.setSoTimeout(5_000);
            long read = 0;
            byte[] buf = new byte[64 * 1024];
            // A guard, not a wait: a stream still open after this long was never cut off.
            long guard = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            try {
                for (int n; (n = stalled.getInputStream().read(buf)) >= 0; ) {
                    read += n;
                    if (System.nanoTime() > guard) {
                        throw new SocketTimeoutException();
                    }
                }
            } catch (SocketTimeoutException e) {
                throw new AssertionError("the proxy kept a stream open that read nothing for seconds (" + read
                        + " bytes buffered)");
            }
            // What was in flight when it closed: the kernel's buffers and at most the mark plus an event.
            assertThat(read).isLessThan(1024 * 1024);
        }
    }

    /**
     * {@code n} pipelined GETs of {@code path} on one connection, then one of {@code last}; returns
     * once all are answered.
     */
    private static void flood(int port, String path, int n, String last) throws IOException {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < n; i++) {
            b.append("GET ").append(path).append(" HTTP/1.1\r\nHost: ").append(LONG_HOST).append("\r\n\r\n");
        }
        b.append("GET ").append(last).append(" HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n");
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(10_000);
            s.getOutputStream().write(b.toString().getBytes(StandardCharsets.US_ASCII));
            String all = DashboardBed.readAll(s.getInputStream());
            assertThat(all.split("HTTP/1.1 404", -1)).hasSize(n + 2);
        }
    }

    private static void assertSecure(Map<String, String> headers) {
        assertThat(headers.get("content-security-policy")).startsWith("default-src 'self'");
        assertThat(headers).containsEntry("x-content-type-options", "nosniff")
                .containsEntry("cache-control", "no-store");
    }

    private static Map<String, String> headers(String answer) {
        Map<String, String> h = new java.util.HashMap<>();
        for (String l : answer.substring(0, answer.indexOf("\r\n\r\n")).split("\r\n")) {
            int colon = l.indexOf(':');
            if (colon > 0 && !l.startsWith("HTTP/")) {
                h.put(l.substring(0, colon).toLowerCase(java.util.Locale.ROOT), l.substring(colon + 1).trim());
            }
        }
        return h;
    }

    private static String body(String answer) {
        return answer.substring(answer.indexOf("\r\n\r\n") + 4);
    }
}
