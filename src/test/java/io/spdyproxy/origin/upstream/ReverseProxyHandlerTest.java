package io.spdyproxy.origin.upstream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.codec.spdy.DefaultSpdyHeaders;
import io.netty.handler.codec.spdy.SpdyHeaders;
import io.netty.util.ReferenceCountUtil;
import io.spdyproxy.spdy.SpdyError;
import io.spdyproxy.spdy.SpdyRole;
import io.spdyproxy.spdy.SpdySession;
import io.spdyproxy.spdy.SpdySessionConfig;
import io.spdyproxy.spdy.SpdySessionListener;
import io.spdyproxy.spdy.SpdyStream;
import io.spdyproxy.spdy.SpdyStreamException;
import io.spdyproxy.spdy.SpdyStreamListener;
import io.spdyproxy.spdy.http.BodyListener;
import io.spdyproxy.tunnel.TunnelStream;
import io.spdyproxy.tunnel.spdy.SpdyTunnelSession;
import io.spdyproxy.spdy.http.HttpCall;
import io.spdyproxy.tunnel.RequestHandler;
import io.spdyproxy.spdy.http.SpdyClient;
import io.spdyproxy.spdy.http.SpdyServer;
import io.spdyproxy.testing.TestCerts;
import io.spdyproxy.tls.TlsContexts;
import io.spdyproxy.transport.Transport;
import java.io.ByteArrayOutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.zip.CRC32;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The reverse proxy end to end: a SPDY client session over loopback TLS to a {@link SpdyServer}
 * whose handler is a {@link ReverseProxyHandler}, in front of a small HTTP/1.1 app written with
 * plain Netty in this class ({@link App}). Every observation is made where it happens: the app
 * counts the connections it accepted and records the requests it saw, the client looks at the raw
 * SPDY frames it got, and the proxy's side of each stream is captured for its queue statistics.
 *
 * <p>The tests wait only on futures and latches with timeouts. Where something must <em>not</em>
 * happen (a plateau while a reader holds back), a latch that would fire is awaited for a bounded
 * time and must not fire.
 */
class ReverseProxyHandlerTest {
    private static final long KIB = 1024;
    private static final long MIB = 1024 * KIB;
    private static final int CHUNK = 32 * 1024;
    /** Largest piece the proxy's upstream connection reads (and so relays) at once. */
    private static final int UPSTREAM_READ = 64 * 1024;
    private static final long BIG = 100 * MIB;
    /** Period of the body pattern: prime, so it never lines up with chunk or frame boundaries. */
    private static final int P = 65_521;
    /** {@code PATTERN[i] == PATTERN[i % P]}, long enough to slice any chunk at any phase. */
    private static final byte[] PATTERN = new byte[P + 128 * 1024];
    private static final List<String> ALPN = List.of("spdy/3.1");
    private static final String HOST = "app.example.test";
    private static final Set<String> HOP_BY_HOP = Set.of("connection", "keep-alive", "proxy-connection",
            "transfer-encoding", "upgrade", "te");

    static {
        SplittableRandom random = new SplittableRandom(0x7e57ab1eL);
        for (int i = 0; i < P; i++) {
            PATTERN[i] = (byte) random.nextInt(256);
        }
        for (int i = P; i < PATTERN.length; i++) {
            PATTERN[i] = PATTERN[i - P];
        }
    }

    private final SpdySessionConfig serverConfig = SpdySessionConfig.builder(SpdyRole.SERVER).build();
    private final SpdySessionConfig clientConfig = SpdySessionConfig.builder(SpdyRole.CLIENT).build();
    /** The proxy's side of each stream, by request URI (the last one wins). */
    private final Map<String, CompletableFuture<TunnelStream>> serverStreams = new ConcurrentHashMap<>();
    private final List<ReverseProxyHandler> proxies = new CopyOnWriteArrayList<>();
    /** Things holding buffers that must be let go before the loops stop (run on their loop). */
    private final List<Runnable> cleanups = new CopyOnWriteArrayList<>();

    private EventLoopGroup appLoops;
    private EventLoopGroup serverLoops;
    private EventLoopGroup clientLoops;
    private App app;
    private SpdyServer server;
    private SpdySession client;

    @BeforeEach
    void start() throws Exception {
        appLoops = Transport.newGroup(1, "rp-app");
        serverLoops = Transport.newGroup(1, "rp-server");
        clientLoops = Transport.newGroup(1, "rp-client");
        app = new App(appLoops);
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
            for (ReverseProxyHandler p : proxies) {
                serverLoops.submit(p::close).get(10, TimeUnit.SECONDS);
            }
            for (Runnable r : cleanups) {
                clientLoops.submit(r).get(10, TimeUnit.SECONDS);
            }
            app.close();
        } finally {
            clientLoops.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            serverLoops.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            appLoops.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            assertThat(clientLoops.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
            assertThat(serverLoops.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
            assertThat(appLoops.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
        }
    }

    // ------------------------------------------------------------------------------------------
    // Pooled keep-alive connections

    @Test
    @Timeout(60)
    void sequentialRequestsReuseOneKeepAliveConnection() throws Exception {
        startProxy(UpstreamConfig.of(app.url()));

        for (int i = 0; i < 6; i++) {
            Reply r = fetch(HttpMethod.GET, "/hello?i=" + i);
            assertThat(r.status()).isEqualTo(200);
            assertThat(r.body()).isEqualTo("hello /hello?i=" + i);
        }

        assertThat(app.accepted.get()).as("connections the app accepted").isEqualTo(1);
        Set<Channel> servedOn = new HashSet<>();
        for (int i = 0; i < 6; i++) {
            Seen seen = app.seen("/hello?i=" + i);
            servedOn.add(seen.channel());
            assertThat(seen.version()).isEqualTo(HttpVersion.HTTP_1_1);
            assertThat(seen.headers().getAll(HttpHeaderNames.CONNECTION)).containsExactly("keep-alive");
        }
        assertThat(servedOn).hasSize(1);
        assertThat(app.connections.get(0).isActive()).isTrue();
    }

    @Test
    @Timeout(60)
    void concurrentRequestsOpenMoreConnectionsWhichAreThenReused() throws Exception {
        startProxy(UpstreamConfig.of(app.url()));
        int n = 4;

        // The app answers none of them until all n are in: only n parallel connections get there.
        List<CompletableFuture<Reply>> first = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            first.add(fetchAsync(HttpMethod.GET, "/hold?round=1&n=" + n + "&i=" + i, h -> {}));
        }
        for (int i = 0; i < n; i++) {
            Reply r = first.get(i).get(20, TimeUnit.SECONDS);
            assertThat(r.status()).isEqualTo(200);
            assertThat(r.body()).isEqualTo("held /hold?round=1&n=" + n + "&i=" + i);
        }
        assertThat(app.accepted.get()).as("connections for %d concurrent requests", n).isEqualTo(n);

        // A second concurrent round finds all n connections idle in the pool.
        List<CompletableFuture<Reply>> second = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            second.add(fetchAsync(HttpMethod.GET, "/hold?round=2&n=" + n + "&i=" + i, h -> {}));
        }
        for (CompletableFuture<Reply> f : second) {
            assertThat(f.get(20, TimeUnit.SECONDS).status()).isEqualTo(200);
        }
        assertThat(app.accepted.get()).as("connections after a second round").isEqualTo(n);

        // And sequential ones afterwards still open nothing new.
        assertThat(fetch(HttpMethod.GET, "/hello").status()).isEqualTo(200);
        assertThat(app.accepted.get()).isEqualTo(n);
    }

