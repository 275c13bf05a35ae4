package io.spdyproxy.origin.upstream;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.EventLoopGroup;
import io.spdyproxy.origin.OriginClient;
import io.spdyproxy.origin.OriginConfig;
import io.spdyproxy.origin.upstream.H2TestApp.Kind;
import io.spdyproxy.proxy.ProxyConfig;
import io.spdyproxy.proxy.ProxyIdentity;
import io.spdyproxy.proxy.ProxyServer;
import io.spdyproxy.testing.TestCerts;
import io.spdyproxy.tls.TlsContexts;
import io.spdyproxy.transport.Transport;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The whole path with an HTTP/2 or TLS app: an HTTP/1.1 client at the proxy's front end, the
 * proxy, the SPDY tunnel, the real origin ({@link OriginClient}) with {@code --upstream h2c://}
 * or {@code https://}, and the app ({@link H2TestApp}).
 */
class Http2UpstreamThroughProxyTest {
    private static final String TOKEN = "h2up-bed-token-0123456789abcdef";

    @ParameterizedTest
    @EnumSource(Kind.class)
    @Timeout(120)
    void getsAndLargePostsPassThroughTheTunnelToTheApp(Kind kind, @TempDir Path dir) throws Exception {
        EventLoopGroup loops = Transport.newGroup(1, "h2up-bed");
        ProxyConfig config = ProxyConfig.defaults(dir.resolve("proxy")).withBind("127.0.0.1").withPorts(0, 0, 0, -1)
                .withAuth(true, Map.of("default", ProxyConfig.hashToken(TOKEN)));
        try (H2TestApp app = new H2TestApp(loops, kind, TestCerts.LOCALHOST, 100);
                ProxyServer proxy = ProxyServer.start(config, new ProxyIdentity(TestCerts.LOCALHOST,
                        config.tokenHashes(), null))) {
            UpstreamConfig upstream = UpstreamConfig.of(app.url("localhost"));
            if (kind != Kind.H2C) {
                upstream = upstream.withTrust(TestCerts.LOCALHOST.certificate(), false);
            }
            ReverseProxyHandler handler = new ReverseProxyHandler(upstream);
            OriginClient origin = new OriginClient(OriginConfig.of("127.0.0.1", proxy.tunnelPort())
                    .withCredentials("default", TOKEN), TlsContexts.clientPinned(proxy.identity().fingerprint()),
                    handler, loops).start();
            try {
                proxy.tunnelConnected("default").get(10, TimeUnit.SECONDS);
                HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                        .connectTimeout(Duration.ofSeconds(5)).build();
                String base = "http://127.0.0.1:" + proxy.httpPort();

                List<CompletableFuture<HttpResponse<String>>> gets = new ArrayList<>();
                for (int i = 0; i < 20; i++) {
                    gets.add(http.sendAsync(HttpRequest.newBuilder(URI.create(base + "/hello?i=" + i)).build(),
                            HttpResponse.BodyHandlers.ofString()));
                }
                for (int i = 0; i < 20; i++) {
                    HttpResponse<String> r = gets.get(i).get(30, TimeUnit.SECONDS);
                    assertThat(r.statusCode()).isEqualTo(200);
                    assertThat(r.body()).isEqualTo("hello /hello?i=" + i);
                }
                if (kind != Kind.HTTP1_TLS) {
                    assertThat(app.accepted.get()).as("one multiplexed connection for 20 requests").isEqualTo(1);
                }

                int up = 4 * 1024 * 1024 + 7;
                int down = 4 * 1024 * 1024 + 11;
                byte[] body = new byte[up];
                for (int i = 0; i < up; i++) {
                    body[i] = H2TestApp.PATTERN[i % H2TestApp.P];
                }
                HttpResponse<InputStream> r = http.send(HttpRequest.newBuilder(URI.create(base + "/upload?n=" + down))
                        .POST(HttpRequest.BodyPublishers.ofByteArray(body)).build(),
                        HttpResponse.BodyHandlers.ofInputStream());
                assertThat(r.statusCode()).isEqualTo(200);
                CRC32 crc = new CRC32();
                long n = 0;
                try (InputStream in = r.body()) {
                    byte[] buf = new byte[64 * 1024];
                    for (int k; (k = in.read(buf)) > 0; n += k) {
                        crc.update(buf, 0, k);
                    }
                }
                assertThat(n).isEqualTo(down);
                assertThat(crc.getValue()).isEqualTo(H2TestApp.patternCrc(down));
                H2TestApp.Seen seen = app.seen("/upload?n=" + down);
                assertThat(seen.http2()).isEqualTo(kind != Kind.HTTP1_TLS);
                assertThat(seen.bodyBytes()).isEqualTo(up);
                assertThat(seen.bodyCrc()).isEqualTo(H2TestApp.patternCrc(up));
            } finally {
                origin.close();
                handler.close();
            }
        } finally {
            loops.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }
}
