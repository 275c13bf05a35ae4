package io.spdyproxy.observe.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.EventLoopGroup;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.spdyproxy.observe.RequestRecord;
import io.spdyproxy.origin.OriginClient;
import io.spdyproxy.origin.OriginConfig;
import io.spdyproxy.proxy.ProxyConfig;
import io.spdyproxy.proxy.ProxyServer;
import io.spdyproxy.tls.TlsContexts;
import io.spdyproxy.transport.Transport;
import io.spdyproxy.tunnel.StreamError;
import io.spdyproxy.tunnel.Tunnel;
import io.spdyproxy.tunnel.TunnelExchange;
import io.spdyproxy.tunnel.handshake.TunnelProtocol;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.HttpURLConnection;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The proxy's {@code /metrics} over a real socket, after real traffic through a proxy and an
 * origin: the per-tunnel series carry the values the traffic made.
 */
@Timeout(30)
class ProxyMetricsTest {
    static final String TOKEN = "metrics-token-0123456789abcdef";

    @TempDir
    Path tmp;
    private final EventLoopGroup originLoops = Transport.newGroup(1, "metrics-origin");
    private final BlockingQueue<RequestRecord> records = new LinkedBlockingQueue<>();
    private final CompletableFuture<Void> abortedSeen = new CompletableFuture<>();
    private ProxyServer proxy;
    private OriginClient origin;

    TunnelProtocol.Kind tunnelProtocol() {
        return TunnelProtocol.Kind.SPDY;
    }

    @BeforeEach
    void start() throws Exception {
        proxy = ProxyServer.start(ProxyConfig.defaults(tmp).withBind("127.0.0.1").withPorts(0, 0, -1, 0)
                .withAuth(true, Map.of("default", ProxyConfig.hashToken(TOKEN))));
        proxy.onRequest(records::add); // after the metrics: a record here means it was counted
        OriginConfig c = OriginConfig.of("127.0.0.1", proxy.tunnelPort()).withCredentials("default", TOKEN)
                .withBackoff(Duration.ofMillis(20), Duration.ofMillis(200)).withTunnelProtocol(tunnelProtocol());
        origin = new OriginClient(c, TlsContexts.clientPinned(proxy.identity().fingerprint()), this::serve,
                originLoops).start();
        proxy.tunnelConnected("default").get(10, TimeUnit.SECONDS);
    }

