package io.spdyproxy.proxy;

import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.spdyproxy.origin.OriginClient;
import io.spdyproxy.origin.OriginConfig;
import io.spdyproxy.origin.files.FileServerConfig;
import io.spdyproxy.origin.files.StaticFileHandler;
import io.spdyproxy.spdy.SpdyError;
import io.spdyproxy.spdy.SpdyRole;
import io.spdyproxy.tunnel.TunnelSession;
import io.spdyproxy.spdy.SpdySessionConfig;
import io.spdyproxy.spdy.SpdySessionListener;
import io.spdyproxy.spdy.SpdyStreamException;
import io.spdyproxy.tunnel.BodyListener;
import io.spdyproxy.tunnel.TunnelExchange;
import io.spdyproxy.tunnel.RequestHandler;
import io.spdyproxy.testing.ChecksumHandler;
import io.spdyproxy.tls.TlsContexts;
import io.spdyproxy.transport.Transport;
import io.spdyproxy.tunnel.Tunnel;
import io.spdyproxy.tunnel.handshake.TunnelAuthenticator.Decision;
import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse.BodyHandlers;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Queue;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import java.util.zip.CRC32C;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The proxy's front-end features end to end on loopback (P and origins in-process, token auth,
 * pinned certificate, HTTP/1.1 clients): host routing, HTTPS, forwarding headers, request bodies,
 * malformed requests, keep-alive, retry on a refusing tunnel, graceful shutdown of P and of an
 * origin; plus unit tests of {@link Router}, {@link TokenAuthenticator} and the tokens file.
 */
@Timeout(60)
class ProxyFeaturesTest {
    private static final String TOKEN = "features-token-0123456789abcdef";

    @TempDir
    Path tmp;
    private final Deque<AutoCloseable> resources = new ArrayDeque<>();
    private final List<EmbeddedChannel> embedded = new ArrayList<>();
    private EventLoopGroup originLoops;
    private ExecutorService background;
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();

    /** The tunnel protocol the origins ask for; a subclass runs every test over HTTP/2. */
    io.spdyproxy.tunnel.handshake.TunnelProtocol.Kind tunnelProtocol() {
        return io.spdyproxy.tunnel.handshake.TunnelProtocol.Kind.SPDY;
    }

    @BeforeEach
    void setUp() {
        originLoops = Transport.newGroup(2, "features-origin");
        background = Executors.newCachedThreadPool();
    }

