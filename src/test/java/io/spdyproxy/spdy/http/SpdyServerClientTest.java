package io.spdyproxy.spdy.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.buffer.ByteBuf;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.spdy.DefaultSpdyHeaders;
import io.netty.handler.codec.spdy.SpdyHeaders;
import io.netty.handler.ssl.SslContext;
import io.spdyproxy.example.ExampleHandler;
import io.spdyproxy.tunnel.spdy.SpdyTunnelSession;
import io.spdyproxy.spdy.SpdyError;
import io.spdyproxy.spdy.SpdyProtocol;
import io.spdyproxy.spdy.SpdyRole;
import io.spdyproxy.spdy.SpdySession;
import io.spdyproxy.spdy.SpdySessionConfig;
import io.spdyproxy.spdy.SpdySessionListener;
import io.spdyproxy.spdy.SpdyStreamException;
import io.spdyproxy.testing.TestCerts;
import io.spdyproxy.tls.TlsContexts;
import io.spdyproxy.transport.Transport;
import java.io.ByteArrayOutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Our client against our server over real loopback TLS with ALPN. */
@Timeout(120)
class SpdyServerClientTest {
    private static final List<String> BOTH = List.of("spdy/3.1", "spdy/3");
    private static final long WAIT = 20;
    private static final String HELLO_31 = "Hello from spdy-proxy over spdy/3.1\n";

    private static EventLoopGroup group;
    private static SpdyServer server;
    private static SpdySession session;

    private final List<SpdyServer> extraServers = new ArrayList<>();
    private final List<SpdySession> extraSessions = new ArrayList<>();
    private final List<FullHttpResponse> toRelease = new ArrayList<>();

    @BeforeAll
    static void start() throws Exception {
        group = Transport.newGroup(4, "spdy-server-client");
        server = startServer(new ExampleHandler(), BOTH);
        session = connect(server.port(), BOTH, SpdySessionListener.refusingStreams());
    }

    @AfterAll
    static void stop() throws Exception {
        if (session != null) {
            session.close();
            session.channel().closeFuture().awaitUninterruptibly(WAIT, TimeUnit.SECONDS);
        }
        if (server != null) {
            server.close();
        }
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
    }

    @AfterEach
    void cleanUp() {
        for (FullHttpResponse r : toRelease) {
            if (r.refCnt() > 0) {
                r.release();
            }
        }
        for (SpdySession s : extraSessions) {
            s.close();
            s.channel().closeFuture().awaitUninterruptibly(WAIT, TimeUnit.SECONDS);
        }
        for (SpdyServer s : extraServers) {
            s.close();
        }
    }

    // ------------------------------------------------------------------------------------------
    // Helpers

    private static SpdyServer startServer(HttpRequestHandler handler, List<String> alpn)
            throws InterruptedException {
        return startServer(SpdyServer.listener(handler), alpn);
    }

    /** The example service is written for tunnels: served here through the SPDY tunnel adapter. */
    private static SpdyServer startServer(ExampleHandler handler, List<String> alpn) throws InterruptedException {
        return startServer(SpdyTunnelSession.listener(handler), alpn);
    }

    private static SpdyServer startServer(SpdySessionListener listener, List<String> alpn)
            throws InterruptedException {
        SslContext ssl = TlsContexts.server(TestCerts.LOCALHOST, alpn);
        return SpdyServer.start(new InetSocketAddress("127.0.0.1", 0), ssl,
                SpdySessionConfig.builder(SpdyRole.SERVER).build(), listener, group);
    }

    private static SpdySession connect(int port, List<String> alpn, SpdySessionListener listener)
            throws Exception {
        SslContext ssl = TlsContexts.client(TestCerts.LOCALHOST.certificate(), alpn);
        return SpdyClient.connect(group, new InetSocketAddress("127.0.0.1", port), ssl,
                SpdySessionConfig.builder(SpdyRole.CLIENT).build(), listener).get(WAIT, TimeUnit.SECONDS);
    }

    private SpdyServer extraServer(ExampleHandler handler, List<String> alpn) throws InterruptedException {
        return extraServer(SpdyTunnelSession.listener(handler), alpn);
    }

    private SpdyServer extraServer(HttpRequestHandler handler, List<String> alpn) throws InterruptedException {
        return extraServer(SpdyServer.listener(handler), alpn);
    }

