package io.spdyproxy.origin.upstream;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpVersion;
import io.spdyproxy.origin.upstream.H2TestApp.Kind;
import io.spdyproxy.origin.upstream.H2TestApp.Seen;
import io.spdyproxy.spdy.SpdyError;
import io.spdyproxy.spdy.SpdyRole;
import io.spdyproxy.spdy.SpdySession;
import io.spdyproxy.spdy.SpdySessionConfig;
import io.spdyproxy.spdy.SpdySessionListener;
import io.spdyproxy.spdy.SpdyStreamException;
import io.spdyproxy.spdy.http.BodyListener;
import io.spdyproxy.spdy.http.HttpCall;
import io.spdyproxy.spdy.http.SpdyClient;
import io.spdyproxy.spdy.http.SpdyServer;
import io.spdyproxy.testing.TestCerts;
import io.spdyproxy.tls.SelfSignedCertificate;
import io.spdyproxy.tls.TlsContexts;
import io.spdyproxy.transport.Transport;
import io.spdyproxy.tunnel.spdy.SpdyTunnelSession;
import java.io.ByteArrayOutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.zip.CRC32;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The reverse proxy in front of HTTP/2 and TLS apps ({@code h2c://}, {@code https://}): a SPDY
 * client session over loopback TLS to a {@link SpdyServer} whose handler is a {@link
 * ReverseProxyHandler}, in front of an {@link H2TestApp} written with Netty's own HTTP/2 (or, for
 * the ALPN fallback, HTTP/1.1) server. Waits only on futures and latches with timeouts.
 */
class Http2UpstreamTest {
    private static final String HOST = "app.example.test";
    private static final List<String> ALPN = List.of("spdy/3.1");
    private static final int CHUNK = 32 * 1024;
    private static final long MIB = 1024 * 1024;

    private final SpdySessionConfig serverConfig = SpdySessionConfig.builder(SpdyRole.SERVER).build();
    private final SpdySessionConfig clientConfig = SpdySessionConfig.builder(SpdyRole.CLIENT).build();
    private final List<AutoCloseable> closeables = new ArrayList<>();
    /** The proxy's side of each stream, by request URI. */
    private final java.util.Map<String, CompletableFuture<io.spdyproxy.tunnel.TunnelStream>> tunnelStreams =
            new java.util.concurrent.ConcurrentHashMap<>();
    private EventLoopGroup appLoops;
    private EventLoopGroup serverLoops;
    private EventLoopGroup clientLoops;
    private ReverseProxyHandler proxy;
    private SpdyServer server;
    private SpdySession client;

    @BeforeEach
    void start() {
        appLoops = Transport.newGroup(1, "h2up-app");
        serverLoops = Transport.newGroup(1, "h2up-server");
        clientLoops = Transport.newGroup(1, "h2up-client");
    }

    @AfterEach
    void stop() throws Exception {
        try {
            if (client != null) {
                client.close().get(10, TimeUnit.SECONDS);
            }
            if (server != null) {
                server.close();
            }
            if (proxy != null) {
                serverLoops.submit(proxy::close).get(10, TimeUnit.SECONDS);
            }
            for (AutoCloseable c : closeables) {
                c.close();
            }
        } finally {
            for (EventLoopGroup g : List.of(clientLoops, serverLoops, appLoops)) {
                g.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            }
            for (EventLoopGroup g : List.of(clientLoops, serverLoops, appLoops)) {
                assertThat(g.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
            }
        }
    }

    // ------------------------------------------------------------------------------------------
    // Each protocol: h2c, h2 over TLS, HTTP/1.1 over TLS (ALPN)

    @ParameterizedTest
    @EnumSource(Kind.class)
    @Timeout(60)
    void aGetReachesTheAppInTheProtocolItSpeaks(Kind kind) throws Exception {
        H2TestApp app = app(kind, 100);
        startProxy(trusted(app));

        for (int i = 0; i < 3; i++) {
            String type = i == 0 ? "application/grpc+proto" : "text/plain";
            Reply r = fetch("/hello?i=" + i, h -> h.set(HttpHeaderNames.CONTENT_TYPE, type));
            assertThat(r.status()).isEqualTo(200);
            assertThat(r.body()).isEqualTo("hello /hello?i=" + i);
            assertThat(r.headers().names()).noneMatch(n -> n.toLowerCase().startsWith("x-http2-"));
        }

        Seen seen = app.seen("/hello?i=0");
        assertThat(seen.http2()).isEqualTo(kind != Kind.HTTP1_TLS);
        assertThat(seen.headers().get(HttpHeaderNames.HOST)).as(":authority from the Host").isEqualTo(HOST);
        assertThat(seen.headers().get("x-forwarded-host")).isEqualTo(HOST);
        if (kind != Kind.HTTP1_TLS) {
            // The server-side conversion puts the pseudo-header :scheme in x-http2-scheme.
            assertThat(seen.headers().get("x-http2-scheme")).isEqualTo(kind == Kind.H2C ? "http" : "https");
            assertThat(seen.headers().get(HttpHeaderNames.TE)).as("TE: trailers for gRPC").isEqualTo("trailers");
            assertThat(app.seen("/hello?i=1").headers().contains(HttpHeaderNames.TE)).as("%s", app.seen("/hello?i=1").headers()).isFalse();
            assertThat(seen.headers().contains(HttpHeaderNames.CONNECTION)).isFalse();
            assertThat(seen.headers().contains(HttpHeaderNames.TRANSFER_ENCODING)).isFalse();
        } else {
            assertThat(seen.headers().get(HttpHeaderNames.CONNECTION)).isEqualTo("keep-alive");
        }
        assertThat(app.accepted.get()).as("TCP connections the app accepted for sequential requests").isEqualTo(1);
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    @Timeout(120)
    void aLargeUploadAndDownloadPassIntactWithTrailersBothWays(Kind kind) throws Exception {
        H2TestApp app = app(kind, 100);
        startProxy(trusted(app));
        long up = 8 * MIB + 12_345;
        long down = 8 * MIB + 54_321;
        String uri = "/upload?n=" + down;

        HttpRequest post = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, uri);
        post.headers().set(HttpHeaderNames.HOST, HOST);
        HttpHeaders trailers = new DefaultHttpHeaders().set("x-request-sum", "r-42");
        Body body = new Body();
        HttpCall call = send(post, true, body);
        Upload upload = new Upload(call, up, Long.MAX_VALUE, trailers);
        call.onWritable(upload);
        call.stream().session().channel().eventLoop().execute(upload);

        assertThat(body.done.get(60, TimeUnit.SECONDS)).isEqualTo(down);
        assertThat(call.response().get(5, TimeUnit.SECONDS).status().code()).isEqualTo(200);
        assertThat(body.crc()).isEqualTo(H2TestApp.patternCrc(down));
        HttpHeaders got = body.trailers;
        assertThat(got).as("response trailers").isNotNull();
        assertThat(got.get("x-upload-bytes")).isEqualTo(Long.toString(up));
        assertThat(got.get("x-upload-crc")).isEqualTo(Long.toString(H2TestApp.patternCrc(up)));
        assertThat(got.get("x-echo-x-request-sum")).as("the request trailer reached the app").isEqualTo("r-42");
        assertThat(app.seen(uri).trailers().get("x-request-sum")).isEqualTo("r-42");
        assertThat(body.closed.get(5, TimeUnit.SECONDS)).as("a clean end").isNull();
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    @Timeout(60)
    void responseTrailersAreRelayed(Kind kind) throws Exception {
        H2TestApp app = app(kind, 100);
        startProxy(trusted(app));

        Reply r = fetch("/trailers", h -> {});
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.body()).isEqualTo("hello world");
        assertThat(r.trailers().get("x-checksum")).isEqualTo("abc123");
    }

    // ------------------------------------------------------------------------------------------
    // HTTP/2: multiplexing, the app's limits, its resets and closes

    @ParameterizedTest
    @EnumSource(value = Kind.class, names = {"H2C", "H2_TLS"})
    @Timeout(60)
    void concurrentRequestsShareAFewConnectionsWithinTheAppsStreamLimit(Kind kind) throws Exception {
        int limit = 10;
        int requests = 60;
        int capacity = Http2Pool.MAX_CONNECTIONS * limit;
        H2TestApp app = app(kind, limit);
        app.gateTarget(capacity);
        startProxy(trusted(app));

        List<CompletableFuture<Reply>> replies = new ArrayList<>();
        for (int i = 0; i < requests; i++) {
            replies.add(fetchAsync("/gate?i=" + i, h -> {}));
        }
        // As many requests as the connections may carry reach the app; the rest wait in the pool.
        app.gateReached.get(20, TimeUnit.SECONDS);
        assertThat(app.accepted.get()).as("connections").isEqualTo(Http2Pool.MAX_CONNECTIONS);
        assertThat(app.maxStreamsOnAConnection.get()).as("streams on one connection").isLessThanOrEqualTo(limit);
        assertThat(app.gated.get()).isEqualTo(capacity);

        app.gate.complete(null);
        for (int i = 0; i < requests; i++) {
            Reply r = replies.get(i).get(20, TimeUnit.SECONDS);
            assertThat(r.status()).as("%s", r.body()).isEqualTo(200);
            assertThat(r.body()).isEqualTo("gated /gate?i=" + i);
        }
        assertThat(app.accepted.get()).as("connections after all requests").isEqualTo(Http2Pool.MAX_CONNECTIONS);
        assertThat(app.maxStreamsOnAConnection.get()).isLessThanOrEqualTo(limit);
    }

    @ParameterizedTest
    @EnumSource(value = Kind.class, names = {"H2C", "H2_TLS"})
    @Timeout(60)
    void theAppResettingAStreamResetsTheTunnelStream(Kind kind) throws Exception {
        H2TestApp app = app(kind, 100);
        startProxy(trusted(app));

        Body mid = new Body();
        send(get("/rst"), false, mid);
        SpdyStreamException cause = mid.closed.get(20, TimeUnit.SECONDS);
        assertThat(cause).as("how the stream ended").isNotNull();
        assertThat(cause.error()).isEqualTo(SpdyError.INTERNAL_ERROR);
        assertThat(mid.done).as("a reset body never looks whole").isNotDone();

        Body early = new Body();
        HttpCall call = send(get("/rst-early"), false, early);
        SpdyStreamException refused = early.closed.get(20, TimeUnit.SECONDS);
        assertThat(refused).isNotNull();
        assertThat(refused.error()).isEqualTo(SpdyError.REFUSED_STREAM);
        assertThat(call.response()).isNotCompleted();

        // The connection is unharmed: the next request runs on it.
        assertThat(fetch("/hello", h -> {}).status()).isEqualTo(200);
        assertThat(app.accepted.get()).isEqualTo(1);
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    @Timeout(60)
    void theAppClosingItsConnectionMidResponseFailsTheStreamVisibly(Kind kind) throws Exception {
        H2TestApp app = app(kind, 100);
        startProxy(trusted(app));

        Body body = new Body();
        HttpCall call = send(get("/die"), false, body);
        SpdyStreamException cause = body.closed.get(20, TimeUnit.SECONDS);
        assertThat(call.response().get(5, TimeUnit.SECONDS).status().code()).isEqualTo(200);
        assertThat(cause).as("a truncated response must not end cleanly").isNotNull();
        assertThat(body.done).isNotDone();

        // A new connection replaces the dead one.
        assertThat(fetch("/hello", h -> {}).status()).isEqualTo(200);
        assertThat(app.accepted.get()).isEqualTo(2);
    }

    @ParameterizedTest
    @EnumSource(value = Kind.class, names = {"H2C", "H2_TLS"})
    @Timeout(60)
    void afterTheAppsGoAwayTheStreamInFlightCompletesAndTheNextRequestTakesANewConnection(Kind kind)
            throws Exception {
        H2TestApp app = app(kind, 100);
        startProxy(trusted(app));

        Reply bye = fetch("/goaway", h -> {});
        assertThat(bye.status()).isEqualTo(200);
        assertThat(bye.body()).isEqualTo("bye");
        assertThat(app.connections.get(0).closeFuture().await(10, TimeUnit.SECONDS))
                .as("the drained connection is closed").isTrue();

        Reply next = fetch("/hello", h -> {});
        assertThat(next.status()).isEqualTo(200);
        assertThat(app.accepted.get()).isEqualTo(2);
    }

    @ParameterizedTest
    @EnumSource(value = Kind.class, names = {"H2C", "H2_TLS"})
    @Timeout(120)
    void anUploadToAnH2AppThatDoesNotReadIsHeldBackByItsStreamWindow(Kind kind) throws Exception {
        H2TestApp app = app(kind, 100);
        startProxy(trusted(app));
        long size = 16 * MIB;
        // What may be in flight while the app reads nothing: the tunnel's window for the stream
        // (the most it may grow to), the app's HTTP/2 stream window (65,535 by default), a chunk.
        long limit = serverConfig.maxStreamWindow() + 65_535 + 2L * CHUNK;

        HttpRequest post = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, "/upload?stall=1&n=0");
        post.headers().set(HttpHeaderNames.HOST, HOST);
        post.headers().set(HttpHeaderNames.CONTENT_LENGTH, size);
        Body body = new Body();
        HttpCall call = send(post, true, body);
        EventLoop loop = client.channel().eventLoop();
        Upload upload = new Upload(call, size, limit, null);
        call.onWritable(upload);
        loop.execute(upload);

        Channel appStream = app.uploadStalled.get(10, TimeUnit.SECONDS);
        assertThat(upload.pastLimit.await(1500, TimeUnit.MILLISECONDS))
                .as("client wrote more than %d bytes towards an h2 app that does not read", limit)
                .isFalse();
        long sent = loop.submit(() -> call.stream().bytesSent()).get();
        System.out.printf("upload stalled by the h2 app: client sent %d bytes (limit %d)%n", sent, limit);
        assertThat(loop.submit(call::isWritable).get()).isFalse();
        assertThat(sent).isLessThanOrEqualTo(limit);

        appStream.eventLoop().execute(() -> appStream.config().setAutoRead(true));
        assertThat(body.done.get(60, TimeUnit.SECONDS)).isZero();
        assertThat(body.trailers.get("x-upload-bytes")).isEqualTo(Long.toString(size));
        assertThat(body.trailers.get("x-upload-crc")).isEqualTo(Long.toString(H2TestApp.patternCrc(size)));
    }

    @ParameterizedTest
    @EnumSource(value = Kind.class, names = {"H2C", "H2_TLS"})
    @Timeout(120)
    void aDownloadFromAnH2AppIsReadOnlyAsTheTunnelStreamTakesIt(Kind kind) throws Exception {
        H2TestApp app = app(kind, 100);
        startProxy(trusted(app));
        long size = 16 * MIB;
        int window = clientConfig.initialStreamWindow();
        String uri = "/download?n=" + size;

        Body body = new Body();
        body.hold = true;
        send(get(uri), false, body);
        // The client holds everything: its window fills, and the proxy reads no further from the
        // app than its tunnel stream takes (the app's stream window then stops the app).
        assertThat(body.windowFull(window).get(20, TimeUnit.SECONDS)).isEqualTo(window);
        io.spdyproxy.tunnel.TunnelStream proxied = tunnelStreams.get(uri).get(5, TimeUnit.SECONDS);
        CountDownLatch never = new CountDownLatch(1);
        assertThat(never.await(1000, TimeUnit.MILLISECONDS)).isFalse(); // let a leak show, if any
        long queued = serverLoops.submit(proxied::maxQueuedBytes).get();
        System.out.printf("h2 download held by the client: proxy stream queue max %d bytes (window %d)%n",
                queued, window);
        assertThat(queued).as("bytes the proxy queued for a client that reads nothing")
                .isLessThanOrEqualTo(window + 2L * Http2Connection.STREAM_WINDOW);

        clientLoops.submit(body::drain).get();
        assertThat(body.done.get(60, TimeUnit.SECONDS)).isEqualTo(size);
        assertThat(body.crc()).isEqualTo(H2TestApp.patternCrc(size));
        assertThat(serverLoops.submit(proxied::maxQueuedBytes).get())
                .isLessThanOrEqualTo(clientConfig.maxStreamWindow() + 2L * Http2Connection.STREAM_WINDOW);
    }

    // ------------------------------------------------------------------------------------------
    // TLS: the app's certificate

    @ParameterizedTest
    @EnumSource(value = Kind.class, names = {"H2_TLS", "HTTP1_TLS"})
    @Timeout(60)
    void anUntrustedCertificateGives502NamingTheFlags(Kind kind) throws Exception {
        H2TestApp app = app(kind, 100);
        startProxy(UpstreamConfig.of(app.url("127.0.0.1"))); // the JDK's trust store: not the test CA

        Reply r = fetch("/hello", h -> {});
        assertThat(r.status()).isEqualTo(502);
        assertThat(r.body()).contains("not trusted").contains("--upstream-ca").contains("--upstream-insecure");
    }

    @Test
    @Timeout(60)
    void aCertificateForAnotherNameGives502() throws Exception {
        SelfSignedCertificate other = SelfSignedCertificate.generate("other.example");
        H2TestApp app = new H2TestApp(appLoops, Kind.H2_TLS, other, 100);
        closeables.add(app);
        startProxy(UpstreamConfig.of(app.url("127.0.0.1")).withTrust(other.certificate(), false));

        Reply r = fetch("/hello", h -> {});
        assertThat(r.status()).isEqualTo(502);
        assertThat(r.body()).contains("does not name 127.0.0.1").contains("--upstream-ca");
    }

    @ParameterizedTest
    @EnumSource(value = Kind.class, names = {"H2_TLS", "HTTP1_TLS"})
    @Timeout(60)
    void insecureAcceptsAnUntrustedCertificate(Kind kind) throws Exception {
        H2TestApp app = app(kind, 100);
        startProxy(UpstreamConfig.of(app.url("127.0.0.1")).withTrust(null, true));

        Reply r = fetch("/hello", h -> {});
        assertThat(r.status()).isEqualTo(200);
        assertThat(app.seen("/hello").http2()).isEqualTo(kind == Kind.H2_TLS);
    }

    @Test
    @Timeout(60)
    void anH2cUrlToAnAppThatDoesNotSpeakHttp2Gives502() throws Exception {
        H2TestApp app = app(Kind.HTTP1_TLS, 100); // TLS bytes never look like HTTP/2 SETTINGS
        startProxy(UpstreamConfig.of(URI.create("h2c://127.0.0.1:" + app.port())));

        Reply r = fetch("/hello", h -> {});
        assertThat(r.status()).isEqualTo(502);
        assertThat(r.body()).contains("HTTP/2");
    }

    // ------------------------------------------------------------------------------------------
    // Setup and client helpers

    private H2TestApp app(Kind kind, int maxConcurrentStreams) throws InterruptedException {
        H2TestApp app = new H2TestApp(appLoops, kind, TestCerts.LOCALHOST, maxConcurrentStreams);
        closeables.add(app);
        return app;
    }

    /** The app's URL, trusting the test certificate ({@code --upstream-ca}) for https. */
    private static UpstreamConfig trusted(H2TestApp app) {
        UpstreamConfig c = UpstreamConfig.of(app.url("localhost"));
        return app.kind == Kind.H2C ? c : c.withTrust(TestCerts.LOCALHOST.certificate(), false);
    }

    private void startProxy(UpstreamConfig config) throws Exception {
        proxy = new ReverseProxyHandler(config);
        io.spdyproxy.tunnel.RequestHandler recording = ex -> {
            tunnelStreams.computeIfAbsent(ex.request().uri(), u -> new CompletableFuture<>()).complete(ex.stream());
            proxy.onRequest(ex);
        };
        server = SpdyServer.start(new InetSocketAddress("127.0.0.1", 0),
                TlsContexts.server(TestCerts.LOCALHOST, ALPN), serverConfig, SpdyTunnelSession.listener(recording),
                serverLoops);
        client = SpdyClient.connect(clientLoops, new InetSocketAddress("127.0.0.1", server.port()),
                TlsContexts.client(TestCerts.LOCALHOST.certificate(), ALPN), clientConfig,
                SpdySessionListener.refusingStreams()).get(10, TimeUnit.SECONDS);
    }

    record Reply(int status, HttpHeaders headers, byte[] content, HttpHeaders trailers) {
        String body() {
            return new String(content, StandardCharsets.UTF_8);
        }
    }

    private static HttpRequest get(String uri) {
        HttpRequest r = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, uri);
        r.headers().set(HttpHeaderNames.HOST, HOST);
        return r;
    }

    private Reply fetch(String uri, java.util.function.Consumer<HttpHeaders> headers) throws Exception {
        return fetchAsync(uri, headers).get(20, TimeUnit.SECONDS);
    }

    private CompletableFuture<Reply> fetchAsync(String uri, java.util.function.Consumer<HttpHeaders> headers) {
        FullHttpRequest req = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, uri);
        req.headers().set(HttpHeaderNames.HOST, HOST);
        headers.accept(req.headers());
        return SpdyClient.fetch(client, req, "https", 4 << 20).thenApply(r -> {
            try {
                return new Reply(r.status().code(), r.headers().copy(), ByteBufUtil.getBytes(r.content()),
                        r.trailingHeaders().copy());
            } finally {
                r.release();
            }
        });
    }

    private HttpCall send(HttpRequest request, boolean hasBody, Body body) throws Exception {
        return SpdyClient.send(client, request, "https", 3, hasBody, (HttpCall c) -> {
            c.onBody(body);
            c.onClose(body.closed::complete);
            body.call = c;
        }).get(10, TimeUnit.SECONDS);
    }

    /**
     * Checksums a response body as it arrives, consuming it (or, while {@link #hold}, keeping it
     * unconsumed until {@link #drain}); records its trailers.
     */
    static final class Body implements BodyListener {
        volatile boolean hold;
        private final java.util.ArrayDeque<ByteBuf> held = new java.util.ArrayDeque<>();
        private long heldBytes;
        private int fullAt = Integer.MAX_VALUE;
        private final CompletableFuture<Long> windowFull = new CompletableFuture<>();
        final CompletableFuture<Long> done = new CompletableFuture<>();
        final CompletableFuture<SpdyStreamException> closed = new CompletableFuture<>();
        volatile HttpCall call;
        volatile HttpHeaders trailers;
        private final CRC32 crc = new CRC32();
        private final ByteArrayOutputStream small = new ByteArrayOutputStream();
        private long received;

        @Override
        public synchronized void onChunk(ByteBuf chunk, boolean last) {
            int n = chunk.readableBytes();
            received += n;
            crc.update(chunk.nioBuffer());
            if (small.size() < 4096) {
                small.writeBytes(ByteBufUtil.getBytes(chunk));
            }
            if (last) {
                done.complete(received);
            }
            if (hold) {
                held.add(chunk);
                heldBytes += n;
                if (heldBytes >= fullAt) {
                    windowFull.complete(heldBytes);
                }
                return;
            }
            chunk.release();
            call.consume(n);
        }

        synchronized CompletableFuture<Long> windowFull(int bytes) {
            fullAt = bytes;
            if (heldBytes >= bytes) {
                windowFull.complete(heldBytes);
            }
            return windowFull;
        }

        /** Stops holding: what was held is consumed (on the client's loop). */
        synchronized void drain() {
            hold = false;
            ByteBuf b;
            while ((b = held.poll()) != null) {
                b.release();
            }
            call.consume((int) heldBytes);
            heldBytes = 0;
        }

        @Override
        public void onTrailers(HttpHeaders t) {
            trailers = t;
        }

        synchronized long crc() {
            return crc.getValue();
        }
    }

    /** Writes {@code size} pattern bytes while the call is writable, then ends (with trailers if any). */
    static final class Upload implements Runnable {
        final CountDownLatch pastLimit = new CountDownLatch(1);
        private final HttpCall call;
        private final long size;
        private final long limit;
        private final HttpHeaders trailers;
        private final AtomicLong offset = new AtomicLong();

        Upload(HttpCall call, long size, long limit, HttpHeaders trailers) {
            this.call = call;
            this.size = size;
            this.limit = limit;
            this.trailers = trailers;
        }

        @Override
        public void run() {
            long off = offset.get();
            while (off < size && call.isWritable() && !call.stream().isClosed()) {
                int n = (int) Math.min(CHUNK, size - off);
                ByteBuf chunk = call.stream().session().channel().alloc().buffer(n);
                chunk.writeBytes(H2TestApp.PATTERN, (int) (off % H2TestApp.P), n);
                off += n;
                offset.set(off);
                boolean last = off == size;
                call.write(chunk, last && trailers == null);
                if (last && trailers != null) {
                    call.end(trailers);
                }
                if (off > limit) {
                    pastLimit.countDown();
                }
            }
        }
    }
}