    @Test
    @Timeout(60)
    void aConnectionTheAppAnnouncedAsClosingIsNotReused() throws Exception {
        startProxy(UpstreamConfig.of(app.url()));

        Reply bye = fetch(HttpMethod.GET, "/bye");
        assertThat(bye.status()).isEqualTo(200);
        assertThat(bye.body()).isEqualTo("bye");
        assertThat(app.connections.get(0).closeFuture().await(10, TimeUnit.SECONDS)).isTrue();

        assertThat(fetch(HttpMethod.GET, "/hello").status()).isEqualTo(200);
        assertThat(app.accepted.get()).isEqualTo(2);
    }

    /**
     * Apps close idle keep-alive connections (Node after 5 s, gunicorn after 2 s, ...). Once the
     * app's FIN reached the proxy, the pooled connection must not be handed to the next request,
     * however the previous response arrived (in one read, or in many).
     */
    @ParameterizedTest(name = "previous response of {0} bytes")
    @ValueSource(ints = {5, 1024 * 1024})
    @Timeout(60)
    void anIdleConnectionTheAppClosedIsNotReused(int previousSize) throws Exception {
        startProxy(UpstreamConfig.of(app.url()));

        Reply first = fetch(HttpMethod.GET, "/download?n=" + previousSize);
        assertThat(first.status()).isEqualTo(200);
        assertThat(first.content()).hasSize(previousSize);
        assertThat(app.accepted.get()).isEqualTo(1);

        // The app closes the idle connection; wait until that has happened, and until the proxy's
        // loop has been round at least once since (a PING answered after the FIN arrived).
        Channel idle = app.connections.get(0);
        idle.close();
        assertThat(idle.closeFuture().await(10, TimeUnit.SECONDS)).isTrue();
        client.ping().get(10, TimeUnit.SECONDS);
        client.ping().get(10, TimeUnit.SECONDS);

        Reply next = fetch(HttpMethod.GET, "/hello");
        assertThat(next.status()).as("a request after the app closed the idle connection: %s", next.body())
                .isEqualTo(200);
        assertThat(next.body()).isEqualTo("hello /hello");
        assertThat(app.accepted.get()).isEqualTo(2);
    }

    // ------------------------------------------------------------------------------------------
    // Streaming with backpressure

    @Test
    @Timeout(180)
    void aHundredMebibyteUploadReachesTheAppIntactAndIsHeldBackWhileTheAppDoesNotRead() throws Exception {
        startProxy(UpstreamConfig.of(app.url()));
        // The origin's window for the upload grows while the app reads at full speed (before it
        // stalls), so the bound is the most it may grow to.
        int serverWindow = serverConfig.maxStreamWindow();
        long limit = backlogLimit();

        HttpRequest post = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, "/upload?stall=1");
        post.headers().set(HttpHeaderNames.HOST, HOST);
        post.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/octet-stream");
        post.headers().set(HttpHeaderNames.CONTENT_LENGTH, BIG);
        TextBody response = new TextBody();
        HttpCall call = send(post, true, response);

        EventLoop loop = client.channel().eventLoop();
        Upload upload = new Upload(call, BIG, limit);
        call.onWritable(upload);
        loop.execute(upload);

        // The app stopped reading at the request head: the client must be held back, not the
        // whole body buffered by the proxy on its way to a socket that does not drain.
        Channel appChannel = app.uploadStalled.get(10, TimeUnit.SECONDS);
        assertThat(upload.pastLimit.await(1500, TimeUnit.MILLISECONDS))
                .as("client wrote more than %d bytes towards an app that does not read", limit)
                .isFalse();
        long sentWhileStalled = loop.submit(() -> call.stream().bytesSent()).get();
        boolean writableWhileStalled = loop.submit(call::isWritable).get();
        System.out.printf("upload stalled by the app: client sent %d bytes, wrote %d%n",
                sentWhileStalled, upload.written());
        assertThat(writableWhileStalled).as("client stream writable while the app does not read").isFalse();
        assertThat(sentWhileStalled).isLessThan(limit);

        // The app reads again: everything arrives, in order.
        long t0 = System.nanoTime();
        appChannel.eventLoop().execute(() -> appChannel.config().setAutoRead(true));
        String answer = response.done.get(120, TimeUnit.SECONDS);
        double secs = (System.nanoTime() - t0) / 1e9;
        System.out.printf("100 MiB upload through the proxy: %.1f s after the app resumed%n", secs);

        assertThat(call.response().get(5, TimeUnit.SECONDS).status().code()).isEqualTo(200);
        assertThat(upload.done.get(5, TimeUnit.SECONDS)).isEqualTo(BIG);
        assertThat(answer).isEqualTo("n=" + BIG + " crc=" + upload.crc());
        assertThat(answer).isEqualTo("n=" + BIG + " crc=" + patternCrc(BIG));
        assertThat(call.stream().bytesSent()).isEqualTo(BIG);
        assertThat(call.stream().maxQueuedBytes()).isLessThanOrEqualTo(serverWindow + CHUNK);