    private SpdyServer extraServer(SpdySessionListener handler, List<String> alpn) throws InterruptedException {
        SpdyServer s = startServer(handler, alpn);
        extraServers.add(s);
        return s;
    }

    private SpdySession extraSession(int port, List<String> alpn, SpdySessionListener listener) throws Exception {
        SpdySession s = connect(port, alpn, listener);
        extraSessions.add(s);
        return s;
    }

    private static FullHttpRequest request(HttpMethod method, String uri) {
        FullHttpRequest req = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, method, uri);
        req.headers().set(HttpHeaderNames.HOST, "localhost");
        return req;
    }

    private FullHttpResponse fetch(SpdySession s, HttpMethod method, String uri, int max) throws Exception {
        FullHttpResponse r = SpdyClient.fetch(s, request(method, uri), "https", max).get(WAIT, TimeUnit.SECONDS);
        toRelease.add(r);
        return r;
    }

    private static byte[] random(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    /** Collects a streamed body on the event loop, consuming as it goes. */
    private static final class Collector implements BodyListener {
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        final CompletableFuture<byte[]> done = new CompletableFuture<>();
        final AtomicReference<HttpStreamBase> owner = new AtomicReference<>();
        volatile HttpHeaders trailers;

        @Override
        public void onChunk(ByteBuf chunk, boolean last) {
            int n = chunk.readableBytes();
            try {
                byte[] b = new byte[n];
                chunk.readBytes(b);
                bytes.write(b, 0, n);
            } finally {
                chunk.release();
            }
            HttpStreamBase o = owner.get();
            if (o != null && n > 0) {
                o.consume(n);
            }
            if (last) {
                done.complete(bytes.toByteArray());
            }
        }

        @Override
        public void onTrailers(HttpHeaders t) {
            trailers = t;
        }
    }

    // ------------------------------------------------------------------------------------------
    // Basic exchanges

    @Test
    void negotiatesSpdy31WhenBothAreOffered() {
        assertThat(session.config().protocol()).isEqualTo(SpdyProtocol.SPDY_3_1);
        assertThat(session.config().role()).isEqualTo(SpdyRole.CLIENT);
        assertThat(session.state()).isEqualTo(SpdySession.State.ACTIVE);
    }

    @Test
    void getRoot() throws Exception {
        FullHttpResponse r = fetch(session, HttpMethod.GET, "/", 1 << 20);
        assertThat(r.status()).isEqualTo(HttpResponseStatus.OK);
        assertThat(r.headers().get(HttpHeaderNames.CONTENT_TYPE)).isEqualTo("text/plain; charset=utf-8");
        assertThat(r.headers().getInt(HttpHeaderNames.CONTENT_LENGTH)).isEqualTo(HELLO_31.length());
        assertThat(r.content().toString(StandardCharsets.UTF_8)).isEqualTo(HELLO_31);
    }

    @Test
    void unknownPathIs404() throws Exception {
        FullHttpResponse r = fetch(session, HttpMethod.GET, "/no/such/thing", 1 << 20);
        assertThat(r.status()).isEqualTo(HttpResponseStatus.NOT_FOUND);
        assertThat(r.content().toString(StandardCharsets.UTF_8)).isEqualTo("not found\n");
    }

    @Test
    void fiveMebibyteGet() throws Exception {
        int n = 5 * 1024 * 1024;
        FullHttpResponse r = fetch(session, HttpMethod.GET, "/bytes?n=" + n, n);
        assertThat(r.status()).isEqualTo(HttpResponseStatus.OK);
        assertThat(r.headers().get(HttpHeaderNames.CONTENT_LENGTH)).isEqualTo(String.valueOf(n));
        assertThat(r.headers().get(HttpHeaderNames.CONTENT_TYPE)).isEqualTo("application/octet-stream");
        assertThat(r.content().readableBytes()).isEqualTo(n);
    }

    @Test
    void responseLargerThanTheLimitFailsTheFetchAndResetsTheStream() throws Exception {
        CompletableFuture<FullHttpResponse> f = SpdyClient.fetch(session,
                request(HttpMethod.GET, "/bytes?n=" + (1024 * 1024)), "https", 100_000);
        assertThatThrownBy(() -> f.get(WAIT, TimeUnit.SECONDS))
                .isInstanceOf(ExecutionException.class)
                .hasCauseInstanceOf(IllegalStateException.class)
                .hasMessageContaining("exceeds 100000");
        // The session survives the reset.
        FullHttpResponse again = fetch(session, HttpMethod.GET, "/", 1 << 20);
        assertThat(again.status()).isEqualTo(HttpResponseStatus.OK);
    }

    /**
     * Each oversized fetch is cut off with a reset; the bytes the server had already sent must
     * still be credited to the session window, or after a few such responses the server can never
     * send on this session again. A client with the smallest SPDY/3.1 session window (64 KiB)
     * makes a leak visible within a few requests.
     */
    @Test
    void oversizedResponsesDoNotLeakTheSessionWindow() throws Exception {
        SslContext ssl = TlsContexts.client(TestCerts.LOCALHOST.certificate(), BOTH);
        SpdySession client = SpdyClient.connect(group, new InetSocketAddress("127.0.0.1", server.port()), ssl,
                SpdySessionConfig.builder(SpdyRole.CLIENT).sessionWindow(SpdySessionConfig.DEFAULT_WINDOW).build(),
                SpdySessionListener.refusingStreams()).get(WAIT, TimeUnit.SECONDS);
        extraSessions.add(client);
        for (int i = 0; i < 4; i++) {
            CompletableFuture<FullHttpResponse> f = SpdyClient.fetch(client,
                    request(HttpMethod.GET, "/bytes?n=" + (1024 * 1024)), "https", 1000);
            f.thenAccept(toRelease::add);
            assertThat(f).as("oversized fetch %d must fail promptly, not stall on a leaked window", i)
                    .failsWithin(Duration.ofSeconds(WAIT))
                    .withThrowableOfType(ExecutionException.class)
                    .withCauseInstanceOf(IllegalStateException.class);
        }
        FullHttpResponse hello = fetch(client, HttpMethod.GET, "/", 1 << 20);
        assertThat(hello.content().toString(StandardCharsets.UTF_8)).isEqualTo(HELLO_31);
    }

    @Test
    void garbageStatusFromTheServerFailsTheCallAndSpareTheSession() throws Exception {
        HttpRequestHandler bad = ex -> {
            if (ex.request().uri().equals("/bad")) {
                SpdyHeaders h = new DefaultSpdyHeaders();
                h.set(SpdyHttpHeaders.STATUS, "two hundred");
                h.set(SpdyHttpHeaders.VERSION, "HTTP/1.1");
                ex.stream().sendHeaders(h, false);
                ex.write(io.netty.buffer.Unpooled.copiedBuffer("ignored", StandardCharsets.UTF_8), true);
            } else {
                ex.respond(HttpResponseStatus.OK, "text/plain", "fine\n");
            }
        };
        SpdyServer s = extraServer(bad, BOTH);
        SpdySession client = extraSession(s.port(), BOTH, SpdySessionListener.refusingStreams());

        HttpCall[] call = new HttpCall[1];
        HttpRequest head = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/bad");
        head.headers().set(HttpHeaderNames.HOST, "localhost");
        call[0] = SpdyClient.send(client, head, "https", 3, false, (BodyListener) null).get(WAIT, TimeUnit.SECONDS);
        assertThat(call[0].response()).failsWithin(Duration.ofSeconds(WAIT))
                .withThrowableOfType(ExecutionException.class)
                .withCauseInstanceOf(IllegalArgumentException.class);

        CompletableFuture<FullHttpResponse> viaFetch = SpdyClient.fetch(client, request(HttpMethod.GET, "/bad"),
                "https", 1 << 20);
        viaFetch.thenAccept(toRelease::add);
        assertThat(viaFetch).failsWithin(Duration.ofSeconds(WAIT));

        FullHttpResponse ok = fetch(client, HttpMethod.GET, "/", 1 << 20);
        assertThat(ok.content().toString(StandardCharsets.UTF_8)).isEqualTo("fine\n");
    }

    @Test
    void streamingPostEchoOfThreeMebibytesWithBackpressure() throws Exception {
        byte[] body = random(3 * 1024 * 1024 + 11, 42);
        HttpRequest head = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, "/echo");
        head.headers().set(HttpHeaderNames.HOST, "localhost");
        head.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/octet-stream");
        Collector collector = new Collector();

        HttpCall call = SpdyClient.send(session, head, "https", 3, true, collector).get(WAIT, TimeUnit.SECONDS);
        collector.owner.set(call);

        int chunkSize = 16 * 1024;
        int[] offset = {0};
        int[] pauses = {0};
        Runnable pump = () -> {
            while (offset[0] < body.length && call.isWritable()) {
                int n = Math.min(chunkSize, body.length - offset[0]);
                ByteBuf chunk = call.stream().session().channel().alloc().buffer(n);
                chunk.writeBytes(body, offset[0], n);
                offset[0] += n;
                call.write(chunk, offset[0] == body.length);
            }
            if (offset[0] < body.length) {
                pauses[0]++;
            }
        };
        call.onWritable(pump);
        // Produce on the session's loop only, so the pump never runs on two threads at once.
        call.stream().session().channel().eventLoop().execute(pump);

        HttpResponse response = call.response().get(WAIT, TimeUnit.SECONDS);
        assertThat(response.status()).isEqualTo(HttpResponseStatus.OK);
        byte[] echoed = collector.done.get(60, TimeUnit.SECONDS);
        assertThat(echoed.length).isEqualTo(body.length);
        assertThat(echoed).isEqualTo(body);
        // Backpressure held: the uploader had to pause, and never queued much more than the
        // server's stream window (256 KiB, grown for a reader that keeps up) plus one chunk.
        assertThat(pauses[0]).isPositive();
        assertThat(call.stream().maxQueuedBytes()).isLessThanOrEqualTo(
                SpdySessionConfig.builder(SpdyRole.SERVER).build().maxStreamWindow() + chunkSize);
        assertThat(call.stream().bytesSent()).isEqualTo(body.length);
    }

    @Test
    void postWithFetchEchoesTheBody() throws Exception {
        byte[] body = random(300_000, 7);
        FullHttpRequest req = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, "/echo",
                io.netty.buffer.Unpooled.wrappedBuffer(body));
        req.headers().set(HttpHeaderNames.HOST, "localhost");
        FullHttpResponse r = SpdyClient.fetch(session, req, "https", 1 << 20).get(WAIT, TimeUnit.SECONDS);
        toRelease.add(r);
        assertThat(r.status()).isEqualTo(HttpResponseStatus.OK);
        assertThat(io.netty.buffer.ByteBufUtil.getBytes(r.content())).isEqualTo(body);
    }

    @Test
    void headGetsHeadersButNoBody() throws Exception {
        FullHttpResponse r = fetch(session, HttpMethod.HEAD, "/", 1 << 20);
        assertThat(r.status()).isEqualTo(HttpResponseStatus.OK);
        assertThat(r.headers().getInt(HttpHeaderNames.CONTENT_LENGTH)).isEqualTo(HELLO_31.length());
        assertThat(r.content().readableBytes()).isZero();

        FullHttpResponse bytes = fetch(session, HttpMethod.HEAD, "/bytes?n=100000", 1 << 20);
        assertThat(bytes.status()).isEqualTo(HttpResponseStatus.OK);
        assertThat(bytes.headers().get(HttpHeaderNames.CONTENT_LENGTH)).isEqualTo("100000");
        assertThat(bytes.content().readableBytes()).isZero();
    }

    @Test
    void headResponseEndsTheStreamWithTheHeaders() throws Exception {
        HttpRequest head = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.HEAD, "/");
        head.headers().set(HttpHeaderNames.HOST, "localhost");
        Collector collector = new Collector();
        HttpCall call = SpdyClient.send(session, head, "https", 3, false, collector).get(WAIT, TimeUnit.SECONDS);
        collector.owner.set(call);
        assertThat(call.response().get(WAIT, TimeUnit.SECONDS).status()).isEqualTo(HttpResponseStatus.OK);
        assertThat(collector.done.get(WAIT, TimeUnit.SECONDS)).isEmpty();
        // A PING round trip orders us after the loop task that handled the SYN_REPLY's FIN.
        session.ping().get(WAIT, TimeUnit.SECONDS);
        assertThat(call.stream().bytesReceived()).isZero();
        assertThat(call.stream().isClosed()).isTrue();
    }

    @Test
    void missingPathIsAnswered400() throws Exception {
        SpdyHeaders h = new DefaultSpdyHeaders();
        h.set(SpdyHttpHeaders.METHOD, "GET");
        h.set(SpdyHttpHeaders.VERSION, "HTTP/1.1");
        h.set(SpdyHttpHeaders.HOST, "localhost");
        h.set(SpdyHttpHeaders.SCHEME, "https");
        HttpCall call = new HttpCall();
        Collector collector = new Collector();
        collector.owner.set(call);
        call.onBody(collector);

        session.newStream(h, 0, true, call).get(WAIT, TimeUnit.SECONDS);

        HttpResponse r = call.response().get(WAIT, TimeUnit.SECONDS);
        assertThat(r.status().code()).isEqualTo(400);
        assertThat(new String(collector.done.get(WAIT, TimeUnit.SECONDS), StandardCharsets.UTF_8))
                .contains(":path");
    }

    @Test
    void missingMethodIsAnswered400() throws Exception {
        SpdyHeaders h = new DefaultSpdyHeaders();
        h.set(SpdyHttpHeaders.PATH, "/");
        h.set(SpdyHttpHeaders.VERSION, "HTTP/1.1");
        h.set(SpdyHttpHeaders.HOST, "localhost");
        h.set(SpdyHttpHeaders.SCHEME, "https");
        HttpCall call = new HttpCall();
        call.onBody(null);
        session.newStream(h, 0, true, call).get(WAIT, TimeUnit.SECONDS);
        assertThat(call.response().get(WAIT, TimeUnit.SECONDS).status()).isEqualTo(HttpResponseStatus.BAD_REQUEST);
    }

    @Test
    void concurrentRequestsShareOneSession() throws Exception {
        List<CompletableFuture<FullHttpResponse>> all = new ArrayList<>();
        for (int i = 0; i < 16; i++) {
            all.add(SpdyClient.fetch(session, request(HttpMethod.GET, "/bytes?n=" + (100_000 + i)), "https",
                    1 << 20));
        }
        try {
            CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).get(WAIT * 2, TimeUnit.SECONDS);
        } finally {
            for (CompletableFuture<FullHttpResponse> f : all) {
                f.thenAccept(toRelease::add);
            }
        }
        for (int i = 0; i < all.size(); i++) {
            FullHttpResponse r = all.get(i).join();
            assertThat(r.status()).isEqualTo(HttpResponseStatus.OK);
            assertThat(r.content().readableBytes()).isEqualTo(100_000 + i);
        }
    }

    /**
     * Many small fetches issued at once from several threads. {@code fetch} must be safe to call
     * from any thread however quickly the response comes back: its body collector may not depend
     * on state that the calling thread sets only after the stream opened.
     */
    @Test
    void manySmallFetchesFromSeveralThreadsAllSucceed() throws Exception {
        int threads = 4;
        int perThread = 100;
        List<CompletableFuture<FullHttpResponse>> all = java.util.Collections.synchronizedList(new ArrayList<>());
        List<Thread> workers = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            Thread w = new Thread(() -> {
                for (int i = 0; i < perThread; i++) {
                    all.add(SpdyClient.fetch(session, request(HttpMethod.GET, "/"), "https", 1 << 20));
                }
            }, "fetcher-" + t);
            workers.add(w);
            w.start();
        }
        for (Thread w : workers) {
            w.join(TimeUnit.SECONDS.toMillis(WAIT));
        }
        List<CompletableFuture<FullHttpResponse>> snapshot;
        synchronized (all) {
            snapshot = new ArrayList<>(all);
        }
        assertThat(snapshot).hasSize(threads * perThread);
        for (CompletableFuture<FullHttpResponse> f : snapshot) {
            f.thenAccept(toRelease::add);
        }
        List<Throwable> failures = new ArrayList<>();
        for (CompletableFuture<FullHttpResponse> f : snapshot) {
            try {
                FullHttpResponse r = f.get(WAIT, TimeUnit.SECONDS);
                assertThat(r.content().toString(StandardCharsets.UTF_8)).isEqualTo(HELLO_31);
            } catch (ExecutionException e) {
                failures.add(e.getCause());
            }
        }
        assertThat(failures).as("fetches that failed").isEmpty();
    }

    @Test
    void pingReturnsARoundTripTime() throws Exception {
        for (int i = 0; i < 3; i++) {
            Duration rtt = session.ping().get(WAIT, TimeUnit.SECONDS);
            assertThat(rtt).isNotNull();
            assertThat(rtt.isNegative()).isFalse();
            assertThat(rtt).isLessThan(Duration.ofSeconds(WAIT));
        }
    }

    // ------------------------------------------------------------------------------------------
    // ALPN

    @Test
    void alpnSpdy3NegotiatesSpdy3OnBothSides() throws Exception {
        SpdyServer s = extraServer(new ExampleHandler(), BOTH);
        SpdySession client = extraSession(s.port(), List.of("spdy/3"), SpdySessionListener.refusingStreams());

        assertThat(client.config().protocol()).isEqualTo(SpdyProtocol.SPDY_3);
        FullHttpResponse r = fetch(client, HttpMethod.GET, "/", 1 << 20);
        // The example handler names the protocol of the server-side session.
        assertThat(r.content().toString(StandardCharsets.UTF_8)).isEqualTo("Hello from spdy-proxy over spdy/3\n");
        assertThat(s.sessions()).hasSize(1);
        assertThat(s.sessions().get(0).config().protocol()).isEqualTo(SpdyProtocol.SPDY_3);

        // SPDY/3 has no session window: a body far beyond 64 KiB must still flow on stream windows.
        int n = 2 * 1024 * 1024;
        FullHttpResponse big = fetch(client, HttpMethod.GET, "/bytes?n=" + n, n);
        assertThat(big.content().readableBytes()).isEqualTo(n);
        byte[] body = random(1024 * 1024, 9);
        FullHttpRequest post = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, "/echo",
                io.netty.buffer.Unpooled.wrappedBuffer(body));
        post.headers().set(HttpHeaderNames.HOST, "localhost");
        FullHttpResponse echo = SpdyClient.fetch(client, post, "https", 2 * body.length).get(WAIT, TimeUnit.SECONDS);
        toRelease.add(echo);
        assertThat(io.netty.buffer.ByteBufUtil.getBytes(echo.content())).isEqualTo(body);
    }

    @Test
    void serverPreferenceWinsWhenTheClientOffersBoth() throws Exception {
        SpdyServer s = extraServer(new ExampleHandler(), List.of("spdy/3", "spdy/3.1"));
        SpdySession client = extraSession(s.port(), BOTH, SpdySessionListener.refusingStreams());
        assertThat(client.config().protocol()).isEqualTo(SpdyProtocol.SPDY_3);
        FullHttpResponse r = fetch(client, HttpMethod.GET, "/", 1 << 20);
        assertThat(r.content().toString(StandardCharsets.UTF_8)).isEqualTo("Hello from spdy-proxy over spdy/3\n");
    }

    // ------------------------------------------------------------------------------------------
    // Trailers

    @Test
    void responseTrailersReachTrailingHeaders() throws Exception {
        HttpRequestHandler withTrailers = ex -> {
            HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
            head.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain");
            head.headers().set(HttpHeaderNames.TRAILER, "x-checksum");
            ex.respond(head, false);
            if (!ex.request().uri().equals("/no-body")) {
                ex.write(io.netty.buffer.Unpooled.copiedBuffer("part one, ", StandardCharsets.UTF_8), false);
                ex.write(io.netty.buffer.Unpooled.copiedBuffer("part two", StandardCharsets.UTF_8), false);
            }
            HttpHeaders trailers = new DefaultHttpHeaders();
            trailers.set("X-Checksum", "deadbeef");
            trailers.add("X-Multi", "1");
            trailers.add("X-Multi", "2");
            ex.end(trailers);
        };
        SpdyServer s = extraServer(withTrailers, BOTH);
        SpdySession client = extraSession(s.port(), BOTH, SpdySessionListener.refusingStreams());

        FullHttpResponse r = fetch(client, HttpMethod.GET, "/", 1 << 20);
        assertThat(r.status()).isEqualTo(HttpResponseStatus.OK);
        assertThat(r.content().toString(StandardCharsets.UTF_8)).isEqualTo("part one, part two");
        assertThat(r.trailingHeaders().get("x-checksum")).isEqualTo("deadbeef");
        assertThat(r.trailingHeaders().getAll("x-multi")).containsExactly("1", "2");
        assertThat(r.headers().contains("x-checksum")).isFalse();

        FullHttpResponse noBody = fetch(client, HttpMethod.GET, "/no-body", 1 << 20);
        assertThat(noBody.content().readableBytes()).isZero();
        assertThat(noBody.trailingHeaders().get("x-checksum")).isEqualTo("deadbeef");
    }

    // ------------------------------------------------------------------------------------------
    // Graceful shutdown

    @Test
    void gracefulShutdownFinishesInFlightRequestsAndRefusesNewOnes() throws Exception {
        CompletableFuture<HttpExchange> parked = new CompletableFuture<>();
        HttpRequestHandler handler = ex -> {
            if (ex.request().uri().equals("/slow")) {
                parked.complete(ex); // answered later, from the test thread
            } else {
                ex.respond(HttpResponseStatus.OK, "text/plain", "fast\n");
            }
        };
        SpdyServer s = extraServer(handler, BOTH);
        CompletableFuture<Integer> goAway = new CompletableFuture<>();
        SpdySessionListener listener = new SpdySessionListener() {
            @Override
            public io.spdyproxy.spdy.SpdyStreamListener onStream(io.spdyproxy.spdy.SpdyStream stream,
                    SpdyHeaders headers) {
                return null;
            }

            @Override
            public void onGoAway(SpdySession sess, int lastGoodStreamId) {
                goAway.complete(lastGoodStreamId);
            }
        };
        SpdySession client = extraSession(s.port(), BOTH, listener);

        CompletableFuture<FullHttpResponse> slow = SpdyClient.fetch(client, request(HttpMethod.GET, "/slow"),
                "https", 1 << 20);
        HttpExchange inFlight = parked.get(WAIT, TimeUnit.SECONDS);

        CompletableFuture<Void> shutdown = CompletableFuture.runAsync(
                () -> s.shutdownGracefully(Duration.ofSeconds(30)));
        assertThat(goAway.get(WAIT, TimeUnit.SECONDS)).isEqualTo(1);

        // New streams on the draining session are refused, retryably.
        CompletableFuture<FullHttpResponse> refused = SpdyClient.fetch(client, request(HttpMethod.GET, "/"),
                "https", 1 << 20);
        assertThatThrownBy(() -> refused.get(WAIT, TimeUnit.SECONDS))
                .isInstanceOf(ExecutionException.class)
                .cause()
                .isInstanceOfSatisfying(SpdyStreamException.class, e -> {
                    assertThat(e.error()).isEqualTo(SpdyError.REFUSED_STREAM);
                    assertThat(e.isRetryable()).isTrue();
                });
        // The server stopped listening: a new connection is not accepted.
        CompletableFuture<SpdySession> another = SpdyClient.connect(group,
                new InetSocketAddress("127.0.0.1", s.port()),
                TlsContexts.client(TestCerts.LOCALHOST.certificate(), BOTH),
                SpdySessionConfig.builder(SpdyRole.CLIENT).build(), SpdySessionListener.refusingStreams());
        assertThatThrownBy(() -> another.get(WAIT, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class);

        // Shutdown waits for the in-flight request.
        assertThat(shutdown).isNotDone();
        assertThat(slow).isNotDone();
        inFlight.respond(HttpResponseStatus.OK, "text/plain", "finished after GOAWAY\n");

        FullHttpResponse r = slow.get(WAIT, TimeUnit.SECONDS);
        toRelease.add(r);
        assertThat(r.status()).isEqualTo(HttpResponseStatus.OK);
        assertThat(r.content().toString(StandardCharsets.UTF_8)).isEqualTo("finished after GOAWAY\n");

        shutdown.get(WAIT, TimeUnit.SECONDS);
        client.closeFuture().get(WAIT, TimeUnit.SECONDS);
        assertThat(client.state()).isEqualTo(SpdySession.State.CLOSED);
    }

    @Test
    void gracefulShutdownDeadlineCutsOffRequestsThatNeverFinish() throws Exception {
        CompletableFuture<HttpExchange> parked = new CompletableFuture<>();
        SpdyServer s = extraServer(parked::complete, BOTH); // never answers
        SpdySession client = extraSession(s.port(), BOTH, SpdySessionListener.refusingStreams());
        CompletableFuture<FullHttpResponse> stuck = SpdyClient.fetch(client, request(HttpMethod.GET, "/"),
                "https", 1 << 20);
        stuck.thenAccept(toRelease::add);
        parked.get(WAIT, TimeUnit.SECONDS);

        long t0 = System.nanoTime();
        s.shutdownGracefully(Duration.ofMillis(300));
        Duration took = Duration.ofNanos(System.nanoTime() - t0);

        assertThat(took).isLessThan(Duration.ofSeconds(WAIT));
        assertThat(stuck).failsWithin(Duration.ofSeconds(WAIT))
                .withThrowableOfType(ExecutionException.class)
                .havingCause()
                .isInstanceOfSatisfying(SpdyStreamException.class,
                        e -> assertThat(e.error()).isEqualTo(SpdyError.SESSION_CLOSED));
        assertThat(client.closeFuture()).succeedsWithin(Duration.ofSeconds(WAIT));
    }
}
