package io.spdyproxy.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.ssl.SslContext;
import io.spdyproxy.origin.OriginClient;
import io.spdyproxy.origin.OriginConfig;
import io.spdyproxy.testing.ChecksumHandler;
import io.spdyproxy.testing.FaultRelay;
import io.spdyproxy.tls.TlsContexts;
import io.spdyproxy.transport.Transport;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The HTTP/2 front end end to end on loopback: a Netty HTTP/2 client against the proxy's HTTPS
 * port (ALPN h2) and plain port (prior knowledge), through a real TLS tunnel to an in-process app
 * ({@link H2TestApp}): requests and bodies with checksums, header mapping, trailers both ways,
 * many streams on one connection, flow control per stream, resets both ways, routing, GOAWAY.
 */
@Timeout(60)
class Http2FrontendTest {
    @TempDir
    Path tmp;
    private EventLoopGroup clientLoops;
    private ProxyBed bed;
    private H2TestApp app;
    private final List<AutoCloseable> clients = new ArrayList<>();
    static final SslContext H2_TLS = TlsContexts.client(null, List.of("h2"));

    @BeforeEach
    void setUp() throws Exception {
        clientLoops = Transport.newGroup(1, "h2-client");
    }

    @AfterEach
    void tearDown() throws Exception {
        for (AutoCloseable c : clients) {
            c.close();
        }
        if (bed != null) {
            bed.close();
        }
        clientLoops.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    private void start(UnaryOperator<ProxyConfig> tweak) throws Exception {
        bed = new ProxyBed(tmp, c -> tweak.apply(c.withPorts(0, 0, 0, -1)));
        app = new H2TestApp("default");
        bed.origin("default", app);
    }

    private void start() throws Exception {
        start(UnaryOperator.identity());
    }

    private H2TestClient tls() throws Exception {
        H2TestClient c = H2TestClient.connect(clientLoops, bed.proxy.httpsPort(), H2_TLS);
        clients.add(c);
        return c;
    }

    private H2TestClient h2c() throws Exception {
        H2TestClient c = H2TestClient.connect(clientLoops, bed.proxy.httpPort(), null);
        clients.add(c);
        return c;
    }

    static HttpRequest request(HttpMethod method, String path, String authority) {
        HttpRequest r = new DefaultHttpRequest(HttpVersion.HTTP_1_1, method, path);
        r.headers().set(HttpHeaderNames.HOST, authority);
        return r;
    }

    static HttpRequest get(String path) {
        return request(HttpMethod.GET, path, "app.example");
    }

    private static H2TestClient.Reply await(CompletableFuture<H2TestClient.Reply> f) throws Exception {
        return f.get(30, TimeUnit.SECONDS);
    }

    // ---- the basics over both ports -----------------------------------------------------------

    @Test
    void getOverHttpsNegotiatesH2AndOverThePlainPortByPriorKnowledge() throws Exception {
        start();
        H2TestClient overTls = tls();
        assertThat(overTls.alpn()).isEqualTo("h2");
        H2TestClient.Reply r = await(overTls.get(get("/headers")));
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.reset()).isNull();
        assertThat(r.text()).contains("host: app.example").contains("x-forwarded-proto: https")
                .contains("x-forwarded-for: 127.0.0.1").doesNotContain("x-http2-");

        H2TestClient.Reply plain = await(h2c().get(get("/headers")));
        assertThat(plain.status()).isEqualTo(200);
        assertThat(plain.text()).contains("x-forwarded-proto: http\n").doesNotContain("x-http2-");
    }