        Seen seen = app.seen("/upload?stall=1");
        assertThat(seen.method()).isEqualTo(HttpMethod.POST);
        assertThat(seen.headers().get(HttpHeaderNames.CONTENT_LENGTH)).isEqualTo(Long.toString(BIG));
        assertThat(seen.headers().contains(HttpHeaderNames.TRANSFER_ENCODING)).isFalse();
    }

    @Test
    @Timeout(60)
    void anUploadWithoutLengthIsSentToTheAppChunked() throws Exception {
        startProxy(UpstreamConfig.of(app.url()));
        long size = 3 * MIB + 12_345;

        HttpRequest post = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, "/upload");
        post.headers().set(HttpHeaderNames.HOST, HOST);
        TextBody response = new TextBody();
        HttpCall call = send(post, true, response);
        Upload upload = new Upload(call, size, Long.MAX_VALUE);
        call.onWritable(upload);
        client.channel().eventLoop().execute(upload);

        assertThat(response.done.get(30, TimeUnit.SECONDS)).isEqualTo("n=" + size + " crc=" + patternCrc(size));
        Seen seen = app.seen("/upload");
        assertThat(seen.headers().get(HttpHeaderNames.TRANSFER_ENCODING)).isEqualTo("chunked");
        assertThat(seen.headers().contains(HttpHeaderNames.CONTENT_LENGTH)).isFalse();
    }

    @Test
    @Timeout(180)
    void aHundredMebibyteDownloadStreamsBackIntactAndHoldsTheAppBackWhileTheClientDoesNotRead()
            throws Exception {
        startProxy(UpstreamConfig.of(app.url()));
        int window = clientConfig.initialStreamWindow();
        long limit = backlogLimit();
        String uri = "/download?n=" + BIG + "&limit=" + limit;

        HeldBody body = new HeldBody(window);
        cleanups.add(body::releaseHeld);
        HttpRequest get = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, uri);
        get.headers().set(HttpHeaderNames.HOST, HOST);
        HttpCall call = send(get, false, body);

        // The client holds everything it gets: the window fills, then nothing more may come, and
        // the app's writes back up instead of the proxy buffering the body.
        assertThat(body.windowFull.get(20, TimeUnit.SECONDS)).isEqualTo(window);
        assertThat(app.downloadPastLimit.await(1500, TimeUnit.MILLISECONDS))
                .as("the app got more than %d bytes written while the client read nothing", limit)
                .isFalse();
        Channel appChannel = app.seen(uri).channel();
        boolean appWritable = appChannel.eventLoop().submit(appChannel::isWritable).get();
        long appWrote = app.downloadWritten.get();
        TunnelStream proxied = serverStreams.get(uri).get(5, TimeUnit.SECONDS);
        long held = client.channel().eventLoop().submit(() -> body.heldBytes).get();
        System.out.printf("download held by the client: app wrote %d bytes, client holds %d,"
                + " proxy stream queue %d (max %d)%n", appWrote, held, proxied.queuedBytes(),
                proxied.maxQueuedBytes());
        assertThat(appWritable).as("the app's channel is writable while nobody reads").isFalse();
        assertThat(appWrote).isLessThan(limit);
        assertThat(held).isEqualTo(window);
        assertThat(proxied.bytesSent()).isEqualTo(window);
        assertThat(proxied.maxQueuedBytes()).isLessThanOrEqualTo(window + UPSTREAM_READ);

        // The client reads again: all of it arrives, in order, and the proxy never held more
        // than the client's window (which grows now that the client keeps up) plus one read.
        long t0 = System.nanoTime();
        client.channel().eventLoop().execute(body::drain);
        long total = body.done.get(120, TimeUnit.SECONDS);
        double secs = (System.nanoTime() - t0) / 1e9;
        System.out.printf("100 MiB download through the proxy: %.1f s, proxy stream maxQueuedBytes %d%n",
                secs, proxied.maxQueuedBytes());

        assertThat(call.response().get(5, TimeUnit.SECONDS).headers().get(HttpHeaderNames.CONTENT_LENGTH))
                .isEqualTo(Long.toString(BIG));
        assertThat(total).isEqualTo(BIG);
        assertThat(body.crc()).isEqualTo(patternCrc(BIG));
        assertThat(proxied.bytesSent()).isEqualTo(BIG);
        assertThat(proxied.maxQueuedBytes())
                .as("memory the proxy held for the client")
                .isPositive()
                .isLessThanOrEqualTo(clientConfig.maxStreamWindow() + UPSTREAM_READ);
        assertThat(body.closed.get(5, TimeUnit.SECONDS)).isNull();
    }

    // ------------------------------------------------------------------------------------------
    // Headers

    @Test
    @Timeout(60)
    void hopByHopRequestHeadersDoNotReachTheApp() throws Exception {
        startProxy(UpstreamConfig.of(app.url()));

        SpdyHeaders h = requestHeaders("GET", "/hello?hop");
        h.add("connection", "keep-alive, upgrade, x-conn-token");
        h.add("keep-alive", "timeout=5, max=100");
        h.add("proxy-connection", "keep-alive");
        h.add("transfer-encoding", "chunked");
        h.add("upgrade", "websocket");
        h.add("te", "trailers");
        h.add("x-end-to-end", "kept");
        RawStream raw = openRaw(h);

        assertThat(raw.closed.get(20, TimeUnit.SECONDS)).isNull();
        assertThat(raw.reply.get().getAsString(":status")).startsWith("200");
        HttpHeaders seen = app.seen("/hello?hop").headers();
        assertThat(seen.getAll(HttpHeaderNames.CONNECTION))
                .as("the only Connection header is the proxy's own").containsExactly("keep-alive");
        for (String name : HOP_BY_HOP) {
            if (!name.equals("connection")) {
                assertThat(seen.contains(name)).as("%s reached the app", name).isFalse();
            }
        }
        assertThat(seen.get("x-end-to-end")).isEqualTo("kept");
    }

    @Test
    @Timeout(60)
    void hopByHopResponseHeadersDoNotReachTheClient() throws Exception {
        startProxy(UpstreamConfig.of(app.url()));

        RawStream raw = openRaw(requestHeaders("GET", "/hop"));
        assertThat(raw.closed.get(20, TimeUnit.SECONDS)).isNull();
        SpdyHeaders reply = raw.reply.get();
        assertThat(reply.getAsString(":status")).startsWith("200");
        assertThat(raw.body()).isEqualTo("hop hop");
        Set<String> names = new HashSet<>();
        for (CharSequence name : reply.names()) {
            names.add(name.toString().toLowerCase(Locale.ROOT));
        }
        assertThat(names).doesNotContainAnyElementsOf(HOP_BY_HOP);
        assertThat(reply.getAsString("x-end-to-end")).isEqualTo("kept");
        assertThat(app.accepted.get()).isEqualTo(1);
        // The chunked response was read to its end: the connection is reused.
        assertThat(fetch(HttpMethod.GET, "/hello").status()).isEqualTo(200);
        assertThat(app.accepted.get()).isEqualTo(1);
    }

    /** RFC 9110 section 7.6.1: headers the Connection header names are hop-by-hop as well. */
    @Test
    @Timeout(60)
    void responseHeadersNamedByConnectionDoNotReachTheClient() throws Exception {
        startProxy(UpstreamConfig.of(app.url()));

        RawStream raw = openRaw(requestHeaders("GET", "/conn-token"));
        assertThat(raw.closed.get(20, TimeUnit.SECONDS)).isNull();
        SpdyHeaders reply = raw.reply.get();
        assertThat(reply.getAsString(":status")).startsWith("200");
        assertThat(reply.getAsString("x-end-to-end")).isEqualTo("kept");
        assertThat(reply.contains("x-hop-secret"))
                .as("x-hop-secret, named in the app's Connection header, reached the client")
                .isFalse();
    }

    @Test
    @Timeout(60)
    void forwardedHeadersTellTheAppWhoAskedHowAndForWhichHost() throws Exception {
        startProxy(UpstreamConfig.of(app.url()));

        Reply r = fetch(HttpMethod.GET, "/hello?fwd", h -> h.set("x-forwarded-for", "203.0.113.7"));
        assertThat(r.status()).isEqualTo(200);
        HttpHeaders seen = app.seen("/hello?fwd").headers();
        assertThat(seen.getAll("x-forwarded-for")).containsExactly("203.0.113.7");
        assertThat(seen.getAll("x-forwarded-proto")).containsExactly("https");
        assertThat(seen.getAll("x-forwarded-host")).containsExactly(HOST);
        assertThat(seen.get(HttpHeaderNames.HOST)).isEqualTo(HOST);

        // The proto is whatever :scheme the client sent.
        FullHttpRequest plain = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/hello?plain");
        plain.headers().set(HttpHeaderNames.HOST, "other.example.test:8080");
        FullHttpResponse resp = SpdyClient.fetch(client, plain, "http", 1 << 20).get(20, TimeUnit.SECONDS);
        try {
            assertThat(resp.status().code()).isEqualTo(200);
        } finally {
            resp.release();
        }
        HttpHeaders seenPlain = app.seen("/hello?plain").headers();
        assertThat(seenPlain.getAll("x-forwarded-proto")).containsExactly("http");
        assertThat(seenPlain.getAll("x-forwarded-host")).containsExactly("other.example.test:8080");
        assertThat(seenPlain.contains("x-forwarded-for")).isFalse();
    }

    @Test
    @Timeout(60)
    void theBaseUrlPathPrefixesTheRequestPath() throws Exception {
        startProxy(UpstreamConfig.of(URI.create(app.url() + "/base/")));

        Reply r = fetch(HttpMethod.GET, "/hello/x?y=1&z=%20");
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.body()).isEqualTo("hello /base/hello/x?y=1&z=%20");
    }

    // ------------------------------------------------------------------------------------------
    // Failures of the app

    @Test
    @Timeout(60)
    void aDeadUpstreamGives502OnThatStreamOnlyWhileAnotherStreamOfTheSessionSucceeds() throws Exception {
        int deadPort;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            deadPort = s.getLocalPort();
        }
        ReverseProxyHandler dead = proxy(UpstreamConfig.of(URI.create("http://127.0.0.1:" + deadPort)));
        ReverseProxyHandler live = proxy(UpstreamConfig.of(app.url()));
        startServer(ex -> (ex.request().uri().startsWith("/dead") ? dead : live).onRequest(ex));

        CompletableFuture<Reply> toDead = fetchAsync(HttpMethod.GET, "/dead/x", h -> {});
        CompletableFuture<Reply> toLive = fetchAsync(HttpMethod.GET, "/live/x", h -> {});
        Reply d = toDead.get(20, TimeUnit.SECONDS);
        Reply l = toLive.get(20, TimeUnit.SECONDS);

        assertThat(d.status()).isEqualTo(502);
        assertThat(d.headers().get(HttpHeaderNames.CONTENT_TYPE)).startsWith("text/plain");
        assertThat(d.body()).contains("unreachable");
        assertThat(l.status()).isEqualTo(200);
        assertThat(l.body()).isEqualTo("hello /live/x");

        // The session is unharmed: more streams, dead and live, behave the same.
        assertThat(client.state()).isEqualTo(SpdySession.State.ACTIVE);
        assertThat(fetch(HttpMethod.GET, "/dead/again").status()).isEqualTo(502);
        assertThat(fetch(HttpMethod.GET, "/live/again").status()).isEqualTo(200);
        assertThat(app.accepted.get()).isEqualTo(1);
    }

    @Test
    @Timeout(60)
    void anAppThatNeverAnswersGives504AndItsConnectionIsClosed() throws Exception {
        startProxy(UpstreamConfig.of(app.url()).withResponseTimeout(Duration.ofMillis(500)));

        long t0 = System.nanoTime();
        Reply r = fetch(HttpMethod.GET, "/silent");
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertThat(r.status()).isEqualTo(504);
        assertThat(ms).isGreaterThanOrEqualTo(400);
        assertThat(app.connections.get(0).closeFuture().await(10, TimeUnit.SECONDS))
                .as("the proxy closed the connection of the request it gave up on").isTrue();

        assertThat(fetch(HttpMethod.GET, "/hello").status()).isEqualTo(200);
        assertThat(app.accepted.get()).isEqualTo(2);
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"length", "chunked"})
    @Timeout(60)
    void anAppClosingMidResponseResetsTheStreamInsteadOfEndingItCleanly(String framing) throws Exception {
        startProxy(UpstreamConfig.of(app.url()));
        String uri = "/truncate?framing=" + framing;

        // With the streaming API: the head arrives, then a reset; never the end of the body.
        TextBody body = new TextBody();
        HttpRequest get = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, uri);
        get.headers().set(HttpHeaderNames.HOST, HOST);
        HttpCall call = send(get, false, body);
        SpdyStreamException cause = body.closed.get(20, TimeUnit.SECONDS);
        assertThat(call.response().get(5, TimeUnit.SECONDS).status().code()).isEqualTo(200);
        assertThat(cause).as("how the stream ended").isNotNull();
        assertThat(cause.error()).isEqualTo(SpdyError.INTERNAL_ERROR);
        assertThat(cause.isLocal()).isFalse();
        assertThat(body.sawLast).as("a truncated body looked complete").isFalse();
        assertThat(body.done).isNotDone();

        // With fetch: the future fails.
        FullHttpRequest again = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, uri + "&again");
        again.headers().set(HttpHeaderNames.HOST, HOST);
        CompletableFuture<FullHttpResponse> f = SpdyClient.fetch(client, again, "https", 4 << 20);
        f.thenAccept(FullHttpResponse::release);
        assertThatThrownBy(() -> f.get(20, TimeUnit.SECONDS))
                .isInstanceOf(ExecutionException.class)
                .cause().isInstanceOf(SpdyStreamException.class);
    }

    @Test
    @Timeout(60)
    void anAppClosingBeforeAnsweringGives502() throws Exception {
        startProxy(UpstreamConfig.of(app.url()));

        Reply r = fetch(HttpMethod.GET, "/close");
        assertThat(r.status()).isEqualTo(502);
        assertThat(r.body()).contains("closed");

        assertThat(fetch(HttpMethod.GET, "/hello").status()).isEqualTo(200);
        assertThat(app.accepted.get()).isEqualTo(2);
    }

    /** A response head cut off by the close is no answer either: 502, not 200 then a reset. */
    @Test
    @Timeout(60)
    void anAppClosingInTheMiddleOfTheResponseHeadGives502() throws Exception {
        startProxy(UpstreamConfig.of(app.url()));

        Reply r = fetchOrFailure("/partial-head");
        assertThat(r.status()).as("answer to a truncated response head: %s", r.body()).isEqualTo(502);
    }

    @Test
    @Timeout(60)
    void aMalformedResponseHeadGives502() throws Exception {
        startProxy(UpstreamConfig.of(app.url()));

        Reply r = fetchOrFailure("/garbage");
        assertThat(r.status()).as("answer to a response head that is not HTTP: %s", r.body()).isEqualTo(502);
    }

    /** A body the app's framing broke off is as truncated as one cut by a close. */
    @Test
    @Timeout(60)
    void aMalformedChunkResetsTheStream() throws Exception {
        startProxy(UpstreamConfig.of(app.url()));

        TextBody body = new TextBody();
        HttpRequest get = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/bad-chunk");
        get.headers().set(HttpHeaderNames.HOST, HOST);
        send(get, false, body);
        SpdyStreamException cause = body.closed.get(20, TimeUnit.SECONDS);
        assertThat(body.sawLast)
                .as("the body cut off by a malformed chunk looked complete: \"%s\"", body.text())
                .isFalse();
        assertThat(cause).isNotNull();
    }

    /** A connection whose HTTP decoder failed can never parse another response. */
    @Test
    @Timeout(60)
    void aConnectionThatCarriedAMalformedResponseIsNotReused() throws Exception {
        startProxy(UpstreamConfig.of(app.url()).withResponseTimeout(Duration.ofSeconds(3)));

        TextBody body = new TextBody();
        HttpRequest get = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/bad-chunk");
        get.headers().set(HttpHeaderNames.HOST, HOST);
        send(get, false, body);
        body.closed.get(20, TimeUnit.SECONDS);

        Reply next = fetch(HttpMethod.GET, "/hello");
        assertThat(next.status()).as("the next request: %s", next.body()).isEqualTo(200);
        assertThat(next.body()).isEqualTo("hello /hello");
    }

    @Test
    @Timeout(60)
    void aClientResettingItsStreamMidDownloadClosesTheUpstreamConnection() throws Exception {
        startProxy(UpstreamConfig.of(app.url()));
        String uri = "/download?n=" + BIG;

        // The client takes the first chunks (without consuming: the app soon has to wait) and
        // then cancels.
        HeldBody body = new HeldBody(Integer.MAX_VALUE);
        cleanups.add(body::releaseHeld);
        HttpRequest get = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, uri);
        get.headers().set(HttpHeaderNames.HOST, HOST);
        HttpCall call = send(get, false, body);
        body.firstChunk.get(20, TimeUnit.SECONDS);
        assertThat(app.connections.get(0).isActive()).isTrue();

        call.reset(SpdyError.CANCEL);

        SpdyStreamException cause = body.closed.get(10, TimeUnit.SECONDS);
        assertThat(cause).isNotNull();
        assertThat(cause.error()).isEqualTo(SpdyError.CANCEL);
        assertThat(app.connections.get(0).closeFuture().await(10, TimeUnit.SECONDS))
                .as("the app's connection closed after the client cancelled").isTrue();
        assertThat(app.downloadWritten.get()).isLessThan(BIG);
        TunnelStream proxied = serverStreams.get(uri).get(5, TimeUnit.SECONDS);
        assertThat(serverLoops.submit(proxied::isClosed).get()).isTrue();

        // The cancelled connection is gone; the next request gets a fresh one.
        assertThat(fetch(HttpMethod.GET, "/hello").status()).isEqualTo(200);
        assertThat(app.accepted.get()).isEqualTo(2);
    }

    // ------------------------------------------------------------------------------------------
    // Responses without a body, trailers

    @Test
    @Timeout(60)
    void aHeadRequestRelaysTheHeadWithoutABody() throws Exception {
        startProxy(UpstreamConfig.of(app.url()));

        RawStream raw = openRaw(requestHeaders("HEAD", "/head"));
        assertThat(raw.closed.get(20, TimeUnit.SECONDS)).isNull();
        SpdyHeaders reply = raw.reply.get();
        assertThat(reply.getAsString(":status")).startsWith("200");
        assertThat(reply.getAsString("content-length")).isEqualTo("12345");
        assertThat(raw.dataBytes.get()).as("body bytes of a HEAD response").isZero();
        assertThat(app.seen("/head").method()).isEqualTo(HttpMethod.HEAD);

        // The proxy did not wait for (or misread) a body: the connection serves the next request.
        Reply next = fetch(HttpMethod.GET, "/hello");
        assertThat(next.body()).isEqualTo("hello /hello");
        assertThat(app.accepted.get()).isEqualTo(1);
    }

    @Test
    @Timeout(60)
    void aNotModifiedResponseRelaysWithoutABody() throws Exception {
        startProxy(UpstreamConfig.of(app.url()));

        SpdyHeaders h = requestHeaders("GET", "/304");
        h.add("if-none-match", "\"v1\"");
        RawStream raw = openRaw(h);
        assertThat(raw.closed.get(20, TimeUnit.SECONDS)).isNull();
        SpdyHeaders reply = raw.reply.get();
        assertThat(reply.getAsString(":status")).startsWith("304");
        assertThat(reply.getAsString("etag")).isEqualTo("\"v1\"");
        assertThat(raw.dataBytes.get()).as("body bytes of a 304").isZero();
        assertThat(app.seen("/304").headers().get(HttpHeaderNames.IF_NONE_MATCH)).isEqualTo("\"v1\"");

        Reply next = fetch(HttpMethod.GET, "/hello");
        assertThat(next.body()).isEqualTo("hello /hello");
        assertThat(app.accepted.get()).isEqualTo(1);
    }

    /**
     * RFC 9110 section 15.4.5: a 304 carries validators, not the representation's metadata. An app
     * (like the original Go origin) may add Content-Type and the entity's Content-Length to it; a
     * cache merging them would relabel the stored file, and the length announces no body here.
     */
    @Test
    @Timeout(60)
    void aNotModifiedResponseLosesTheContentTypeAndLengthTheAppPutOnIt() throws Exception {
        startProxy(UpstreamConfig.of(app.url()));

        RawStream raw = openRaw(requestHeaders("GET", "/304-typed"));
        assertThat(raw.closed.get(20, TimeUnit.SECONDS)).isNull();
        SpdyHeaders reply = raw.reply.get();
        assertThat(reply.getAsString(":status")).startsWith("304");
        assertThat(reply.getAsString("etag")).isEqualTo("\"v2\"");
        assertThat(reply.getAsString("cache-control")).isEqualTo("max-age=60");
        assertThat(reply.contains("content-type")).as("content-type on a 304").isFalse();
        assertThat(reply.contains("content-length")).as("content-length on a 304").isFalse();
        assertThat(raw.dataBytes.get()).isZero();
        // Other statuses keep theirs.
        Reply ok = fetch(HttpMethod.GET, "/hello");
        assertThat(ok.headers().get(HttpHeaderNames.CONTENT_TYPE)).isEqualTo("text/plain; charset=utf-8");
        assertThat(app.accepted.get()).isEqualTo(1);
    }

    /**
     * The original Go proxy sends the path decoded (PROTOCOL.md): the app gets it as a valid
     * request target, never with a raw space, '#', CR or LF in its request line.
     */
    @Test
    @Timeout(60)
    void aPathSentDecodedReachesTheAppEscaped() throws Exception {
        startProxy(UpstreamConfig.of(URI.create(app.url() + "/base")));

        String wire = new String("/a b#c/café.txt?q=1 2&r=%41".getBytes(StandardCharsets.UTF_8),
                StandardCharsets.ISO_8859_1);
        RawStream decoded = openRaw(requestHeaders("GET", wire));
        assertThat(decoded.closed.get(20, TimeUnit.SECONDS)).isNull();
        assertThat(decoded.reply.get().getAsString(":status")).startsWith("200");
        String target = "/base/a%20b%23c/caf%C3%A9.txt?q=1%202&r=%41";
        assertThat(decoded.body()).isEqualTo("hello " + target);
        assertThat(app.seen(target).method()).isEqualTo(HttpMethod.GET);

        // An attempt to smuggle a second request (or a header) into the app's request line.
        RawStream smuggle = openRaw(requestHeaders("GET", "/x HTTP/1.1\r\nHost: evil\r\n\r\nGET /smuggled"));
        assertThat(smuggle.closed.get(20, TimeUnit.SECONDS)).isNull();
        String escaped = "/base/x%20HTTP/1.1%0D%0AHost:%20evil%0D%0A%0D%0AGET%20/smuggled";
        assertThat(smuggle.body()).isEqualTo("hello " + escaped);

        // Encoded paths, as our proxy sends them, are passed on as they are.
        assertThat(fetch(HttpMethod.GET, "/a%20b?x=%zz").body()).isEqualTo("hello /base/a%20b?x=%zz");
        assertThat(app.seenUris()).containsExactlyInAnyOrder(target, escaped, "/base/a%20b?x=%zz");
        assertThat(app.accepted.get()).isEqualTo(1);
    }

    @Test
    @Timeout(60)
    void responseTrailersAreRelayed() throws Exception {
        startProxy(UpstreamConfig.of(app.url()));

        Reply r = fetch(HttpMethod.GET, "/trailers");
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.body()).isEqualTo("hello world");
        assertThat(r.trailers().get("x-checksum")).isEqualTo("abc123");
        assertThat(fetch(HttpMethod.GET, "/hello").status()).isEqualTo(200);
        assertThat(app.accepted.get()).isEqualTo(1);
    }

    // ------------------------------------------------------------------------------------------
    // Setup helpers

    private ReverseProxyHandler proxy(UpstreamConfig config) {
        ReverseProxyHandler p = new ReverseProxyHandler(config);
        proxies.add(p);
        return p;
    }

    private void startProxy(UpstreamConfig config) throws Exception {
        ReverseProxyHandler p = proxy(config);
        startServer(p);
    }

    /** Starts the SPDY server (recording the proxy's side of each stream) and the client session. */
    private void startServer(RequestHandler handler) throws Exception {
        RequestHandler recording = ex -> {
            serverStreams.computeIfAbsent(ex.request().uri(), u -> new CompletableFuture<>())
                    .complete(ex.stream());
            handler.onRequest(ex);
        };
        server = SpdyServer.start(new InetSocketAddress("127.0.0.1", 0),
                TlsContexts.server(TestCerts.LOCALHOST, ALPN), serverConfig, SpdyTunnelSession.listener(recording),
                serverLoops);
        client = SpdyClient.connect(clientLoops, new InetSocketAddress("127.0.0.1", server.port()),
                TlsContexts.client(TestCerts.LOCALHOST.certificate(), ALPN), clientConfig,
                SpdySessionListener.refusingStreams()).get(10, TimeUnit.SECONDS);
    }

    // ------------------------------------------------------------------------------------------
    // Client helpers

    /** A whole response, copied out of the released {@link FullHttpResponse}. */
    record Reply(int status, HttpHeaders headers, byte[] content, HttpHeaders trailers) {
        String body() {
            return new String(content, StandardCharsets.UTF_8);
        }
    }

    private Reply fetch(HttpMethod method, String uri) throws Exception {
        return fetch(method, uri, h -> {});
    }

    private Reply fetch(HttpMethod method, String uri, Consumer<HttpHeaders> headers) throws Exception {
        return fetchAsync(method, uri, headers).get(10, TimeUnit.SECONDS);
    }

    private CompletableFuture<Reply> fetchAsync(HttpMethod method, String uri, Consumer<HttpHeaders> headers) {
        FullHttpRequest req = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, method, uri);
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

    /** The response, or (status -1) how its stream failed: for tests that expect a status. */
    private Reply fetchOrFailure(String uri) throws Exception {
        try {
            return fetch(HttpMethod.GET, uri);
        } catch (ExecutionException e) {
            return new Reply(-1, null, ("stream failed: " + e.getCause()).getBytes(StandardCharsets.UTF_8), null);
        }
    }

    /** Opens a streaming request; the response body goes to {@code body}, which learns the call. */
    private HttpCall send(HttpRequest request, boolean hasBody, TrackedBody body) throws Exception {
        return SpdyClient.send(client, request, "https", 3, hasBody, body).thenApply(call -> {
            call.onClose(body.closed::complete);
            body.attach(call);
            return call;
        }).get(10, TimeUnit.SECONDS);
    }

    private static SpdyHeaders requestHeaders(String method, String path) {
        SpdyHeaders h = new DefaultSpdyHeaders();
        h.set(":method", method);
        h.set(":path", path);
        h.set(":version", "HTTP/1.1");
        h.set(":host", HOST);
        h.set(":scheme", "https");
        return h;
    }

    /** A request with exactly these SPDY headers (no HTTP mapping on the client side), no body. */
    private RawStream openRaw(SpdyHeaders headers) throws Exception {
        RawStream raw = new RawStream();
        client.newStream(headers, 3, true, raw).get(10, TimeUnit.SECONDS);
        return raw;
    }

    /** Records the reply headers and body of a stream exactly as they came off the wire. */
    static final class RawStream implements SpdyStreamListener {
        final CompletableFuture<SpdyHeaders> reply = new CompletableFuture<>();
        final CompletableFuture<SpdyStreamException> closed = new CompletableFuture<>();
        final AtomicLong dataBytes = new AtomicLong();
        private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();

        @Override
        public void onHeaders(SpdyStream stream, SpdyHeaders headers, boolean endOfStream) {
            SpdyHeaders copy = new DefaultSpdyHeaders();
            copy.set(headers);
            reply.complete(copy);
        }

        @Override
        public void onData(SpdyStream stream, ByteBuf data, boolean endOfStream) {
            int n = data.readableBytes();
            dataBytes.addAndGet(n);
            synchronized (bytes) {
                bytes.writeBytes(ByteBufUtil.getBytes(data));
            }
            data.release();
            stream.consume(n);
        }

        @Override
        public void onClosed(SpdyStream stream, SpdyStreamException cause) {
            closed.complete(cause);
        }

        String body() {
            synchronized (bytes) {
                return bytes.toString(StandardCharsets.UTF_8);
            }
        }
    }

    /**
     * A response body listener that learns its call only once the stream opened: window granted
     * before then is owed and paid on {@link #attach}.
     */
    abstract static class TrackedBody implements BodyListener {
        final CompletableFuture<SpdyStreamException> closed = new CompletableFuture<>();
        private HttpCall call;
        private long owed;

        synchronized void attach(HttpCall c) {
            call = c;
            if (owed > 0) {
                c.consume((int) owed);
                owed = 0;
            }
        }

        synchronized void grant(int n) {
            if (n <= 0) {
                return;
            }
            if (call == null) {
                owed += n;
            } else {
                call.consume(n);
            }
        }
    }

    /** Collects a small body as text, consuming as it goes. */
    static final class TextBody extends TrackedBody {
        final CompletableFuture<String> done = new CompletableFuture<>();
        volatile boolean sawLast;
        private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();

        @Override
        public void onChunk(ByteBuf chunk, boolean last) {
            int n = chunk.readableBytes();
            synchronized (bytes) {
                bytes.writeBytes(ByteBufUtil.getBytes(chunk));
            }
            chunk.release();
            grant(n);
            if (last) {
                sawLast = true;
                done.complete(text());
            }
        }

        String text() {
            synchronized (bytes) {
                return bytes.toString(StandardCharsets.UTF_8);
            }
        }
    }

    /**
     * Checksums a body in arrival order. Until {@link #drain} (on the loop) it holds every chunk
     * without consuming, and completes {@link #windowFull} once it holds {@code window} bytes.
     */
    static final class HeldBody extends TrackedBody {
        final CompletableFuture<Long> windowFull = new CompletableFuture<>();
        final CompletableFuture<Void> firstChunk = new CompletableFuture<>();
        final CompletableFuture<Long> done = new CompletableFuture<>();
        private final int window;
        private final ArrayDeque<ByteBuf> held = new ArrayDeque<>();
        private final CRC32 crc = new CRC32();
        private boolean holding = true;
        private boolean lastSeen;
        long heldBytes;
        private long received;

        HeldBody(int window) {
            this.window = window;
        }

        @Override
        public void onChunk(ByteBuf chunk, boolean last) {
            int n = chunk.readableBytes();
            firstChunk.complete(null);
            received += n;
            update(crc, chunk);
            lastSeen |= last;
            if (holding) {
                held.add(chunk);
                heldBytes += n;
                if (heldBytes >= window) {
                    windowFull.complete(heldBytes);
                }
                return;
            }
            chunk.release();
            grant(n);
            if (last) {
                done.complete(received);
            }
        }

        void drain() {
            holding = false;
            releaseHeld();
            if (lastSeen) {
                done.complete(received);
            }
        }

        void releaseHeld() {
            ByteBuf b;
            while ((b = held.poll()) != null) {
                b.release();
            }
            int n = (int) heldBytes;
            heldBytes = 0;
            grant(n);
        }

        long crc() {
            return crc.getValue();
        }
    }

    /**
     * Writes {@code size} pattern bytes through a call while it is writable, on the session's
     * loop (it is also the call's writability callback).
     */
    static final class Upload implements Runnable {
        final CompletableFuture<Long> done = new CompletableFuture<>();
        final CountDownLatch pastLimit = new CountDownLatch(1);
        private final HttpCall call;
        private final long size;
        private final long limit;
        private final CRC32 crc = new CRC32();
        private final AtomicLong offset = new AtomicLong();

        Upload(HttpCall call, long size, long limit) {
            this.call = call;
            this.size = size;
            this.limit = limit;
        }

        @Override
        public void run() {
            long off = offset.get();
            while (off < size && call.isWritable() && !call.stream().isClosed()) {
                int n = (int) Math.min(CHUNK, size - off);
                int phase = (int) (off % P);
                ByteBuf chunk = call.stream().session().channel().alloc().buffer(n);
                chunk.writeBytes(PATTERN, phase, n);
                crc.update(PATTERN, phase, n);
                off += n;
                offset.set(off);
                call.write(chunk, off == size);
                if (off > limit) {
                    pastLimit.countDown();
                }
            }
            if (off == size) {
                done.complete(off);
            }
        }

        long written() {
            return offset.get();
        }

        long crc() {
            return crc.getValue();
        }
    }

    // ------------------------------------------------------------------------------------------
    // The app

    /** A request as the app saw it. */
    record Seen(HttpMethod method, String uri, HttpVersion version, HttpHeaders headers, Channel channel) {}

    /**
     * A small HTTP/1.1 app on plain Netty. Routes (by path; the request body is read first unless
     * said otherwise):
     * <ul>
     *   <li>{@code /hello...} and anything unknown: 200 "hello URI"
     *   <li>{@code /upload[?stall=1]}: 200 "n=N crc=C" of the body; stall stops reading at the head
     *   <li>{@code /download?n=N[&limit=L]}: N pattern bytes, written while the channel is writable
     *   <li>{@code /hold?round=R&n=N}: answered once N requests of round R are in
     *   <li>{@code /hop}, {@code /conn-token}: responses carrying hop-by-hop headers
     *   <li>{@code /bye}: answered with Connection: close, then closed
     *   <li>{@code /silent}: never answered; {@code /close}: closed at the request head
     *   <li>{@code /truncate?framing=length|chunked}: a head, 64 KiB of a 1 MiB body, then closed
     *   <li>{@code /partial-head}, {@code /garbage}, {@code /bad-chunk}: broken responses
     *   <li>{@code /head} (HEAD), {@code /304}, {@code /trailers}
     * </ul>
     */
    final class App implements AutoCloseable {
        final AtomicInteger accepted = new AtomicInteger();
        final List<Channel> connections = new CopyOnWriteArrayList<>();
        final CompletableFuture<Channel> uploadStalled = new CompletableFuture<>();
        final AtomicLong downloadWritten = new AtomicLong();
        final CountDownLatch downloadPastLimit = new CountDownLatch(1);
        private final Map<String, Seen> seen = new ConcurrentHashMap<>();
        /** Held requests by round: their connection and URI. */
        private final Map<String, List<Map.Entry<ChannelHandlerContext, String>>> holds = new ConcurrentHashMap<>();
        private final Channel listener;

        App(EventLoopGroup group) throws InterruptedException {
            listener = new ServerBootstrap()
                    .group(group)
                    .channel(Transport.serverChannel())
                    // Small socket buffers, so that backpressure shows within a few hundred KiB.
                    .option(ChannelOption.SO_RCVBUF, 64 * 1024)
                    .childOption(ChannelOption.SO_SNDBUF, 64 * 1024)
                    .childHandler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel ch) {
                            accepted.incrementAndGet();
                            connections.add(ch);
                            ch.pipeline().addLast(new HttpServerCodec(), new AppHandler());
                        }
                    })
                    .bind("127.0.0.1", 0).sync().channel();
        }

        URI url() {
            return URI.create("http://127.0.0.1:" + ((InetSocketAddress) listener.localAddress()).getPort());
        }

        Set<String> seenUris() {
            return Set.copyOf(seen.keySet());
        }

        Seen seen(String uri) {
            Seen s = seen.get(uri);
            assertThat(s).as("the app saw %s (it saw %s)", uri, seen.keySet()).isNotNull();
            return s;
        }

        @Override
        public void close() {
            listener.close().syncUninterruptibly();
            for (Channel ch : connections) {
                ch.close().syncUninterruptibly();
            }
        }

        /** One connection of the app. */
        private final class AppHandler extends ChannelInboundHandlerAdapter {
            private HttpRequest request;
            private final CRC32 crc = new CRC32();
            private long received;
            private boolean ignoring;
            private Runnable producer;

            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                try {
                    if (msg instanceof HttpRequest r) {
                        onHead(ctx, r);
                    }
                    if (msg instanceof HttpContent c && !ignoring) {
                        update(crc, c.content());
                        received += c.content().readableBytes();
                        if (c instanceof LastHttpContent) {
                            respond(ctx);
                        }
                    }
                } finally {
                    ReferenceCountUtil.release(msg);
                }
            }

            @Override
            public void channelWritabilityChanged(ChannelHandlerContext ctx) {
                if (ctx.channel().isWritable() && producer != null) {
                    producer.run();
                }
                ctx.fireChannelWritabilityChanged();
            }

            @Override
            public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                ctx.close();
            }

            private void onHead(ChannelHandlerContext ctx, HttpRequest r) {
                request = r;
                crc.reset();
                received = 0;
                ignoring = false;
                seen.put(r.uri(), new Seen(r.method(), r.uri(), r.protocolVersion(), r.headers().copy(),
                        ctx.channel()));
                QueryStringDecoder q = new QueryStringDecoder(r.uri());
                switch (q.path()) {
                    case "/close" -> {
                        ignoring = true;
                        ctx.close();
                    }
                    case "/upload" -> {
                        if (q.parameters().containsKey("stall")) {
                            ctx.channel().config().setAutoRead(false);
                            uploadStalled.complete(ctx.channel());
                        }
                    }
                    default -> { }
                }
            }

            private void respond(ChannelHandlerContext ctx) {
                QueryStringDecoder q = new QueryStringDecoder(request.uri());
                switch (q.path()) {
                    case "/upload" -> text(ctx, HttpResponseStatus.OK, "n=" + received + " crc=" + crc.getValue());
                    case "/download" -> download(ctx, Long.parseLong(param(q, "n")),
                            q.parameters().containsKey("limit") ? Long.parseLong(param(q, "limit")) : Long.MAX_VALUE);
                    case "/hold" -> hold(ctx, param(q, "round"), Integer.parseInt(param(q, "n")));
                    case "/silent" -> { }
                    case "/hop" -> hop(ctx);
                    case "/conn-token" -> {
                        FullHttpResponse r = full(HttpResponseStatus.OK, "token");
                        r.headers().set(HttpHeaderNames.CONNECTION, "keep-alive, X-Hop-Secret");
                        r.headers().set("X-Hop-Secret", "42");
                        r.headers().set("X-End-To-End", "kept");
                        ctx.writeAndFlush(r);
                    }
                    case "/bye" -> {
                        FullHttpResponse r = full(HttpResponseStatus.OK, "bye");
                        r.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
                        ctx.writeAndFlush(r).addListener(ChannelFutureListener.CLOSE);
                    }
                    case "/truncate" -> truncate(ctx, "chunked".equals(param(q, "framing")));
                    case "/partial-head" -> raw(ctx, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Len", true);
                    case "/garbage" -> raw(ctx, "HTTP/1.1 2x0 Broken\r\nContent-Length: 2\r\n\r\nno", false);
                    case "/bad-chunk" -> raw(ctx, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                            + "5\r\nhello\r\nzz\r\n", false);
                    case "/head" -> {
                        HttpResponse r = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
                        r.headers().set(HttpHeaderNames.CONTENT_LENGTH, 12345);
                        r.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/octet-stream");
                        ctx.write(r);
                        ctx.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT);
                    }
                    case "/304" -> {
                        HttpResponse r = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.NOT_MODIFIED);
                        r.headers().set(HttpHeaderNames.ETAG, "\"v1\"");
                        ctx.write(r);
                        ctx.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT);
                    }
                    case "/304-typed" -> {
                        HttpResponse r = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.NOT_MODIFIED);
                        r.headers().set(HttpHeaderNames.ETAG, "\"v2\"");
                        r.headers().set(HttpHeaderNames.CACHE_CONTROL, "max-age=60");
                        r.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/html; charset=utf-8");
                        r.headers().set(HttpHeaderNames.CONTENT_LENGTH, 1234);
                        ctx.write(r);
                        ctx.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT);
                    }
                    case "/trailers" -> {
                        HttpResponse r = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
                        HttpUtil.setTransferEncodingChunked(r, true);
                        r.headers().set(HttpHeaderNames.TRAILER, "x-checksum");
                        ctx.write(r);
                        ctx.write(new DefaultHttpContent(ascii("hello ")));
                        ctx.write(new DefaultHttpContent(ascii("world")));
                        LastHttpContent end = new DefaultLastHttpContent();
                        end.trailingHeaders().set("x-checksum", "abc123");
                        ctx.writeAndFlush(end);
                    }
                    default -> text(ctx, HttpResponseStatus.OK, "hello " + request.uri());
                }
            }

            private void download(ChannelHandlerContext ctx, long total, long limit) {
                HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
                HttpUtil.setContentLength(head, total);
                head.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/octet-stream");
                ctx.write(head);
                long[] off = {0};
                producer = () -> {
                    while (off[0] < total && ctx.channel().isWritable()) {
                        int n = (int) Math.min(CHUNK, total - off[0]);
                        ByteBuf b = ctx.alloc().buffer(n);
                        b.writeBytes(PATTERN, (int) (off[0] % P), n);
                        off[0] += n;
                        HttpContent c = off[0] == total ? new DefaultLastHttpContent(b) : new DefaultHttpContent(b);
                        ctx.write(c).addListener(f -> {
                            if (f.isSuccess() && downloadWritten.addAndGet(n) > limit) {
                                downloadPastLimit.countDown();
                            }
                        });
                    }
                    if (off[0] == total) {
                        producer = null;
                    }
                    ctx.flush();
                };
                producer.run();
            }

            private void hold(ChannelHandlerContext ctx, String round, int n) {
                List<Map.Entry<ChannelHandlerContext, String>> waiting =
                        holds.computeIfAbsent(round, r -> new ArrayList<>());
                List<Map.Entry<ChannelHandlerContext, String>> all = null;
                synchronized (waiting) {
                    waiting.add(Map.entry(ctx, request.uri()));
                    if (waiting.size() == n) {
                        all = new ArrayList<>(waiting);
                    }
                }
                if (all != null) {
                    for (Map.Entry<ChannelHandlerContext, String> e : all) {
                        ChannelHandlerContext c = e.getKey();
                        c.executor().execute(() -> c.writeAndFlush(full(HttpResponseStatus.OK, "held " + e.getValue())));
                    }
                }
            }

            private void hop(ChannelHandlerContext ctx) {
                HttpResponse r = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
                r.headers().set(HttpHeaderNames.CONNECTION, "keep-alive");
                r.headers().set("Keep-Alive", "timeout=5, max=100");
                r.headers().set("Proxy-Connection", "keep-alive");
                r.headers().set(HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderValues.CHUNKED);
                r.headers().set(HttpHeaderNames.UPGRADE, "h2c");
                r.headers().set(HttpHeaderNames.TE, "trailers");
                r.headers().set("X-End-To-End", "kept");
                ctx.write(r);
                ctx.write(new DefaultHttpContent(ascii("hop ")));
                ctx.writeAndFlush(new DefaultLastHttpContent(ascii("hop")));
            }

            private void truncate(ChannelHandlerContext ctx, boolean chunked) {
                HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
                if (chunked) {
                    HttpUtil.setTransferEncodingChunked(head, true);
                } else {
                    HttpUtil.setContentLength(head, MIB);
                }
                ctx.write(head);
                ByteBuf part = ctx.alloc().buffer(64 * 1024);
                part.writeBytes(PATTERN, 0, 64 * 1024);
                ctx.writeAndFlush(new DefaultHttpContent(part)).addListener(ChannelFutureListener.CLOSE);
            }

            /** Writes bytes past the HTTP encoder, straight to the socket. */
            private void raw(ChannelHandlerContext ctx, String bytes, boolean thenClose) {
                var f = ctx.pipeline().firstContext().writeAndFlush(ascii(bytes));
                if (thenClose) {
                    f.addListener(ChannelFutureListener.CLOSE);
                }
            }

            private void text(ChannelHandlerContext ctx, HttpResponseStatus status, String body) {
                ctx.writeAndFlush(full(status, body));
            }
        }
    }

    private static FullHttpResponse full(HttpResponseStatus status, String body) {
        FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, ascii(body));
        r.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain; charset=utf-8");
        HttpUtil.setContentLength(r, r.content().readableBytes());
        return r;
    }

    private static ByteBuf ascii(String s) {
        return Unpooled.copiedBuffer(s, StandardCharsets.UTF_8);
    }

    private static String param(QueryStringDecoder q, String name) {
        return q.parameters().get(name).get(0);
    }

    private static void update(CRC32 crc, ByteBuf buf) {
        if (!buf.isReadable()) {
            return;
        }
        for (ByteBuffer b : buf.nioBuffers(buf.readerIndex(), buf.readableBytes())) {
            crc.update(b);
        }
    }

    /**
     * The most a stalled transfer may have moved past the point that stalls: the stream window
     * and a few chunks, plus what the kernel buffers between the proxy and the app (the app's
     * own socket buffers are pinned to 64 KiB; the proxy's are autotuned up to the sysctl
     * maximum). Far below {@link #BIG}, which is what an unbounded proxy would let through.
     */
    private static long backlogLimit() {
        long kernel = 4 * MIB;
        for (String f : List.of("/proc/sys/net/ipv4/tcp_wmem", "/proc/sys/net/ipv4/tcp_rmem")) {
            try {
                String[] v = java.nio.file.Files.readString(java.nio.file.Path.of(f)).trim().split("\\s+");
                kernel = Math.max(kernel, Long.parseLong(v[f.endsWith("wmem") ? 2 : 1]));
            } catch (java.io.IOException | RuntimeException e) {
                // not Linux: keep the default
            }
        }
        return 12 * MIB + Math.min(kernel, 48 * MIB);
    }

    private static long patternCrc(long size) {
        CRC32 crc = new CRC32();
        for (long off = 0; off < size; ) {
            int n = (int) Math.min(64 * 1024, size - off);
            crc.update(PATTERN, (int) (off % P), n);
            off += n;
        }
        return crc.getValue();
    }

}
