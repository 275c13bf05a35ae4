package io.spdyproxy.observe.accesslog;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.EventLoopGroup;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.spdyproxy.observe.RequestRecord;
import io.spdyproxy.origin.OriginClient;
import io.spdyproxy.origin.OriginConfig;
import io.spdyproxy.proxy.ProxyConfig;
import io.spdyproxy.proxy.ProxyServer;
import io.spdyproxy.tls.TlsContexts;
import io.spdyproxy.transport.Transport;
import java.io.InputStream;
import java.net.HttpURLConnection;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Real requests through a proxy and an origin end up as access log lines, hostile bytes escaped. */
@Timeout(30)
class AccessLogThroughProxyTest {
    static final String TOKEN = "access-token-0123456789abcdef";

    @TempDir
    Path tmp;

    @Test
    void eachRequestIsOneLineInTheFile() throws Exception {
        EventLoopGroup loops = Transport.newGroup(1, "access-origin");
        BlockingQueue<RequestRecord> records = new LinkedBlockingQueue<>();
        Path file = tmp.resolve("access.log");
        ProxyServer proxy = ProxyServer.start(ProxyConfig.defaults(tmp).withBind("127.0.0.1")
                .withPorts(0, 0, -1, 0).withAuth(true, Map.of("default", ProxyConfig.hashToken(TOKEN))));
        AccessLog log = AccessLog.open(file.toString(), AccessLogFormat.JSON);
        OriginClient origin = null;
        try {
            proxy.onRequest(log);
            log.bindTo(proxy.metrics().registry());
            proxy.onRequest(records::add); // after the log: a record here was handed to it
            OriginConfig c = OriginConfig.of("127.0.0.1", proxy.tunnelPort()).withCredentials("default", TOKEN);
            origin = new OriginClient(c, TlsContexts.clientPinned(proxy.identity().fingerprint()),
                    ex -> ex.respond(HttpResponseStatus.OK, "text/plain", "hi\n"), loops).start();
            proxy.tunnelConnected("default").get(10, TimeUnit.SECONDS);
            try (Socket s = new Socket("127.0.0.1", proxy.httpPort())) {
                s.getOutputStream().write(("GET /a\"b?x=\\y HTTP/1.1\r\nHost: shop.test\r\nUser-Agent: evil\"ua\r\n"
                        + "Connection: close\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
                assertThat(new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1))
                        .startsWith("HTTP/1.1 ");
            }
            RequestRecord r = records.poll(10, TimeUnit.SECONDS);
            assertThat(r).isNotNull();
            HttpURLConnection m = (HttpURLConnection) URI.create("http://127.0.0.1:" + proxy.adminPort() + "/metrics")
                    .toURL().openConnection();
            try (InputStream in = m.getInputStream()) {
                assertThat(new String(in.readAllBytes(), StandardCharsets.UTF_8))
                        .contains("spdyproxy_access_log_dropped_total 0.0");
            }
        } finally {
            log.close();
            if (origin != null) {
                origin.close();
            }
            proxy.close();
            loops.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
        List<String> lines = Files.readAllLines(file);
        assertThat(lines).hasSize(1);
        String line = lines.get(0);
        assertThat(line).contains("\"client\":\"127.0.0.1\"", "\"tunnel\":\"default\"", "\"method\":\"GET\"",
                "\"host\":\"shop.test\"", "\"protocol\":\"HTTP/1.1\"", "\"scheme\":\"http\"", "\"outcome\":\"complete\"");
        assertThat(line).contains("\"status\":200", "\"path\":\"/a\\\"b?x=\\\\y\"", "\"bytes_out\":3",
                "\"user_agent\":\"evil\\\"ua\"");
    }
}