    @AfterEach
    void stop() throws Exception {
        if (origin != null) {
            origin.close();
        }
        if (proxy != null) {
            proxy.close();
        }
        originLoops.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    private void serve(TunnelExchange ex) {
        String path = ex.request().uri();
        switch (path) {
            case "/missing" -> ex.respond(HttpResponseStatus.NOT_FOUND, "text/plain", "none\n");
            case "/reset" -> ex.reset(StreamError.INTERNAL_ERROR);
            case "/hang" -> {
                ex.onClose(cause -> abortedSeen.complete(null));
                var head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
                head.headers().set(HttpHeaderNames.CONTENT_LENGTH, 1000);
                ex.respond(head, false); // and never the body
            }
            default -> ex.respond(HttpResponseStatus.OK, "text/plain", "hello world\n"); // 12 bytes
        }
    }

    @Test
    void tunnelSeriesCountWhatTheTrafficDid() throws Exception {
        assertThat(get("/a")).startsWith("HTTP/1.1 200");
        post("/b", "0123456789");
        assertThat(get("/missing")).startsWith("HTTP/1.1 404");
        assertThat(get("/reset")).startsWith("HTTP/1.1 502");
        for (int i = 0; i < 4; i++) {
            next();
        }
        String m = scrape();
        String t = "tunnel=\"default\"";
        assertThat(value(m, "spdyproxy_tunnel_requests_total", "class=\"2xx\"", "outcome=\"complete\"", t))
                .isEqualTo(2);
        assertThat(value(m, "spdyproxy_tunnel_requests_total", "class=\"4xx\"", "outcome=\"complete\"", t))
                .isEqualTo(1);
        assertThat(value(m, "spdyproxy_tunnel_requests_total", "class=\"5xx\"", t)).isEqualTo(1);
        assertThat(value(m, "spdyproxy_tunnel_sent_bytes_total", t)).isGreaterThanOrEqualTo(24 + 5);
        assertThat(value(m, "spdyproxy_tunnel_received_bytes_total", t)).isEqualTo(10);
        assertThat(value(m, "spdyproxy_tunnel_resets_total", "direction=\"received\"", "reason=\"internal_error\"",
                t)).isEqualTo(1);
        assertThat(value(m, "spdyproxy_tunnel_sessions", t)).isEqualTo(1);
        assertThat(value(m, "spdyproxy_tunnel_connects_total", t)).isEqualTo(1);
        assertThat(value(m, "spdyproxy_tunnel_reconnects_total", t)).isEqualTo(0);
        assertThat(value(m, "spdyproxy_tunnel_request_duration_seconds_count", t)).isEqualTo(4);
        assertThat(value(m, "spdyproxy_tunnel_request_duration_seconds_bucket", "le=\"60.0\"", t)).isEqualTo(4);
        assertThat(value(m, "spdyproxy_tunnel_request_first_byte_seconds_count", t)).isEqualTo(4);
        assertThat(value(m, "spdyproxy_connections_total", "listener=\"http\"")).isEqualTo(4);
        assertThat(value(m, "spdyproxy_connections_open", "listener=\"admin\"")).isGreaterThanOrEqualTo(1);
        assertThat(value(m, "spdyproxy_connections_total", "listener=\"tunnel\"")).isEqualTo(1);
        // The process: JVM, event loops, direct memory.
        assertThat(m).contains("jvm_memory_used_bytes{", "jvm_gc_", "jvm_threads_live_threads",
                "jvm_classes_loaded_classes", "process_uptime_seconds", "process_cpu_usage",
                "netty_eventexecutor_tasks_pending{", "spdyproxy_direct_memory_used_bytes",
                "# TYPE spdyproxy_tunnel_request_duration_seconds histogram");
    }

    @Test
    void aClientThatGoesAwayIsACancelSent() throws Exception {
        try (Socket s = new Socket("127.0.0.1", proxy.httpPort())) {
            s.setSoLinger(true, 0); // close with a TCP reset: gone, not half-closed
            s.getOutputStream().write("GET /hang HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            InputStream in = s.getInputStream();
            in.read(); // the head is on its way: the origin's stream is open
        }
        assertThat(next().outcome()).isEqualTo(RequestRecord.Outcome.CLIENT_ABORTED);
        abortedSeen.get(10, TimeUnit.SECONDS); // the RST reached the origin: the proxy had sent it
        String m = scrape();
        assertThat(value(m, "spdyproxy_tunnel_resets_total", "direction=\"sent\"", "reason=\"cancel\"",
                "tunnel=\"default\"")).isEqualTo(1);
        assertThat(value(m, "spdyproxy_tunnel_requests_total", "class=\"2xx\"", "outcome=\"client_aborted\"",
                "tunnel=\"default\"")).isEqualTo(1);
    }

    @Test
    void aSessionOfANameThatHadOneIsAReconnect() throws Exception {
        Tunnel first = proxy.tunnelConnected("default").get(10, TimeUnit.SECONDS);
        first.session().close().get(10, TimeUnit.SECONDS);
        Tunnel second = first;
        while (second == first) { // at most until the registry has heard of the close
            second = proxy.tunnelConnected("default").get(10, TimeUnit.SECONDS);
        }
        String m = scrape();
        assertThat(value(m, "spdyproxy_tunnel_reconnects_total", "tunnel=\"default\"")).isEqualTo(1);
        assertThat(value(m, "spdyproxy_tunnel_connects_total", "tunnel=\"default\"")).isEqualTo(2);
        assertThat(value(m, "spdyproxy_connections_total", "listener=\"tunnel\"")).isEqualTo(2);
    }

    @Test
    void unknownNamesAndUnroutedRequestsShareBoundedSeries() throws Exception {
        proxy.close();
        proxy = ProxyServer.start(ProxyConfig.defaults(tmp).withBind("127.0.0.1").withPorts(0, 0, -1, 0)
                .withDomain("example.test", "default"));
        proxy.onRequest(records::add);
        assertThat(exchange("GET / HTTP/1.1\r\nHost: nobody.example.test\r\nConnection: close\r\n\r\n"))
                .startsWith("HTTP/1.1 503");
        next();
        String m = scrape();
        assertThat(value(m, "spdyproxy_tunnel_requests_total", "class=\"5xx\"", "tunnel=\"_other\"")).isEqualTo(1);
        assertThat(m).doesNotContain("tunnel=\"nobody\"");
    }

    static double value(String metrics, String name, String... labels) {
        Matcher mt = Pattern.compile("(?m)^" + Pattern.quote(name) + "(?:\\{([^}]*)\\})? (\\S+)$").matcher(metrics);
        double sum = 0;
        boolean found = false;
        while (mt.find()) {
            String l = mt.group(1) == null ? "" : mt.group(1);
            boolean all = true;
            for (String want : labels) {
                all &= l.contains(want);
            }
            if (all) {
                sum += Double.parseDouble(mt.group(2));
                found = true;
            }
        }
        assertThat(found).as(name + " " + String.join(",", labels) + " in\n" + metrics).isTrue();
        return sum;
    }

    private RequestRecord next() throws InterruptedException {
        RequestRecord r = records.poll(10, TimeUnit.SECONDS);
        assertThat(r).as("a record").isNotNull();
        return r;
    }

    private String scrape() throws Exception {
        HttpURLConnection c = (HttpURLConnection) URI.create("http://127.0.0.1:" + proxy.adminPort() + "/metrics")
                .toURL().openConnection();
        assertThat(c.getResponseCode()).isEqualTo(200);
        assertThat(c.getContentType()).isEqualTo("text/plain; version=0.0.4; charset=utf-8");
        try (InputStream in = c.getInputStream()) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    private String get(String path) throws Exception {
        return exchange("GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    }

    private String post(String path, String body) throws Exception {
        return exchange("POST " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: "
                + body.length() + "\r\n\r\n" + body);
    }

    private String exchange(String request) throws Exception {
        try (Socket s = new Socket("127.0.0.1", proxy.httpPort())) {
            OutputStream out = s.getOutputStream();
            out.write(request.getBytes(StandardCharsets.ISO_8859_1));
            return new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
        }
    }
}