    @AfterEach
    void tearDown() throws Exception {
        Exception first = null;
        while (!resources.isEmpty()) {
            try {
                resources.pop().close();
            } catch (Exception e) {
                first = first == null ? e : first;
            }
        }
        for (EmbeddedChannel ch : embedded) {
            ch.finishAndReleaseAll();
        }
        background.shutdownNow();
        assertThat(background.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
        originLoops.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        if (first != null) {
            throw first;
        }
    }

    // ---- 1. host routing ---------------------------------------------------------------------

    @Test
    void hostsRouteToTheirOwnTunnelOnlyAndHostsOutsideTheDomainToTheDefault() throws Exception {
        ProxyServer p = startProxy(config(Map.of("alpha", "alpha-token", "beta", "beta-token",
                "default", "default-token")).withDomain("tunnel.test", "default"));
        startOrigin(p, "alpha", "alpha-token", named("alpha"));
        startOrigin(p, "beta", "beta-token", named("beta"));
        OriginClient def = startOrigin(p, "default", "default-token", named("default"));
        await(() -> tunnelNames(p).equals(List.of("alpha", "beta", "default")), Duration.ofSeconds(10),
                () -> "tunnels at P: " + tunnelNames(p));

        Map<String, String> expected = new LinkedHashMap<>();
        expected.put("alpha.tunnel.test", "alpha");
        expected.put("BETA.tunnel.test:1443", "beta");   // case and port do not matter
        expected.put("beta.tunnel.test", "beta");
        expected.put("Alpha.Tunnel.Test", "alpha");
        expected.put("other.example", "default");
        expected.put("gamma.tunnel.test", null);         // no such tunnel: never another tenant's
        expected.put("tunnel.test", "default");          // the bare domain
        expected.put("x.alpha.tunnel.test", null);       // nested names are not tunnel names
        expected.put(".tunnel.test", null);
        expected.put("127.0.0.1:" + p.httpPort(), "default");
        for (Map.Entry<String, String> e : expected.entrySet()) {
            Reply r = getWithHost(p.httpPort(), e.getKey(), "/who");
            if (e.getValue() == null) {
                assertThat(r.status()).as("Host %s", e.getKey()).isEqualTo(503);
                assertThat(r.text()).as("Host %s", e.getKey()).contains("no tunnel connected");
            } else {
                assertThat(r.status()).as("Host %s", e.getKey()).isEqualTo(200);
                assertThat(r.text()).as("Host %s", e.getKey()).isEqualTo(e.getValue());
            }
        }

        // Without a default tunnel, what no name matches gets 503 naming the tunnel it wanted.
        def.close();
        await(() -> tunnelNames(p).equals(List.of("alpha", "beta")), Duration.ofSeconds(10),
                () -> "tunnels at P: " + tunnelNames(p));
        Reply other = getWithHost(p.httpPort(), "other.example", "/who");
        Reply gamma = getWithHost(p.httpPort(), "gamma.tunnel.test", "/who");
        Reply alpha = getWithHost(p.httpPort(), "alpha.tunnel.test", "/who");

        assertThat(other.status()).isEqualTo(503);
        assertThat(other.text()).contains("'default'");
        assertThat(gamma.status()).isEqualTo(503);
        assertThat(gamma.text()).contains("'gamma'");
        assertThat(alpha.status()).isEqualTo(200);
        assertThat(alpha.text()).isEqualTo("alpha");
    }

    // ---- 2. Router, TokenAuthenticator, tokens file ------------------------------------------

    @Test
    void routerGivesAHostUnderTheDomainOnlyItsOwnTunnelNeverTheDefault() {
        Router r = new Router("Tunnel.Test", "default");

        assertThat(r.route("alpha.tunnel.test")).isEqualTo("alpha");
        assertThat(r.route("ALPHA.TUNNEL.TEST:1443")).isEqualTo("alpha");
        assertThat(r.route("alpha.tunnel.test:")).isEqualTo("alpha");
        assertThat(r.route("alpha.tunnel.test.")).as("absolute form").isEqualTo("alpha");
        assertThat(r.route("beta.tunnel.test")).as("not connected: 503, not the default").isEqualTo("beta");
        assertThat(r.route("a.b.tunnel.test")).as("nested: no such tunnel").isEqualTo("a.b");
        assertThat(r.route("x.alpha.tunnel.test")).as("nested: no such tunnel").isEqualTo("x.alpha");
        assertThat(r.route(".tunnel.test")).as("empty name: no such tunnel").isEmpty();
        assertThat(r.route(".tunnel.test:80")).as("empty name: no such tunnel").isEmpty();
        assertThat(r.route("alpha.tunnel.test.evil.example")).isEqualTo("default");
        assertThat(r.route("alphatunnel.test")).isEqualTo("default");
        assertThat(r.route("tunnel.test")).isEqualTo("default");
        assertThat(r.route("[::1]:1443")).isEqualTo("default");
        assertThat(r.route("[::1]")).isEqualTo("default");
        assertThat(r.route("::1")).isEqualTo("default");
        assertThat(r.route("")).isEqualTo("default");
        assertThat(r.route(null)).isEqualTo("default");
    }

    @Test
    void routerWithoutADomainSendsEverythingToTheDefault() {
        for (Router r : List.of(new Router(null, "web"), new Router("", "web"))) {
            assertThat(r.route("alpha.tunnel.test")).isEqualTo("web");
            assertThat(r.route("alpha")).isEqualTo("web");
            assertThat(r.route("[::1]:1443")).isEqualTo("web");
        }
    }

    @Test
    void tokenAuthenticatorChecksTheTokenOfTheRequestedName() {
        String upperHash = TokenAuthenticator.hash("beta-secret").toUpperCase(Locale.ROOT);
        TokenAuthenticator auth = new TokenAuthenticator(Map.of("alpha", ProxyConfig.hashToken("alpha-secret"),
                "beta", upperHash, "default", ProxyConfig.hashToken("default-secret")), true);

        assertThat(auth.authenticate("alpha", "alpha-secret", false)).isEqualTo(Decision.accept("alpha"));
        assertThat(auth.authenticate("  alpha ", "alpha-secret", false)).isEqualTo(Decision.accept("alpha"));
        assertThat(auth.authenticate("beta", "beta-secret", false)).as("hash in upper case")
                .isEqualTo(Decision.accept("beta"));
        assertThat(auth.authenticate(null, "default-secret", true)).as("unnamed origins serve 'default'")
                .isEqualTo(Decision.accept("default"));
        assertThat(auth.authenticate("", "default-secret", false)).isEqualTo(Decision.accept("default"));

        assertRefused(auth.authenticate("alpha", "beta-secret", false), "wrong token for tunnel 'alpha'");
        assertRefused(auth.authenticate("alpha", "", false), "wrong token");
        assertRefused(auth.authenticate("zeta", "alpha-secret", false), "wrong token for tunnel 'zeta'");
        assertRefused(auth.authenticate("alpha", null, false), "token is required");
        assertRefused(auth.authenticate(null, null, true), "token is required");
        for (String bad : List.of("Bad_Name", "Alpha", "a.b", "-lead", "trail-", "sp ace", "a".repeat(64))) {
            assertRefused(auth.authenticate(bad, "alpha-secret", false), "not a DNS label");
        }
        assertThat(auth.authenticate("a".repeat(63), "x", false).reason()).as("63 letters is a label")
                .contains("wrong token");
    }

    @Test
    void authNoneAcceptsAnyTokenAndNamesUnnamedOriginsDefault() {
        TokenAuthenticator none = new TokenAuthenticator(Map.of(), false);

        assertThat(none.authenticate(null, null, true)).isEqualTo(Decision.accept("default"));
        assertThat(none.authenticate(" ", "anything", false)).isEqualTo(Decision.accept("default"));
        assertThat(none.authenticate("web", null, false)).isEqualTo(Decision.accept("web"));
        assertThat(none.authenticate("web", "whatever", false)).isEqualTo(Decision.accept("web"));
        assertRefused(none.authenticate("Bad_Name", null, false), "not a DNS label");
    }

    @Test
    void tokensFileIsReadAndBadLinesAreRejected() throws Exception {
        String h = ProxyConfig.hashToken("t");
        Path ok = Files.writeString(tmp.resolve("tokens"), "# comment\n\n  alpha:" + h + "  \ndefault:" + h + "\n");
        assertThat(ProxyIdentity.readTokens(ok)).containsExactly(Map.entry("alpha", h), Map.entry("default", h));

        for (String bad : List.of("alpha " + h, ":" + h, "alpha:" + h.substring(1), "alpha:" + h.toUpperCase(Locale.ROOT),
                "alpha:secret")) {
            Path f = Files.writeString(tmp.resolve("bad-tokens"), bad + "\n");
            assertThatThrownBy(() -> ProxyIdentity.readTokens(f)).as(bad).isInstanceOf(IOException.class)
                    .hasMessageContaining("expected: name:sha256-hex");
        }
    }

    // ---- 3. HTTPS front end ------------------------------------------------------------------

    @Test
    void httpsFrontEndServesWithTheProxyCertificate() throws Exception {
        ProxyServer p = startProxy(config(Map.of("default", TOKEN)).withPorts(0, 0, 0, -1));
        Path root = Files.createDirectories(tmp.resolve("root"));
        byte[] file = random(300 * 1024 + 7, 5);
        Files.write(root.resolve("file.bin"), file);
        EchoHeaders echo = new EchoHeaders();
        StaticFileHandler files = closeLater(new StaticFileHandler(FileServerConfig.of(root)));
        startOrigin(p, "default", TOKEN, routes(Map.of("/echo", echo), files));
        awaitTunnels(p, 1);
        assertThat(p.httpsPort()).isPositive().isNotEqualTo(p.httpPort());
        HttpClient https = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .sslContext(trusting(p.identity().certificate().certificate()))
                .connectTimeout(Duration.ofSeconds(5)).build();
        URI base = URI.create("https://127.0.0.1:" + p.httpsPort());

        var r = https.send(HttpRequest.newBuilder(base.resolve("/file.bin")).timeout(Duration.ofSeconds(20)).build(),
                BodyHandlers.ofByteArray());
        var e = https.send(HttpRequest.newBuilder(base.resolve("/echo")).timeout(Duration.ofSeconds(20)).build(),
                BodyHandlers.ofString());
        var plain = http.send(HttpRequest.newBuilder(uri(p.httpPort(), "/echo")).timeout(Duration.ofSeconds(20))
                .build(), BodyHandlers.ofString());

        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.sslSession()).isPresent();
        assertThat(Arrays.equals(r.body(), file)).as("file intact over HTTPS").isTrue();
        assertThat(e.statusCode()).isEqualTo(200);
        HttpHeaders overTls = echo.seen.poll(5, TimeUnit.SECONDS);
        HttpHeaders overPlain = echo.seen.poll(5, TimeUnit.SECONDS);
        assertThat(overTls).isNotNull();
        assertThat(overTls.get("x-forwarded-proto")).isEqualTo("https");
        assertThat(plain.statusCode()).isEqualTo(200);
        assertThat(overPlain).isNotNull();
        assertThat(overPlain.get("x-forwarded-proto")).isEqualTo("http");
        // A client that does not trust the proxy's certificate does not get through.
        HttpClient untrusting = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(5)).build();
        assertThatThrownBy(() -> untrusting.send(HttpRequest.newBuilder(base.resolve("/echo"))
                .timeout(Duration.ofSeconds(10)).build(), BodyHandlers.ofString()))
                .isInstanceOf(javax.net.ssl.SSLHandshakeException.class);
    }

    // ---- 4. forwarding headers ---------------------------------------------------------------

    @Test
    void forwardingHeadersReachTheOrigin() throws Exception {
        ProxyServer p = startProxy(config(Map.of("default", TOKEN)));
        EchoHeaders echo = new EchoHeaders();
        startOrigin(p, "default", TOKEN, echo);
        awaitTunnels(p, 1);

        var viaClient = http.send(HttpRequest.newBuilder(uri(p.httpPort(), "/echo"))
                .header("X-Forwarded-For", "203.0.113.7").header("X-Test", "yes")
                .timeout(Duration.ofSeconds(20)).build(), BodyHandlers.ofString());
        HttpHeaders first = echo.seen.poll(5, TimeUnit.SECONDS);
        Reply raw = getWithHost(p.httpPort(), "shop.example:8080", "/echo",
                "X-Forwarded-Host: spoofed.example\r\nX-Forwarded-Proto: https\r\n");
        HttpHeaders second = echo.seen.poll(5, TimeUnit.SECONDS);

        assertThat(viaClient.statusCode()).isEqualTo(200);
        assertThat(first).isNotNull();
        // A client's own X-Forwarded-For is not trusted by default: anyone can write one.
        assertThat(first.getAll("x-forwarded-for")).containsExactly("127.0.0.1");
        assertThat(first.get("x-forwarded-host")).isEqualTo("127.0.0.1:" + p.httpPort());
        assertThat(first.get("x-forwarded-proto")).isEqualTo("http");
        assertThat(first.get("x-test")).isEqualTo("yes");
        assertThat(viaClient.body()).contains("x-forwarded-for: 127.0.0.1\n");

        assertThat(raw.status()).isEqualTo(200);
        assertThat(second).isNotNull();
        assertThat(second.getAll("x-forwarded-for")).containsExactly("127.0.0.1");
        assertThat(second.getAll("x-forwarded-host")).containsExactly("shop.example:8080");
        assertThat(second.getAll("x-forwarded-proto")).containsExactly("http");
        assertThat(second.get(HttpHeaderNames.HOST)).isEqualTo("shop.example:8080");
    }

    /**
     * RFC 9110 section 5.3: several header lines of one name are one comma-separated list. Behind
     * a trusted load balancer ({@code --trust-forwarded-for}) every hop it sent is kept.
     */
    @Test
    void xForwardedForKeepsEveryHopOfARepeatedHeaderWhenTrusted() throws Exception {
        ProxyConfig c = config(Map.of("default", TOKEN));
        ProxyServer p = startProxy(c.withFrontend(c.idleTimeout(), c.requestHeadTimeout(), true));
        EchoHeaders echo = new EchoHeaders();
        startOrigin(p, "default", TOKEN, echo);
        awaitTunnels(p, 1);

        Reply r = getWithHost(p.httpPort(), "x", "/echo",
                "X-Forwarded-For: 198.51.100.1\r\nX-Forwarded-For: 203.0.113.7\r\n");
        HttpHeaders seen = echo.seen.poll(5, TimeUnit.SECONDS);

        assertThat(r.status()).isEqualTo(200);
        assertThat(seen).isNotNull();
        assertThat(String.join(", ", seen.getAll("x-forwarded-for")))
                .isEqualTo("198.51.100.1, 203.0.113.7, 127.0.0.1");
    }

    @Test
    void aClientsOwnForwardingHeadersAreReplacedByDefault() throws Exception {
        ProxyServer p = startProxy(config(Map.of("default", TOKEN)));
        EchoHeaders echo = new EchoHeaders();
        startOrigin(p, "default", TOKEN, echo);
        awaitTunnels(p, 1);

        Reply r = getWithHost(p.httpPort(), "shop.example", "/echo", "X-Forwarded-For: 6.6.6.6\r\n"
                + "Forwarded: for=6.6.6.6\r\nX-Real-IP: 6.6.6.6\r\nX-Forwarded-Proto: https\r\n");
        HttpHeaders seen = echo.seen.poll(5, TimeUnit.SECONDS);

        assertThat(r.status()).isEqualTo(200);
        assertThat(seen).isNotNull();
        assertThat(seen.getAll("x-forwarded-for")).containsExactly("127.0.0.1");
        assertThat(seen.getAll("x-forwarded-proto")).containsExactly("http");
        assertThat(seen.contains("forwarded")).isFalse();
        assertThat(seen.contains("x-real-ip")).isFalse();
    }

    // ---- 5. request bodies -------------------------------------------------------------------

    @Test
    void chunkedUploadArrivesIntact() throws Exception {
        ProxyServer p = startProxy(config(Map.of("default", TOKEN)));
        ChecksumHandler sums = new ChecksumHandler();
        startOrigin(p, "default", TOKEN, sums);
        awaitTunnels(p, 1);
        byte[] body = random(1024 * 1024 + 13, 9);

        try (Raw raw = new Raw(p.httpPort())) {
            raw.send("POST /sum HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
            SplittableRandom sizes = new SplittableRandom(1);
            int at = 0;
            for (int i = 0; at < body.length; i++) {
                int n = Math.min(body.length - at, 1 + sizes.nextInt(40_000));
                raw.send(Integer.toHexString(n) + (i % 3 == 0 ? ";ext=" + i : "") + "\r\n");
                raw.write(body, at, n);
                raw.send("\r\n");
                at += n;
            }
            raw.send("0\r\n\r\n");
            Reply r = raw.readReply(false);

            assertThat(r.status()).isEqualTo(200);
            assertThat(r.complete()).isTrue();
            assertThat(r.text()).isEqualTo(summary(body));
        }
        assertThat(sums.requests).hasValue(1);
    }

    @Test
    void expectContinueGets100BeforeTheBodyIsSent() throws Exception {
        ProxyServer p = startProxy(config(Map.of("default", TOKEN)));
        ChecksumHandler sums = new ChecksumHandler();
        startOrigin(p, "default", TOKEN, sums);
        awaitTunnels(p, 1);
        byte[] body = random(200_000, 3);

        try (Raw raw = new Raw(p.httpPort())) {
            raw.send("POST /sum HTTP/1.1\r\nHost: x\r\nContent-Length: " + body.length
                    + "\r\nExpect: 100-continue\r\n\r\n");
            Head interim = raw.readHead();

            assertThat(interim.statusLine()).isEqualTo("HTTP/1.1 100 Continue");
            raw.write(body, 0, body.length);
            Reply r = raw.readReply(false);
            assertThat(r.status()).isEqualTo(200);
            assertThat(r.text()).isEqualTo(summary(body));

            // The connection stays usable after the upload.
            raw.send("GET /sum HTTP/1.1\r\nHost: x\r\n\r\n");
            Reply again = raw.readReply(false);
            assertThat(again.status()).isEqualTo(200);
            assertThat(again.text()).isEqualTo(summary(new byte[0]));
        }
        assertThat(sums.requests).hasValue(2);
    }

    // ---- 6. malformed requests ---------------------------------------------------------------

    @Test
    void malformedRequestsGet400OrTheirLimitStatusAndTheConnectionCloses() throws Exception {
        ProxyServer p = startProxy(config(Map.of("default", TOKEN)));
        startOrigin(p, "default", TOKEN, named("fine"));
        awaitTunnels(p, 1);

        Map<String, Integer> cases = new LinkedHashMap<>();
        cases.put("GET / HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n", 400);
        cases.put("GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400);
        cases.put("NONSENSE\r\n\r\n", 400);
        cases.put("GET / HTTP/1.1 trailing-garbage\r\nHost: x\r\n\r\n", 400);
        cases.put("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400);
        // Limits: 16384 bytes of headers, 8192 for the request line. Each case ends with the byte
        // that crosses the limit, so P has read everything it was sent when it answers (an
        // unread rest would make its close a reset, which may discard the answer at the client).
        String hostLine = "Host: x";
        cases.put("GET / HTTP/1.1\r\n" + hostLine + "\r\nX-Big: "
                + "a".repeat(16384 - hostLine.length() + 1 - "X-Big: ".length()), 431);
        cases.put("GET /" + "a".repeat(8193 - "GET /".length()), 414);

        for (Map.Entry<String, Integer> c : cases.entrySet()) {
            String what = c.getKey().length() > 80 ? c.getKey().substring(0, 60) + "... (" + c.getKey().length()
                    + " bytes)" : c.getKey();
            try (Raw raw = new Raw(p.httpPort())) {
                raw.send(c.getKey());
                Reply r = raw.readReply(false);
                assertThat(r.status()).as(what).isEqualTo(c.getValue());
                assertThat(r.header("connection")).as(what).isEqualToIgnoringCase("close");
                assertThat(r.text()).as(what).startsWith("bad request");
                assertThat(raw.readToEof()).as("%s: the connection closes", what).isZero();
            }
        }

        Reply fine = getWithHost(p.httpPort(), "x", "/");
        assertThat(fine.status()).isEqualTo(200);
        assertThat(fine.text()).isEqualTo("fine");
    }

    // ---- 7. keep-alive -----------------------------------------------------------------------

    @Test
    void keepAliveAnswersInOrderAndConnectionCloseCloses() throws Exception {
        ProxyServer p = startProxy(config(Map.of("default", TOKEN)));
        startOrigin(p, "default", TOKEN, ex -> ex.respond(HttpResponseStatus.OK, "text/plain", ex.request().uri()));
        awaitTunnels(p, 1);

        try (Raw raw = new Raw(p.httpPort())) {
            for (int i = 0; i < 6; i++) {
                raw.send("GET /n/" + i + " HTTP/1.1\r\nHost: x\r\n\r\n");
                Reply r = raw.readReply(false);
                assertThat(r.status()).isEqualTo(200);
                assertThat(r.text()).isEqualTo("/n/" + i);
                assertThat(r.header("connection")).as("keep-alive").isNotEqualToIgnoringCase("close");
            }
            raw.send("HEAD /n/head HTTP/1.1\r\nHost: x\r\n\r\n");
            Reply head = raw.readReply(true);
            assertThat(head.status()).isEqualTo(200);
            assertThat(head.header("content-length")).isEqualTo("7");

            raw.send("GET /n/last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            Reply last = raw.readReply(false);
            assertThat(last.status()).isEqualTo(200);
            assertThat(last.text()).isEqualTo("/n/last");
            assertThat(last.header("connection")).isEqualToIgnoringCase("close");
            assertThat(raw.readToEof()).as("closed after the answer").isZero();
        }
        try (Raw old = new Raw(p.httpPort())) {
            old.send("GET /n/http10 HTTP/1.0\r\nHost: x\r\n\r\n");
            Reply r = old.readReply(false);
            assertThat(r.status()).isEqualTo(200);
            assertThat(r.text()).isEqualTo("/n/http10");
            assertThat(old.readToEof()).as("HTTP/1.0 without keep-alive closes").isZero();
        }
    }

    /**
     * Pipelined requests (several sent before any answer) are answered in order on the same
     * connection, a POST body among them included; the origin answers the later ones first.
     */
    @Test
    void pipelinedRequestsAreAnsweredInOrder() throws Exception {
        ProxyServer p = startProxy(config(Map.of("default", TOKEN)));
        CompletableFuture<TunnelExchange> first = new CompletableFuture<>();
        // /slow is answered only once the later requests could overtake it.
        startOrigin(p, "default", TOKEN, holdingOrEchoing("/slow", first));
        awaitTunnels(p, 1);

        try (Raw raw = new Raw(p.httpPort())) {
            raw.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"
                    + "GET /second HTTP/1.1\r\nHost: x\r\n\r\n"
                    + "POST /third HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
                    + "GET /fourth HTTP/1.1\r\nHost: x\r\n\r\n");
            first.get(20, TimeUnit.SECONDS).respond(HttpResponseStatus.OK, "text/plain", "/slow");
            assertThat(raw.readReply(false).text()).isEqualTo("/slow");
            assertThat(raw.readReply(false).text()).isEqualTo("/second");
            assertThat(raw.readReply(false).text()).isEqualTo("posted hello");
            Reply fourth = raw.readReply(false);
            assertThat(fourth.text()).isEqualTo("/fourth");
            assertThat(fourth.header("connection")).as("keep-alive").isNotEqualToIgnoringCase("close");
            raw.send("GET /after HTTP/1.1\r\nHost: x\r\n\r\n");
            assertThat(raw.readReply(false).text()).isEqualTo("/after");
        }
    }

    /**
     * A pipelined request with {@code Expect: 100-continue} gets its 100 only when its turn
     * comes, after the whole answer before it; hundreds of pipelined GETs are all answered.
     */
    @Test
    void pipelinedExpectContinueWaitsForItsTurnAndManyPipelinedRequestsAreAllAnswered() throws Exception {
        ProxyServer p = startProxy(config(Map.of("default", TOKEN)));
        CompletableFuture<TunnelExchange> held = new CompletableFuture<>();
        byte[] big = letters(300_000, 9);
        startOrigin(p, "default", TOKEN, holdingOrEchoing("/big", held));
        awaitTunnels(p, 1);

        try (Raw raw = new Raw(p.httpPort())) {
            raw.send("GET /big HTTP/1.1\r\nHost: x\r\n\r\n"
                    + "POST /form HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
            TunnelExchange first = held.get(20, TimeUnit.SECONDS);
            first.respond(HttpResponseStatus.OK, "application/octet-stream", new String(big, ISO_8859_1));
            Reply whole = raw.readReply(false);
            assertThat(whole.body()).isEqualTo(big);
            assertThat(raw.readHead().statusLine()).isEqualTo("HTTP/1.1 100 Continue");
            raw.send("hello");
            assertThat(raw.readReply(false).text()).isEqualTo("posted hello");

            StringBuilder many = new StringBuilder();
            for (int i = 0; i < 300; i++) {
                many.append("GET /n/").append(i).append(" HTTP/1.1\r\nHost: x\r\n\r\n");
            }
            raw.send(many.toString());
            for (int i = 0; i < 300; i++) {
                assertThat(raw.readReply(false).text()).isEqualTo("/n/" + i);
            }
        }
    }

    /**
     * A client that sends its requests and shuts down its side still gets the whole answers, each
     * exactly its own. Its small receive buffer makes the proxy wait for writability after the
     * half-close, which is what cut answers short on Netty 4.2.18's epoll transport.
     */
    @Test
    void aClientThatHalfClosesAfterItsRequestGetsTheWholeAnswer() throws Exception {
        ProxyServer p = startProxy(config(Map.of("default", TOKEN)));
        Map<String, byte[]> bodies = new LinkedHashMap<>();
        for (String path : List.of("/a", "/b", "/c")) {
            bodies.put(path, letters(500_000, path.charAt(1)));
        }
        startOrigin(p, "default", TOKEN, ex -> ex.respond(HttpResponseStatus.OK, "application/octet-stream",
                new String(bodies.get(ex.request().uri()), ISO_8859_1)));
        awaitTunnels(p, 1);
        try (Raw raw = new Raw(p.httpPort(), 16 * 1024, Duration.ofSeconds(20))) {
            StringBuilder requests = new StringBuilder();
            bodies.keySet().forEach(path ->
                    requests.append("GET ").append(path).append(" HTTP/1.1\r\nHost: x\r\n\r\n"));
            raw.send(requests.toString());
            raw.socket.shutdownOutput();
            String before = "no answer yet";
            for (Map.Entry<String, byte[]> e : bodies.entrySet()) {
                Reply r;
                try {
                    r = raw.readReply(false);
                } catch (IOException ex) {
                    throw new AssertionError("no answer for " + e.getKey() + " after " + before, ex);
                }
                before = "the answer for " + e.getKey() + " " + r.headers() + (r.complete() ? "" : " (cut short)");
                assertSameBytes("answer for " + e.getKey() + " " + r.headers(), r.body(), e.getValue(), bodies);
            }
            assertThat(raw.readToEof()).as("closed after the answers").isZero();
        }
    }

    // ---- 8. retry on a tunnel that refuses ---------------------------------------------------

    @Test
    void streamRefusedByOneOriginIsRetriedOnTheOther() throws Exception {
        ProxyServer p = startProxy(config(Map.of("default", TOKEN)));
        AtomicInteger refused = new AtomicInteger();
        OriginClient a = startOrigin(p, "default", TOKEN, ex -> {
            refused.incrementAndGet();
            ex.reset(io.spdyproxy.tunnel.StreamError.REFUSED);
        });
        awaitTunnels(p, 1);
        await(() -> a.connectedTunnels() == 1, Duration.ofSeconds(5), () -> "A not up");
        startOrigin(p, "default", TOKEN, named("B"));
        awaitTunnels(p, 2);

        for (int i = 0; i < 10; i++) {
            var r = http.send(HttpRequest.newBuilder(uri(p.httpPort(), "/who?i=" + i)).timeout(Duration.ofSeconds(20))
                    .build(), BodyHandlers.ofString());
            assertThat(r.statusCode()).as("request %d", i).isEqualTo(200);
            assertThat(r.body()).isEqualTo("B");
        }
        // Both tunnels idle, A registered first: each request tried A first, then went to B.
        assertThat(refused).hasValue(10);
    }

    @Test
    void tunnelThatSentGoawayStaysRegisteredButTakesNoNewRequests() throws Exception {
        ProxyServer p = startProxy(config(Map.of("default", TOKEN)));
        HoldHandler b = new HoldHandler("B");
        startOrigin(p, "default", TOKEN, b);
        awaitTunnels(p, 1);
        List<CompletableFuture<java.net.http.HttpResponse<String>>> heldOnB = List.of(
                getAsync(p.httpPort(), "/hold/1"), getAsync(p.httpPort(), "/hold/2"));
        await(() -> b.held.size() == 2, Duration.ofSeconds(10), () -> "B holds " + b.held.size());
        HoldHandler a = new HoldHandler("A");
        OriginClient originA = startOrigin(p, "default", TOKEN, a);
        awaitTunnels(p, 2);
        await(() -> originA.connectedTunnels() == 1, Duration.ofSeconds(5), () -> "A not up");
        var heldOnA = getAsync(p.httpPort(), "/hold/3");
        await(() -> a.held.size() == 1, Duration.ofSeconds(10), () -> "A holds " + a.held.size());
        // A carries 1 stream, B 2: the least-loaded pick prefers A.
        assertThat(get(p.httpPort(), "/who").body()).isEqualTo("A");

        TunnelSession sessionA = originA.sessions().get(0);
        sessionA.shutdownGracefully(Duration.ofSeconds(30));
        // The GOAWAY is sent by a task on A's loop: once A drains it refuses new streams (before,
        // a request could reach A first and be served by it, a race in this test, not a bug).
        await(() -> sessionA.state() == TunnelSession.State.DRAINING, Duration.ofSeconds(5),
                () -> "A did not start draining: " + sessionA.state());
        // At once, racing the GOAWAY on its way to P: refused streams are retried on B.
        List<CompletableFuture<java.net.http.HttpResponse<String>>> racing = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            racing.add(getAsync(p.httpPort(), "/who?race=" + i));
        }
        for (var f : racing) {
            var r = f.get(20, TimeUnit.SECONDS);
            assertThat(r.statusCode()).isEqualTo(200);
            assertThat(r.body()).isEqualTo("B");
        }
        // Once P saw the GOAWAY, A is still registered (its stream is in flight) but skipped.
        await(() -> p.tunnels().stream().anyMatch(t -> t.session().state() == TunnelSession.State.DRAINING),
                Duration.ofSeconds(10), () -> "no draining tunnel at P: " + p.tunnels());
        assertThat(p.tunnels()).hasSize(2);
        for (int i = 0; i < 10; i++) {
            var r = get(p.httpPort(), "/who?after=" + i);
            assertThat(r.statusCode()).as("request %d", i).isEqualTo(200);
            assertThat(r.body()).isEqualTo("B");
        }
        assertThat(a.served).as("A served only the request before its GOAWAY").hasValue(1);
        assertThat(b.served).hasValue(20);

        // The stream A still had finishes; then A's connection goes.
        a.releaseAll();
        b.releaseAll();
        var onA = heldOnA.get(20, TimeUnit.SECONDS);
        assertThat(onA.statusCode()).isEqualTo(200);
        assertThat(onA.body()).isEqualTo("A-held");
        for (var f : heldOnB) {
            assertThat(f.get(20, TimeUnit.SECONDS).body()).isEqualTo("B-held");
        }
        sessionA.closeFuture().get(10, TimeUnit.SECONDS);
        await(() -> p.tunnels().stream().noneMatch(t -> t.session().state() != TunnelSession.State.ACTIVE),
                Duration.ofSeconds(10), () -> "P still lists the drained tunnel: " + p.tunnels());
    }

    // ---- 9. graceful shutdown of P -----------------------------------------------------------

    @Test
    void proxyShutdownLetsASlowDownloadFinishAndRefusesNewConnections() throws Exception {
        ProxyServer p = startProxy(config(Map.of("default", TOKEN))
                .withTimeouts(Duration.ofSeconds(10), Duration.ofSeconds(5), Duration.ofSeconds(15)));
        byte[] body = random(24 * 8192, 21);
        PacedHandler slow = new PacedHandler(body, 8192, 4, 20);
        startOrigin(p, "default", TOKEN, slow);
        awaitTunnels(p, 1);
        int httpPort = p.httpPort();
        int tunnelPort = p.tunnelPort();

        try (Raw raw = new Raw(httpPort)) {
            raw.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
            Head h = raw.readHead();
            assertThat(h.status()).isEqualTo(200);
            assertThat(h.header("content-length")).isEqualTo(String.valueOf(body.length));
            byte[] got = new byte[body.length];
            raw.readFully(got, 0, 4 * 8192);

            long t0 = System.nanoTime();
            CompletableFuture<Void> shutdown = CompletableFuture.runAsync(p::shutdownGracefully, background);
            await(() -> refused(httpPort) && refused(tunnelPort), Duration.ofSeconds(5),
                    () -> "P still accepts clients or origins");
            assertThat(shutdown).as("shutdown waits for the download").isNotDone();

            slow.resume.complete(null);
            raw.readFully(got, 4 * 8192, body.length - 4 * 8192);
            assertThat(Arrays.equals(got, body)).as("download intact").isTrue();
            shutdown.get(5 + 2, TimeUnit.SECONDS);
            long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            System.out.printf("P's graceful shutdown with a slow download in flight took %d ms%n", ms);
            assertThat(ms).as("done when the download was, not at the 5 s grace").isLessThan(5000);
            assertThat(slow.closed.get(5, TimeUnit.SECONDS)).as("origin stream ended cleanly").isNull();
            assertThat(raw.readToEof()).isZero();
        }
    }

    /**
     * The same, with the client the slow one: the origin's last bytes (and its FIN) reached P while
     * P still holds earlier ones for a client that has not read them yet. Graceful shutdown must
     * deliver them (within the grace), not drop what sits in P's buffer for that client.
     *
     * <p>Made deterministic: the client reads nothing until P's socket to it is full and the
     * origin has used up its whole stream window (so P holds more than 128 KiB for the client:
     * window updates come per half window), then the origin ends the stream with a bare FIN,
     * which needs no window. Only then does the client read.
     */
    @Test
    void proxyShutdownDeliversWhatPAlreadyHasToASlowClient() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(
                tunnelProtocol() == io.spdyproxy.tunnel.handshake.TunnelProtocol.Kind.SPDY,
                "SPDY wire: the origin watches its SPDY stream's send window to stall at a known point");
        ProxyServer p = startProxy(config(Map.of("default", TOKEN))
                .withTimeouts(Duration.ofSeconds(10), Duration.ofSeconds(5), Duration.ofSeconds(15)));
        WindowFillingHandler origin = new WindowFillingHandler(random(24 * 1024 * 1024, 22));
        startOrigin(p, "default", TOKEN, origin);
        awaitTunnels(p, 1);

        try (Raw raw = new Raw(p.httpPort(), 16 * 1024, Duration.ofSeconds(20))) {
            raw.send("GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
            Head h = raw.readHead();
            assertThat(h.status()).isEqualTo(200);
            assertThat(h.header("transfer-encoding")).isEqualToIgnoringCase("chunked");
            origin.stalled.get(10, TimeUnit.SECONDS);

            CompletableFuture<Void> shutdown = CompletableFuture.runAsync(p::shutdownGracefully, background);
            await(() -> p.tunnels().stream().anyMatch(t -> t.session().state() != TunnelSession.State.ACTIVE),
                    Duration.ofSeconds(5), () -> "P did not start draining");
            origin.finish.complete(null);
            long sent = origin.finalSent.get(5, TimeUnit.SECONDS);
            assertThat(origin.closed.get(5, TimeUnit.SECONDS)).as("origin stream ended cleanly").isNull();
            try {
                shutdown.get(1, TimeUnit.SECONDS); // a slow client: it reads only now
            } catch (java.util.concurrent.TimeoutException stillDraining) {
                // what a graceful shutdown does while the client has not got everything
            }
            byte[] wire = raw.in.readAllBytes();
            Dechunked body = dechunk(wire);
            System.out.printf("slow client after P's shutdown: %d of %d bytes, %s%n", body.data().length, sent,
                    body.complete() ? "complete" : "cut short");

            assertThat(body.data().length).as("bytes the origin sent before its FIN; P held them for the client")
                    .isEqualTo(sent);
            assertThat(body.complete()).as("last chunk").isTrue();
            assertThat(Arrays.equals(body.data(), Arrays.copyOf(origin.body, (int) sent))).isTrue();
            shutdown.get(5 + 2, TimeUnit.SECONDS);
        }
    }

    // ---- 10. graceful shutdown of an origin --------------------------------------------------

    @Test
    void originShutdownLetsTheInFlightRequestFinishThenPDropsTheTunnel() throws Exception {
        ProxyServer p = startProxy(config(Map.of("default", TOKEN)));
        byte[] body = random(16 * 8192, 31);
        PacedHandler slow = new PacedHandler(body, 8192, 2, 10);
        OriginClient origin = startOrigin(p, "default", TOKEN, slow);
        awaitTunnels(p, 1);

        try (Raw raw = new Raw(p.httpPort())) {
            raw.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
            Head h = raw.readHead();
            assertThat(h.status()).isEqualTo(200);
            byte[] got = new byte[body.length];
            raw.readFully(got, 0, 2 * 8192);

            long t0 = System.nanoTime();
            CompletableFuture<Void> stopping = CompletableFuture.runAsync(
                    () -> origin.shutdownGracefully(Duration.ofSeconds(5)), background);
            await(() -> !p.tunnels().isEmpty() && p.tunnels().get(0).session().state() == TunnelSession.State.DRAINING,
                    Duration.ofSeconds(5), () -> "P did not see the origin's GOAWAY: " + p.tunnels());
            var meanwhile = get(p.httpPort(), "/new");
            assertThat(meanwhile.statusCode()).as("a draining tunnel takes no new request").isEqualTo(503);
            assertThat(stopping).isNotDone();

            slow.resume.complete(null);
            raw.readFully(got, 2 * 8192, body.length - 2 * 8192);
            assertThat(Arrays.equals(got, body)).as("in-flight download intact").isTrue();
            stopping.get(5 + 2, TimeUnit.SECONDS);
            long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            assertThat(ms).as("the origin stopped when its request was done").isLessThan(5000);
            assertThat(slow.closed.get(5, TimeUnit.SECONDS)).isNull();
        }
        await(() -> p.tunnels().isEmpty(), Duration.ofSeconds(5), () -> "P still lists " + p.tunnels());
        assertThat(origin.connectedTunnels()).isZero();
        // It does not come back (its backoff here is 50 ms).
        new CountDownLatch(1).await(300, TimeUnit.MILLISECONDS);
        assertThat(p.tunnels()).isEmpty();
        assertThat(get(p.httpPort(), "/after").statusCode()).isEqualTo(503);
    }

    // ---- set-up helpers ----------------------------------------------------------------------

    /** P on 127.0.0.1 port 0 (admin and HTTPS off), token auth with {@code tokens} (name to token). */
    private ProxyConfig config(Map<String, String> tokens) {
        Map<String, String> hashes = new LinkedHashMap<>();
        tokens.forEach((name, token) -> hashes.put(name, ProxyConfig.hashToken(token)));
        return ProxyConfig.defaults(tmp.resolve("proxy-data")).withBind("127.0.0.1").withPorts(0, 0, -1, -1)
                .withAuth(true, hashes);
    }

    private ProxyServer startProxy(ProxyConfig config) throws Exception {
        return closeLater(ProxyServer.start(config));
    }

    private OriginClient startOrigin(ProxyServer p, String name, String token, RequestHandler handler) {
        OriginConfig c = OriginConfig.of("127.0.0.1", p.tunnelPort()).withCredentials(name, token)
                .withBackoff(Duration.ofMillis(50), Duration.ofSeconds(1)).withTunnelProtocol(tunnelProtocol());
        return closeLater(new OriginClient(c, TlsContexts.clientPinned(p.identity().fingerprint()), handler,
                originLoops).start());
    }

    private <T extends AutoCloseable> T closeLater(T resource) {
        resources.push(resource);
        return resource;
    }

    /** A session on an embedded channel, for registry entries in unit tests. */
    private TunnelSession embeddedSession() {
        EmbeddedChannel ch = new EmbeddedChannel();
        embedded.add(ch);
        return io.spdyproxy.tunnel.spdy.SpdyTunnelSession.install(ch,
                SpdySessionConfig.builder(SpdyRole.CLIENT).build(), null, false);
    }

    private static List<String> tunnelNames(ProxyServer p) {
        return p.tunnels().stream().map(Tunnel::name).sorted().toList();
    }

    private static void awaitTunnels(ProxyServer p, int n) throws InterruptedException {
        await(() -> p.tunnels().size() == n, Duration.ofSeconds(10),
                () -> "P lists " + p.tunnels().size() + " tunnels (expected: " + n + ")");
    }

    /** Polls every 20 ms (a latch nobody counts down), a bounded number of times. */
    private static void await(BooleanSupplier condition, Duration max, Supplier<String> what)
            throws InterruptedException {
        CountDownLatch never = new CountDownLatch(1);
        long rounds = Math.max(1, max.toMillis() / 20);
        for (long i = 0; i < rounds && !condition.getAsBoolean(); i++) {
            never.await(20, TimeUnit.MILLISECONDS);
        }
        if (!condition.getAsBoolean()) {
            fail("not within " + max + ": " + what.get());
        }
    }

    private static void assertRefused(Decision d, String reason) {
        assertThat(d.accepted()).as("refused: %s", d).isFalse();
        assertThat(d.name()).isNull();
        assertThat(d.reason()).contains(reason);
    }

    private static boolean refused(int port) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 2000);
            return false;
        } catch (ConnectException e) {
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private static SSLContext trusting(X509Certificate cert) throws Exception {
        KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
        ks.load(null, null);
        ks.setCertificateEntry("proxy", cert);
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(ks);
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, tmf.getTrustManagers(), null);
        return ctx;
    }

    private static byte[] random(int n, long seed) {
        byte[] b = new byte[n];
        new SplittableRandom(seed).nextBytes(b);
        return b;
    }

    /**
     * An origin that hands the request for {@code heldPath} to {@code held} unanswered, answers a
     * request with a body "posted BODY" once it has all of it, and any other with its path.
     */
    private static RequestHandler holdingOrEchoing(String heldPath, CompletableFuture<TunnelExchange> held) {
        return ex -> {
            if (ex.request().uri().equals(heldPath)) {
                held.complete(ex);
            } else if (ex.requestHasBody()) {
                StringBuilder got = new StringBuilder();
                ex.onBody(new BodyListener() {
                    @Override
                    public void onChunk(ByteBuf chunk, boolean last) {
                        got.append(chunk.toString(UTF_8));
                        ex.consume(chunk.readableBytes());
                        chunk.release();
                        if (last) {
                            ex.respond(HttpResponseStatus.OK, "text/plain", "posted " + got);
                        }
                    }
                });
            } else {
                ex.respond(HttpResponseStatus.OK, "text/plain", ex.request().uri());
            }
        };
    }

    /** ASCII letters: the same bytes whatever charset a helper encodes them with. */
    private static byte[] letters(int n, long seed) {
        byte[] b = new byte[n];
        SplittableRandom r = new SplittableRandom(seed);
        for (int i = 0; i < n; i++) {
            b[i] = (byte) ('a' + r.nextInt(26));
        }
        return b;
    }

    /**
     * Fails saying where and how {@code got} differs from {@code want}: cut short, or the first
     * differing offset with the bytes around it, which of the {@code sources} (the expected bodies
     * of this and the other answers) the wrong bytes were taken from and at what offset, and where
     * the body is in step again. Bytes written out of order show as a source at another offset.
     */
    private static void assertSameBytes(String what, byte[] got, byte[] want, Map<String, byte[]> sources) {
        int at = Arrays.mismatch(got, want);
        if (at < 0) {
            return;
        }
        StringBuilder m = new StringBuilder(what).append(": ").append(got.length).append(" bytes, expected ")
                .append(want.length);
        if (at == got.length) {
            fail(m.append("; cut short, the bytes it has are right").toString());
        }
        m.append("; first difference at offset ").append(at)
                .append("\n  got      ").append(around(got, at)).append("\n  expected ").append(around(want, at));
        int probe = Math.min(32, got.length - at);
        boolean found = false;
        for (Map.Entry<String, byte[]> source : sources.entrySet()) {
            byte[] b = source.getValue();
            for (int from = 0; from + probe <= b.length && !found; from++) {
                if (Arrays.equals(b, from, from + probe, got, at, at + probe)) {
                    found = true;
                    int run = Arrays.mismatch(got, at, got.length, b, from, b.length);
                    m.append("\n  the bytes from offset ").append(at).append(" are ").append(source.getKey())
                            .append("'s from offset ").append(from).append(", for ")
                            .append(run < 0 ? "the rest" : run + " bytes");
                }
            }
        }
        if (!found) {
            m.append("\n  the bytes from offset ").append(at).append(" are from none of ").append(sources.keySet());
        }
        int resync = -1;
        for (int i = at + 1; i + 64 <= Math.min(got.length, want.length) && resync < 0; i++) {
            if (Arrays.equals(got, i, i + 64, want, i, i + 64)) {
                resync = i;
            }
        }
        fail(m.append("\n  in step again from offset ").append(resync).toString());
    }

    private static String around(byte[] b, int at) {
        int from = Math.max(0, at - 16);
        int to = Math.min(b.length, at + 32);
        return "[" + from + ".." + to + ") '" + new String(b, from, to - from, ISO_8859_1).replace("\r", "\\r")
                .replace("\n", "\\n") + "'";
    }

    private static String summary(byte[] body) {
        CRC32C crc = new CRC32C();
        crc.update(body);
        return ChecksumHandler.summary(body.length, crc.getValue());
    }

    // ---- client helpers ----------------------------------------------------------------------

    private static URI uri(int port, String path) {
        return URI.create("http://127.0.0.1:" + port + path);
    }

    private java.net.http.HttpResponse<String> get(int port, String path) throws Exception {
        return http.send(HttpRequest.newBuilder(uri(port, path)).timeout(Duration.ofSeconds(20)).build(),
                BodyHandlers.ofString());
    }

    private CompletableFuture<java.net.http.HttpResponse<String>> getAsync(int port, String path) {
        return http.sendAsync(HttpRequest.newBuilder(uri(port, path)).timeout(Duration.ofSeconds(30)).build(),
                BodyHandlers.ofString());
    }

    /** One GET with a Host header of our choosing (HttpClient does not let us set Host). */
    private static Reply getWithHost(int port, String host, String path, String... extraHeaderLines)
            throws IOException {
        try (Raw raw = new Raw(port)) {
            raw.send("GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\n" + String.join("", extraHeaderLines)
                    + "Connection: close\r\n\r\n");
            return raw.readReply(false);
        }
    }

    /** A response head. */
    record Head(String statusLine, int status, Map<String, String> headers) {
        String header(String name) {
            return headers.get(name);
        }
    }

    /** A whole response; {@code complete} when the body ended as its framing said. */
    record Reply(int status, Map<String, String> headers, byte[] body, boolean complete) {
        String header(String name) {
            return headers.get(name);
        }

        String text() {
            return new String(body, UTF_8).strip();
        }
    }

    /** One client connection, read and written by hand. */
    static final class Raw implements AutoCloseable {
        final Socket socket;
        final InputStream in;
        final OutputStream out;

        Raw(int port, int receiveBuffer, Duration readTimeout) throws IOException {
            socket = new Socket();
            if (receiveBuffer > 0) {
                socket.setReceiveBufferSize(receiveBuffer);
            }
            socket.setSoTimeout((int) readTimeout.toMillis());
            socket.connect(new InetSocketAddress("127.0.0.1", port), 5000);
            in = new BufferedInputStream(socket.getInputStream(), 64 * 1024);
            out = socket.getOutputStream();
        }

        Raw(int port) throws IOException {
            this(port, 0, Duration.ofSeconds(20));
        }

        void send(String text) throws IOException {
            write(text.getBytes(ISO_8859_1), 0, text.length());
        }

        void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
            out.flush();
        }

        Head readHead() throws IOException {
            String statusLine = readLine();
            if (statusLine == null) {
                throw new IOException("connection closed before a response");
            }
            Map<String, String> headers = new TreeMap<>(String.CASE_INSENSITIVE_ORDER);
            for (String l = readLine(); ; l = readLine()) {
                if (l == null) {
                    throw new IOException("connection closed inside the response head");
                }
                if (l.isEmpty()) {
                    break;
                }
                int colon = l.indexOf(':');
                headers.merge(l.substring(0, colon).trim(), l.substring(colon + 1).trim(), (x, y) -> x + ", " + y);
            }
            return new Head(statusLine, Integer.parseInt(statusLine.split(" ", 3)[1]), headers);
        }

        /** The next final response (1xx heads skipped) with its body. */
        Reply readReply(boolean headRequest) throws IOException {
            Head h = readHead();
            while (h.status() < 200) {
                h = readHead();
            }
            ByteArrayOutputStream body = new ByteArrayOutputStream();
            boolean complete;
            if (headRequest || h.status() == 204 || h.status() == 304) {
                complete = true;
            } else if (h.header("transfer-encoding") != null
                    && h.header("transfer-encoding").toLowerCase(Locale.ROOT).contains("chunked")) {
                complete = readChunked(body);
            } else if (h.header("content-length") != null) {
                long n = Long.parseLong(h.header("content-length"));
                complete = copy(body, n) == n;
            } else {
                copy(body, Long.MAX_VALUE);
                complete = true;
            }
            return new Reply(h.status(), h.headers(), body.toByteArray(), complete);
        }

        private boolean readChunked(ByteArrayOutputStream body) throws IOException {
            while (true) {
                String size = readLine();
                if (size == null) {
                    return false;
                }
                int semi = size.indexOf(';');
                long n = Long.parseLong((semi < 0 ? size : size.substring(0, semi)).trim(), 16);
                if (n == 0) {
                    for (String t = readLine(); t != null; t = readLine()) {
                        if (t.isEmpty()) {
                            return true;
                        }
                    }
                    return false;
                }
                if (copy(body, n) != n) {
                    return false;
                }
                readLine();
            }
        }

        private long copy(ByteArrayOutputStream to, long n) throws IOException {
            byte[] buf = new byte[16 * 1024];
            long got = 0;
            while (got < n) {
                int r = in.read(buf, 0, (int) Math.min(buf.length, n - got));
                if (r < 0) {
                    break;
                }
                to.write(buf, 0, r);
                got += r;
            }
            return got;
        }

        void readFully(byte[] b, int off, int len) throws IOException {
            int done = 0;
            while (done < len) {
                int n = in.read(b, off + done, len - done);
                if (n < 0) {
                    throw new IOException("EOF after " + done + " of " + len + " bytes");
                }
                done += n;
            }
        }

        /** Bytes left until the peer closes the connection. */
        int readToEof() throws IOException {
            int total = 0;
            byte[] buf = new byte[8192];
            for (int n = in.read(buf); n >= 0; n = in.read(buf)) {
                total += n;
            }
            return total;
        }

        private String readLine() throws IOException {
            ByteArrayOutputStream line = new ByteArrayOutputStream();
            for (int b = in.read(); b >= 0; b = in.read()) {
                if (b == '\n') {
                    String s = line.toString(ISO_8859_1);
                    return s.endsWith("\r") ? s.substring(0, s.length() - 1) : s;
                }
                line.write(b);
            }
            return null;
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }

    // ---- origin handlers ---------------------------------------------------------------------

    private static RequestHandler named(String who) {
        return ex -> ex.respond(HttpResponseStatus.OK, "text/plain; charset=utf-8", who);
    }

    private static RequestHandler routes(Map<String, RequestHandler> byPrefix, RequestHandler fallback) {
        Map<String, RequestHandler> copy = new LinkedHashMap<>(byPrefix);
        return ex -> {
            for (Map.Entry<String, RequestHandler> e : copy.entrySet()) {
                if (ex.request().uri().startsWith(e.getKey())) {
                    e.getValue().onRequest(ex);
                    return;
                }
            }
            fallback.onRequest(ex);
        };
    }

    /** Records each request's headers and answers them as {@code name: value} lines. */
    static final class EchoHeaders implements RequestHandler {
        final BlockingQueue<HttpHeaders> seen = new LinkedBlockingQueue<>();

        @Override
        public void onRequest(TunnelExchange ex) {
            HttpHeaders copy = new DefaultHttpHeaders().add(ex.request().headers());
            seen.add(copy);
            StringBuilder b = new StringBuilder();
            for (Map.Entry<String, String> e : copy) {
                b.append(e.getKey().toLowerCase(Locale.ROOT)).append(": ").append(e.getValue()).append('\n');
            }
            ex.respond(HttpResponseStatus.OK, "text/plain; charset=utf-8", b.toString());
        }
    }


    /** Answers {@code who}, except {@code /hold...} requests, which wait for {@link #releaseAll}. */
    static final class HoldHandler implements RequestHandler {
        final String who;
        final Queue<TunnelExchange> held = new ConcurrentLinkedQueue<>();
        final AtomicInteger served = new AtomicInteger();

        HoldHandler(String who) {
            this.who = who;
        }

        @Override
        public void onRequest(TunnelExchange ex) {
            if (ex.request().uri().startsWith("/hold")) {
                held.add(ex);
                return;
            }
            served.incrementAndGet();
            ex.respond(HttpResponseStatus.OK, "text/plain", who);
        }

        void releaseAll() {
            TunnelExchange ex;
            while ((ex = held.poll()) != null) {
                ex.respond(HttpResponseStatus.OK, "text/plain", who + "-held");
            }
        }
    }

    /**
     * Sends {@code body} (Content-Length) one chunk per {@code delayMs}, scheduled on the session's
     * loop; after {@code before} chunks it waits for {@link #resume}.
     */
    static final class PacedHandler implements RequestHandler {
        final byte[] body;
        final int chunk;
        final int before;
        final long delayMs;
        final CompletableFuture<Void> resume = new CompletableFuture<>();
        final CompletableFuture<io.spdyproxy.tunnel.StreamClosedException> closed = new CompletableFuture<>();

        PacedHandler(byte[] body, int chunk, int before, long delayMs) {
            this.body = body;
            this.chunk = chunk;
            this.before = before;
            this.delayMs = delayMs;
        }

        @Override
        public void onRequest(TunnelExchange ex) {
            HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
            head.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/octet-stream");
            head.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, body.length);
            ex.respond(head, false);
            ex.onClose(closed::complete);
            EventLoop loop = ex.eventLoop();
            int[] sent = {0};
            boolean[] waited = {false};
            Runnable[] step = new Runnable[1];
            step[0] = () -> {
                if (closed.isDone()) {
                    return;
                }
                if (sent[0] == before * chunk && !waited[0]) {
                    waited[0] = true;
                    resume.thenRun(() -> loop.execute(step[0]));
                    return;
                }
                int at = sent[0];
                int n = Math.min(chunk, body.length - at);
                boolean last = at + n == body.length;
                sent[0] += n;
                ex.write(Unpooled.wrappedBuffer(body, at, n), last);
                if (!last) {
                    loop.schedule(step[0], delayMs, TimeUnit.MILLISECONDS);
                }
            };
            step[0].run();
        }
    }

    /**
     * Sends {@code body}'s bytes chunked, never more than the stream's send window (read from the
     * stream, a test-only look inside), so that nothing waits in the origin's own queue. A window
     * that stays at 0 far longer than a window update takes to arrive (~10-20 ms on a loaded
     * 2-core machine) means P stopped granting: its socket to the client is full and more than
     * half a window waits in P's own buffer (P grants per half window). Completes {@link #stalled}
     * once that lasted 300 ms; after {@link #finish}, ends the body with a bare FIN (it needs no
     * window) at the next moment the window has been 0 for 100 ms, and completes
     * {@link #finalSent} with the body's length.
     */
    static final class WindowFillingHandler implements RequestHandler {
        private static final java.lang.reflect.Field SEND_WINDOW;

        static {
            try {
                SEND_WINDOW = io.spdyproxy.spdy.SpdyStream.class.getDeclaredField("sendWindow");
                SEND_WINDOW.setAccessible(true);
            } catch (NoSuchFieldException e) {
                throw new ExceptionInInitializerError(e);
            }
        }

        final byte[] body;
        final CompletableFuture<Long> stalled = new CompletableFuture<>();
        final CompletableFuture<Void> finish = new CompletableFuture<>();
        final CompletableFuture<Long> finalSent = new CompletableFuture<>();
        final CompletableFuture<io.spdyproxy.tunnel.StreamClosedException> closed = new CompletableFuture<>();

        WindowFillingHandler(byte[] body) {
            this.body = body;
        }

        private static int window(io.spdyproxy.spdy.SpdyStream s) {
            try {
                return SEND_WINDOW.getInt(s);
            } catch (IllegalAccessException e) {
                throw new IllegalStateException(e);
            }
        }

        @Override
        public void onRequest(TunnelExchange ex) {
            HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
            head.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/octet-stream");
            ex.respond(head, false);
            ex.onClose(closed::complete);
            EventLoop loop = ex.eventLoop();
            long[] sent = {0};
            long[] zeroSince = {-1};
            Runnable[] tick = new Runnable[1];
            tick[0] = () -> {
                if (closed.isDone()) {
                    return;
                }
                io.spdyproxy.spdy.SpdyStream s = io.spdyproxy.tunnel.spdy.SpdyTunnelSession.unwrap(ex.stream());
                int window = window(s);
                while (window > 0 && s.queuedBytes() == 0 && sent[0] < body.length) {
                    int at = (int) sent[0];
                    int n = Math.min(Math.min(16 * 1024, window), body.length - at);
                    sent[0] += n;
                    ex.write(Unpooled.wrappedBuffer(body, at, n), false);
                    window = window(s);
                }
                if (sent[0] >= body.length) {
                    IllegalStateException e = new IllegalStateException(
                            "P took all " + body.length + " bytes without its client reading");
                    stalled.completeExceptionally(e);
                    finalSent.completeExceptionally(e);
                    return;
                }
                long now = System.nanoTime();
                if (window <= 0 && s.queuedBytes() == 0) {
                    zeroSince[0] = zeroSince[0] < 0 ? now : zeroSince[0];
                } else {
                    zeroSince[0] = -1;
                }
                long zeroFor = zeroSince[0] < 0 ? 0 : now - zeroSince[0];
                if (zeroFor > TimeUnit.MILLISECONDS.toNanos(300)) {
                    stalled.complete(sent[0]);
                }
                if (finish.isDone() && zeroFor > TimeUnit.MILLISECONDS.toNanos(100)) {
                    ex.write(Unpooled.EMPTY_BUFFER, true);
                    finalSent.complete(sent[0]);
                    return;
                }
                loop.schedule(tick[0], 2, TimeUnit.MILLISECONDS);
            };
            tick[0].run();
        }
    }

    /** A chunked body decoded as far as it goes; {@code complete} once the last chunk was seen. */
    record Dechunked(byte[] data, boolean complete) {}

    static Dechunked dechunk(byte[] wire) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int at = 0;
        while (true) {
            int eol = indexOfCrlf(wire, at);
            if (eol < 0) {
                return new Dechunked(out.toByteArray(), false);
            }
            String line = new String(wire, at, eol - at, ISO_8859_1);
            int semi = line.indexOf(';');
            int size = Integer.parseInt((semi < 0 ? line : line.substring(0, semi)).trim(), 16);
            at = eol + 2;
            if (size == 0) {
                return new Dechunked(out.toByteArray(), indexOfCrlf(wire, at) >= 0);
            }
            int n = Math.min(size, wire.length - at);
            out.write(wire, at, n);
            if (n < size) {
                return new Dechunked(out.toByteArray(), false);
            }
            at += size + 2;
        }
    }

    private static int indexOfCrlf(byte[] b, int from) {
        for (int i = from; i + 1 < b.length; i++) {
            if (b[i] == '\r' && b[i + 1] == '\n') {
                return i;
            }
        }
        return -1;
    }
}