    @Test
    void http1StillWorksOnBothPorts() throws Exception {
        start();
        try (Socket s = new Socket("127.0.0.1", bed.port())) {
            OutputStream out = s.getOutputStream();
            out.write("GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            String answer = new String(s.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
            assertThat(answer).startsWith("HTTP/1.1 200").endsWith("default");
        }
        var https = java.net.http.HttpClient.newBuilder().version(java.net.http.HttpClient.Version.HTTP_1_1)
                .sslContext(insecureJdk()).build();
        var r = https.send(java.net.http.HttpRequest.newBuilder(
                java.net.URI.create("https://127.0.0.1:" + bed.proxy.httpsPort() + "/x")).build(),
                java.net.http.HttpResponse.BodyHandlers.ofString());
        assertThat(r.version()).isEqualTo(java.net.http.HttpClient.Version.HTTP_1_1);
        assertThat(r.body()).isEqualTo("default");
        // A JDK client that offers h2 gets h2 over TLS.
        var h2 = java.net.http.HttpClient.newBuilder().version(java.net.http.HttpClient.Version.HTTP_2)
                .sslContext(insecureJdk()).build();
        var r2 = h2.send(java.net.http.HttpRequest.newBuilder(
                java.net.URI.create("https://127.0.0.1:" + bed.proxy.httpsPort() + "/x")).build(),
                java.net.http.HttpResponse.BodyHandlers.ofString());
        assertThat(r2.version()).isEqualTo(java.net.http.HttpClient.Version.HTTP_2);
        assertThat(r2.body()).isEqualTo("default");
    }

    static javax.net.ssl.SSLContext insecureJdk() throws Exception {
        javax.net.ssl.SSLContext ctx = javax.net.ssl.SSLContext.getInstance("TLS");
        ctx.init(null, io.netty.handler.ssl.util.InsecureTrustManagerFactory.INSTANCE.getTrustManagers(), null);
        return ctx;
    }

    @Test
    void postAndLargeUploadAndDownloadKeepTheirChecksums() throws Exception {
        start();
        for (boolean overTls : new boolean[] {true, false}) {
            H2TestClient c = overTls ? tls() : h2c();
            byte[] small = "hello h2".getBytes(StandardCharsets.UTF_8);
            HttpRequest post = request(HttpMethod.POST, "/upload", "app.example");
            post.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, small.length);
            H2TestClient.Reply r = await(c.send(post, List.of(Unpooled.wrappedBuffer(small)), null, true));
            assertThat(r.text()).isEqualTo(ChecksumHandler.summary(small.length, crc(small)));

            // 8 MiB up, in 64 KiB chunks, no declared length (the proxy chunks it to the tunnel).
            byte[] big = new byte[8 * 1024 * 1024];
            new SplittableRandom(7).nextBytes(big);
            List<ByteBuf> chunks = new ArrayList<>();
            for (int i = 0; i < big.length; i += 65536) {
                chunks.add(Unpooled.wrappedBuffer(big, i, 65536));
            }
            H2TestClient.Reply up = await(c.send(request(HttpMethod.POST, "/upload", "app.example"), chunks, null,
                    true));
            assertThat(up.text()).isEqualTo(ChecksumHandler.summary(big.length, crc(big)));

            long n = 16L * 1024 * 1024 + 17;
            H2TestClient.Reply down = await(c.get(get("/big?n=" + n)));
            assertThat(down.reset()).isNull();
            assertThat(down.bytes()).isEqualTo(n);
            assertThat(down.crc32c()).isEqualTo(H2TestApp.patternCrc(n));
            assertThat(down.head().headers().get(HttpHeaderNames.CONTENT_LENGTH)).isEqualTo(String.valueOf(n));
            H2TestClient.Reply chunked = await(c.get(get("/big?chunked&n=100000")));
            assertThat(chunked.bytes()).isEqualTo(100000);
            assertThat(chunked.crc32c()).isEqualTo(H2TestApp.patternCrc(100000));
            // No connection-specific field reaches an HTTP/2 client (RFC 9113 section 8.2.2): the
            // client's decoder validates them and would have failed the stream. (Its conversion
            // adds transfer-encoding for its own HTTP/1-style view.)
            assertThat(chunked.head().headers().names()).doesNotContain("connection", "keep-alive", "upgrade");
        }
    }

    static long crc(byte[] b) {
        CRC32C c = new CRC32C();
        c.update(b);
        return c.getValue();
    }

