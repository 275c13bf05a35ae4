package io.spdyproxy.observe.metrics;

import static io.spdyproxy.observe.metrics.ProxyMetricsTest.value;
import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.EventLoopGroup;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.spdyproxy.origin.OriginClient;
import io.spdyproxy.origin.OriginConfig;
import io.spdyproxy.proxy.ProxyConfig;
import io.spdyproxy.proxy.ProxyServer;
import io.spdyproxy.tls.TlsContexts;
import io.spdyproxy.transport.Transport;
import io.spdyproxy.tunnel.StreamError;
import io.spdyproxy.tunnel.TunnelExchange;
import io.spdyproxy.tunnel.TunnelSession;
import java.io.InputStream;
import java.net.HttpURLConnection;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The origin's own {@code /metrics} (its {@code --admin-port}) after real traffic through a proxy. */
@Timeout(30)
class OriginMetricsTest {
    static final String TOKEN = "origin-metrics-token-0123456789";

    @TempDir
    Path tmp;
    private final EventLoopGroup loops = Transport.newGroup(1, "origin-metrics");
    private final BlockingQueue<TunnelSession> ups = new LinkedBlockingQueue<>();
    /** Released once per stream that ended at the origin (after the metrics counted it). */
    private final Semaphore ended = new Semaphore(0);
    private ProxyServer proxy;
    private OriginClient origin;
    private OriginMetrics metrics;
    private MetricsServer admin;

    @BeforeEach
    void start() throws Exception {
        proxy = ProxyServer.start(ProxyConfig.defaults(tmp).withBind("127.0.0.1").withPorts(0, 0, -1, -1)
                .withAuth(true, Map.of("default", ProxyConfig.hashToken(TOKEN))));
        metrics = new OriginMetrics(loops);
        OriginConfig c = OriginConfig.of("127.0.0.1", proxy.tunnelPort()).withCredentials("default", TOKEN)
                .withBackoff(Duration.ofMillis(20), Duration.ofMillis(200));
        origin = new OriginClient(c, TlsContexts.clientPinned(proxy.identity().fingerprint()),
                metrics.wrap(this::serve), loops).onTunnelUp((s, slot) -> {
                    metrics.sessionUp(s, slot);
                    ups.add(s);
                }).start();
        admin = MetricsServer.start(loops, 0, metrics);
        proxy.tunnelConnected("default").get(10, TimeUnit.SECONDS);
    }

    @AfterEach
    void stop() {
        if (origin != null) {
            origin.close();
        }
        if (admin != null) {
            admin.close();
        }
        if (metrics != null) {
            metrics.close();
        }
        if (proxy != null) {
            proxy.close();
        }
        loops.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    private void serve(TunnelExchange ex) {
        ex.onClose(cause -> ended.release());
        switch (ex.request().uri()) {
            case "/missing" -> ex.respond(HttpResponseStatus.NOT_FOUND, "text/plain", "none\n");
            case "/reset" -> ex.reset(StreamError.INTERNAL_ERROR);
            case "/hang" -> {
                var head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
                head.headers().set(HttpHeaderNames.CONTENT_LENGTH, 1000);
                ex.respond(head, false); // and never the body
            }
            default -> ex.respond(HttpResponseStatus.OK, "text/plain", "hello world\n");
        }
    }

    @Test
    void requestsSessionsAndResetsAsTheOriginSawThem() throws Exception {
        TunnelSession first = ups.poll(10, TimeUnit.SECONDS);
        exchange("GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        exchange("POST /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 10\r\n\r\n0123456789");
        exchange("GET /missing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        exchange("GET /reset HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        try (Socket s = new Socket("127.0.0.1", proxy.httpPort())) {
            s.setSoLinger(true, 0);
            s.getOutputStream().write("GET /hang HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            s.getInputStream().read();
        }
        assertThat(ended.tryAcquire(5, 10, TimeUnit.SECONDS)).isTrue();
        String m = scrape();
        assertThat(value(m, "spdyproxy_origin_requests_total", "class=\"2xx\"", "outcome=\"complete\"")).isEqualTo(2);
        assertThat(value(m, "spdyproxy_origin_requests_total", "class=\"4xx\"")).isEqualTo(1);
        assertThat(value(m, "spdyproxy_origin_requests_total", "class=\"2xx\"", "outcome=\"reset\"")).isEqualTo(1);
        assertThat(value(m, "spdyproxy_origin_resets_total", "direction=\"sent\"", "reason=\"internal_error\""))
                .isEqualTo(1);
        assertThat(value(m, "spdyproxy_origin_resets_total", "direction=\"received\"", "reason=\"cancel\""))
                .isEqualTo(1);
        assertThat(value(m, "spdyproxy_origin_received_bytes_total")).isEqualTo(10);
        assertThat(value(m, "spdyproxy_origin_sent_bytes_total")).isEqualTo(12 + 12 + 5);
        assertThat(value(m, "spdyproxy_origin_request_duration_seconds_count")).isEqualTo(5);
        assertThat(value(m, "spdyproxy_origin_request_first_byte_seconds_count")).isEqualTo(4);
        assertThat(value(m, "spdyproxy_origin_requests_active")).isEqualTo(0);
        assertThat(value(m, "spdyproxy_origin_sessions", "slot=\"0\"")).isEqualTo(1);
        assertThat(m).contains("jvm_memory_used_bytes{", "netty_eventexecutor_tasks_pending{");

        first.close().get(10, TimeUnit.SECONDS); // the slot dials again
        assertThat(ups.poll(10, TimeUnit.SECONDS)).isNotNull();
        m = scrape();
        assertThat(value(m, "spdyproxy_origin_connects_total")).isEqualTo(2);
        assertThat(value(m, "spdyproxy_origin_reconnects_total")).isEqualTo(1);
        assertThat(value(m, "spdyproxy_origin_sessions", "slot=\"0\"")).isEqualTo(1);
    }

    @Test
    void onlyMetricsIsServed() throws Exception {
        HttpURLConnection c = (HttpURLConnection) URI.create("http://127.0.0.1:" + admin.port() + "/other")
                .toURL().openConnection();
        assertThat(c.getResponseCode()).isEqualTo(404);
    }

    private String scrape() throws Exception {
        HttpURLConnection c = (HttpURLConnection) URI.create("http://127.0.0.1:" + admin.port() + "/metrics")
                .toURL().openConnection();
        assertThat(c.getResponseCode()).isEqualTo(200);
        assertThat(c.getContentType()).isEqualTo("text/plain; version=0.0.4; charset=utf-8");
        try (InputStream in = c.getInputStream()) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    private String exchange(String request) throws Exception {
        try (Socket s = new Socket("127.0.0.1", proxy.httpPort())) {
            s.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
            return new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
        }
    }
}