    @Test
    void cookiesAreJoinedAndTeTrailersPassesAndExpectContinueWorks() throws Exception {
        start();
        H2TestClient c = tls();
        HttpRequest r = get("/headers");
        // HTTP/2 clients send each cookie as its own field (RFC 9113 section 8.2.3).
        r.headers().add(HttpHeaderNames.COOKIE, "a=1; b=2");
        r.headers().add(HttpHeaderNames.TE, "trailers");
        H2TestClient.Reply reply = await(c.get(r));
        // (TE: trailers passes the front end; the SPDY tunnel drops TE as hop-by-hop today.)
        assertThat(reply.text()).contains("cookie: a=1; b=2\n");

        HttpRequest expect = request(HttpMethod.POST, "/upload", "app.example");
        expect.headers().set(HttpHeaderNames.EXPECT, "100-continue");
        expect.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, 3);
        H2TestClient.Reply up = await(c.send(expect, List.of(Unpooled.copiedBuffer("abc", StandardCharsets.UTF_8)),
                null, true));
        assertThat(up.status()).isEqualTo(200);
        assertThat(up.text()).isEqualTo(ChecksumHandler.summary(3, crc("abc".getBytes(StandardCharsets.UTF_8))));
    }

    @Test
    void trailersTravelBothWays() throws Exception {
        start();
        for (boolean overTls : new boolean[] {true, false}) {
            H2TestClient c = overTls ? tls() : h2c();
            HttpHeaders trailers = new DefaultHttpHeaders().set("x-checksum", "abc123");
            HttpRequest post = request(HttpMethod.POST, "/trailers", "app.example");
            post.headers().set(HttpHeaderNames.TE, "trailers");
            H2TestClient.Reply r = await(c.send(post, List.of(Unpooled.copiedBuffer("body", StandardCharsets.UTF_8)),
                    trailers, true));
            assertThat(r.reset()).isNull();
            assertThat(r.text()).isEqualTo("got body trailer abc123");
            assertThat(r.trailers().get("x-origin-trailer")).isEqualTo("done");
            assertThat(r.trailers().get("grpc-status")).isEqualTo("0");
        }
    }

    @Test
    void manyConcurrentStreamsOnOneConnection() throws Exception {
        start();
        H2TestClient c = h2c();
        List<CompletableFuture<H2TestClient.Reply>> all = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            all.add(c.get(get("/big?n=" + (1000 + i * 997))));
        }
        for (int i = 0; i < all.size(); i++) {
            H2TestClient.Reply r = await(all.get(i));
            long n = 1000 + i * 997L;
            assertThat(r.bytes()).isEqualTo(n);
            assertThat(r.crc32c()).isEqualTo(H2TestApp.patternCrc(n));
        }
    }

    @Test
    void aStreamTheClientDoesNotReadStallsOnlyItself() throws Exception {
        start();
        H2TestClient c = tls();
        long n = 32L * 1024 * 1024;
        CompletableFuture<H2TestClient.Reply> stalled = c.send(get("/big?n=" + n), List.of(), null, false);
        assertThat(app.bigStarted).succeedsWithin(Duration.ofSeconds(10));
        H2TestClient.Reply other = await(c.get(get("/big?n=" + n)));
        assertThat(other.bytes()).isEqualTo(n);
        assertThat(other.crc32c()).isEqualTo(H2TestApp.patternCrc(n));
        assertThat(stalled).isNotDone();
    }

    // ---- resets ------------------------------------------------------------------------------

    @Test
    void aClientResetMidDownloadResetsTheTunnelStream() throws Exception {
        start();
        H2TestClient c = h2c();
        CompletableFuture<Http2StreamChannel> stream = new CompletableFuture<>();
        c.send(get("/big?n=" + (64L * 1024 * 1024)), List.of(), null, false, stream);
        assertThat(app.bigStarted).succeedsWithin(Duration.ofSeconds(10));
        H2TestClient.reset(stream.get(10, TimeUnit.SECONDS));
        assertThat(app.bigClosed.poll(10, TimeUnit.SECONDS)).isEqualTo("CANCEL");
        // The connection goes on.
        assertThat(await(c.get(get("/x"))).text()).isEqualTo("default");
    }

    @Test
    void anOriginResetAfterTheHeadIsAResetForTheClientNeverACleanEnd() throws Exception {
        start();
        H2TestClient c = tls();
        H2TestClient.Reply r = await(c.get(get("/big?chunked&n=1000000&reset=200000")));
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.reset()).isNotNull();
        assertThat(r.bytes()).isLessThan(1000000);
        assertThat(await(c.get(get("/x"))).text()).isEqualTo("default");
    }

    @Test
    void theTunnelGoneMidStreamIsAResetForTheClient() throws Exception {
        start(c -> c.withDomain("tunnel.test", "default"));
        H2TestApp relayed = new H2TestApp("alpha");
        try (FaultRelay relay = new FaultRelay(bed.proxy.tunnelPort());
                OriginClient origin = new OriginClient(OriginConfig.of("127.0.0.1", relay.port())
                        .withCredentials("alpha", ProxyBed.TOKEN), TlsContexts.clientPinned(
                        bed.proxy.identity().fingerprint()), relayed, clientLoops).start()) {
            bed.proxy.tunnelConnected("alpha").get(10, TimeUnit.SECONDS);
            H2TestClient c = h2c();
            CompletableFuture<H2TestClient.Reply> f = c.send(
                    request(HttpMethod.GET, "/big?n=" + (64L * 1024 * 1024), "alpha.tunnel.test"), List.of(), null,
                    false);
            assertThat(c.lastHead).succeedsWithin(Duration.ofSeconds(10));
            relay.killAll(); // the tunnel's TCP connection breaks mid-response
            // The client reads now: what arrived, then a reset instead of an end.
            H2TestClient.Reply r = readAll(c, f);
            assertThat(r.status()).isEqualTo(200);
            assertThat(r.reset()).isNotNull();
            assertThat(r.bytes()).isLessThan(64L * 1024 * 1024);
            assertThat(await(c.get(get("/x"))).text()).isEqualTo("default");
        }
    }

    /** Lets the streams opened with {@code read} false read on until {@code f}'s ends. */
    private static H2TestClient.Reply readAll(H2TestClient c, CompletableFuture<H2TestClient.Reply> f)
            throws Exception {
        c.readAll();
        return f.get(30, TimeUnit.SECONDS);
    }

    // ---- routing and errors -------------------------------------------------------------------

    @Test
    void authorityRoutesLikeHostAndTenantsStayApart() throws Exception {
        start(c -> c.withDomain("tunnel.test", "default"));
        bed.origin("alpha", new H2TestApp("alpha"));
        bed.origin("beta", new H2TestApp("beta"));
        H2TestClient c = tls();
        assertThat(await(c.get(request(HttpMethod.GET, "/", "alpha.tunnel.test"))).text()).isEqualTo("alpha");
        assertThat(await(c.get(request(HttpMethod.GET, "/", "beta.tunnel.test:443"))).text()).isEqualTo("beta");
        assertThat(await(c.get(request(HttpMethod.GET, "/", "other.example"))).text()).isEqualTo("default");
        H2TestClient.Reply none = await(c.get(request(HttpMethod.GET, "/", "gamma.tunnel.test")));
        assertThat(none.status()).isEqualTo(503);
        assertThat(none.text()).contains("gamma");
    }

    @Test
    void refusedRequestsGetTheUsualAnswerPages() throws Exception {
        start();
        H2TestClient c = h2c();
        H2TestClient.Reply badHost = await(c.get(request(HttpMethod.GET, "/", "bad host")));
        assertThat(badHost.status()).isEqualTo(400);
        HttpRequest expect = get("/x");
        expect.headers().set(HttpHeaderNames.EXPECT, "something-else");
        assertThat(await(c.get(expect)).status()).isEqualTo(417);
        assertThat(await(c.get(get("/x"))).text()).isEqualTo("default");
    }

    // ---- shutdown and timeouts ---------------------------------------------------------------

    @Test
    void gracefulShutdownSendsGoAwayAndLetsAStreamInFlightFinish() throws Exception {
        start(c -> c.withTimeouts(Duration.ofSeconds(30), Duration.ofSeconds(10), Duration.ofSeconds(30)));
        H2TestClient c = tls();
        long n = 4L * 1024 * 1024;
        CompletableFuture<H2TestClient.Reply> f = c.send(get("/big?n=" + n), List.of(), null, false);
        assertThat(app.bigStarted).succeedsWithin(Duration.ofSeconds(10));
        CompletableFuture<Void> shutdown = CompletableFuture.runAsync(bed.proxy::shutdownGracefully);
        assertThat(c.goAway.get(10, TimeUnit.SECONDS)).isEqualTo(Http2Error.NO_ERROR.code());
        H2TestClient.Reply r = readAll(c, f);
        assertThat(r.reset()).isNull();
        assertThat(r.bytes()).isEqualTo(n);
        assertThat(r.crc32c()).isEqualTo(H2TestApp.patternCrc(n));
        shutdown.get(20, TimeUnit.SECONDS);
        assertThat(c.channel.closeFuture().await(10, TimeUnit.SECONDS)).isTrue();
    }

    @Test
    void aConnectionWithOnlyThePrefaceIsClosedByTheHeadTimeoutAndAnIdleOneByTheIdleTimeout() throws Exception {
        start(c -> c.withFrontend(Duration.ofMillis(400), Duration.ofMillis(300), false));
        try (Socket s = new Socket("127.0.0.1", bed.port())) {
            s.getOutputStream().write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            s.setSoTimeout(10_000);
            InputStream in = s.getInputStream();
            // The server's SETTINGS, then GOAWAY, then the close.
            while (in.read() >= 0) {
                // drain until closed
            }
        }
        H2TestClient c = h2c();
        assertThat(await(c.get(get("/x"))).text()).isEqualTo("default");
        assertThat(c.goAway.get(10, TimeUnit.SECONDS)).isEqualTo(Http2Error.NO_ERROR.code());
        assertThat(c.channel.closeFuture().await(10, TimeUnit.SECONDS)).isTrue();
    }
}
