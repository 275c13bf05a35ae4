package io.spdyproxy.origin.upstream;

import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

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
import io.netty.channel.EventLoopGroup;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.ContinuationWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PingWebSocketFrame;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocket13FrameDecoder;
import io.netty.handler.codec.http.websocketx.WebSocket13FrameEncoder;
import io.netty.handler.codec.http.websocketx.WebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketServerProtocolConfig;
import io.netty.handler.codec.http.websocketx.WebSocketServerProtocolHandler;
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
import io.spdyproxy.spdy.http.SpdyClient;
import io.spdyproxy.spdy.http.SpdyServer;
import io.spdyproxy.testing.TestCerts;
import io.spdyproxy.tls.TlsContexts;
import io.spdyproxy.transport.Transport;
import io.spdyproxy.tunnel.RequestHandler;
import io.spdyproxy.tunnel.TunnelStream;
import io.spdyproxy.tunnel.spdy.SpdyTunnelSession;
import java.io.ByteArrayOutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The origin's side of an HTTP upgrade (docs/PROTOCOL.md, "Upgraded streams"): a SPDY client
 * session plays the proxy, sending an upgrade request as a SYN_STREAM with an {@code upgrade}
 * field and no FIN, then the new protocol's bytes as DATA; a {@link ReverseProxyHandler} in a
 * {@link SpdyServer} performs the upgrade with a real app on loopback. Two apps: Netty's
 * WebSocket server ({@link WsApp}) and a hand-written one speaking a made-up protocol
 * ({@link RawApp}) that answers the 101 and its first bytes in one write and echoes half-closes.
 *
 * <p>The client side encodes and decodes WebSocket frames with Netty's codec in an
 * {@link EmbeddedChannel}; everything else is real sockets. Waits are on futures and queues.
 */
class UpgradeThroughReverseProxyTest {
    private static final long MIB = 1024 * 1024;
    private static final List<String> ALPN = List.of("spdy/3.1");
    private static final String HOST = "app.example.test";
    /** Largest piece the origin reads from the app's connection (and so relays) at once. */
    private static final int UPSTREAM_READ = 64 * 1024;
    private static final int FLOOD_FRAME = 16 * 1024;
    private static final int MAX_FRAME = (int) (8 * MIB);

    private final SpdySessionConfig serverConfig = SpdySessionConfig.builder(SpdyRole.SERVER).build();
    private final SpdySessionConfig clientConfig = SpdySessionConfig.builder(SpdyRole.CLIENT).build();
    /** The origin's side of each stream, by request URI. */
    private final Map<String, CompletableFuture<TunnelStream>> serverStreams = new ConcurrentHashMap<>();
    private final List<Runnable> clientCleanups = new CopyOnWriteArrayList<>();

    private EventLoopGroup appLoops;
    private EventLoopGroup serverLoops;
    private EventLoopGroup clientLoops;
    private WsApp wsApp;
    private RawApp rawApp;
    private ReverseProxyHandler proxy;
    private SpdyServer server;
    private SpdySession client;

    @BeforeEach
    void start() throws Exception {
        appLoops = Transport.newGroup(1, "up-app");
        serverLoops = Transport.newGroup(1, "up-server");
        clientLoops = Transport.newGroup(1, "up-client");
        wsApp = new WsApp(appLoops);
        rawApp = new RawApp(appLoops);
    }

    @AfterEach
    void stop() throws Exception {
        try {
            if (client != null) {
                client.close().get(10, TimeUnit.SECONDS);
            }
            for (Runnable r : clientCleanups) {
                clientLoops.submit(r).get(10, TimeUnit.SECONDS);
            }
            if (server != null) {
                server.close();
            }
            if (proxy != null) {
                serverLoops.submit(proxy::close).get(10, TimeUnit.SECONDS);
            }
            wsApp.close();
            rawApp.close();
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
    // WebSockets

    @Test
    @Timeout(60)
    void aWebSocketHandshakeGets101AndMessagesEchoInOrderBothWays() throws Exception {
        startProxy(wsApp.url());

        Upgraded ws = openWebSocket("/ws/echo", h -> h.set("sec-websocket-protocol", "chat"));
        SpdyHeaders reply = ws.reply.get(10, TimeUnit.SECONDS);
        assertThat(reply.getAsString(":status")).startsWith("101");
        assertThat(reply.getAsString("upgrade")).isEqualToIgnoringCase("websocket");
        assertThat(reply.getAsString("sec-websocket-accept")).isEqualTo(acceptOf(ws.key));
        assertThat(reply.getAsString("sec-websocket-protocol")).isEqualTo("chat");

        HttpHeaders seen = wsApp.seen("/ws/echo");
        assertThat(seen.get(HttpHeaderNames.CONNECTION)).isEqualToIgnoringCase("upgrade");
        assertThat(seen.get(HttpHeaderNames.UPGRADE)).isEqualToIgnoringCase("websocket");
        assertThat(seen.get(HttpHeaderNames.SEC_WEBSOCKET_KEY)).isEqualTo(ws.key);
        assertThat(seen.get(HttpHeaderNames.SEC_WEBSOCKET_VERSION)).isEqualTo("13");
        assertThat(seen.get(HttpHeaderNames.SEC_WEBSOCKET_PROTOCOL)).isEqualTo("chat");
        assertThat(seen.contains(HttpHeaderNames.TRANSFER_ENCODING)).isFalse();

        int n = 500;
        for (int i = 0; i < n; i++) {
            ws.send(new TextWebSocketFrame("message " + i));
        }
        for (int i = 0; i < n; i++) {
            assertThat(ws.next().text()).isEqualTo("message " + i);
        }

        // Larger than every window, so both directions run on granted credit.
        byte[] big = new byte[(int) (MIB + 17)];
        new SplittableRandom(42).nextBytes(big);
        ws.send(new BinaryWebSocketFrame(Unpooled.wrappedBuffer(big)));
        Frame echo = ws.next();
        assertThat(echo.type()).isEqualTo(BinaryWebSocketFrame.class);
        assertThat(echo.payload()).isEqualTo(big);

        // Control frames pass as bytes: the app's WebSocket stack answers the ping itself.
        ws.send(new PingWebSocketFrame(Unpooled.copiedBuffer("are you there", UTF_8)));
        Frame pong = ws.next();
        assertThat(pong.type().getSimpleName()).isEqualTo("PongWebSocketFrame");
        assertThat(pong.text()).isEqualTo("are you there");
        assertThat(wsApp.accepted.get()).isEqualTo(1);
    }

    @Test
    @Timeout(60)
    void aClientThatStopsReadingHoldsTheFloodingAppBackAndTheOriginAtTheWindow() throws Exception {
        startProxy(wsApp.url());
        int window = clientConfig.initialStreamWindow();
        long limit = backlogLimit();
        wsApp.floodLimit = limit;

        Upgraded ws = open("/ws/flood", "websocket", Mode.COUNT, window, h -> {
            h.set("sec-websocket-key", newKey());
            h.set("sec-websocket-version", "13");
        });
        assertThat(ws.reply.get(10, TimeUnit.SECONDS).getAsString(":status")).startsWith("101");

        // The client consumes nothing: the window fills, then the app's writes must back up
        // rather than the origin buffer the flood.
        assertThat(ws.windowFull.get(20, TimeUnit.SECONDS)).isEqualTo(window);
        assertThat(wsApp.floodPastLimit.await(1500, TimeUnit.MILLISECONDS))
                .as("the app got more than %d bytes written while the client read nothing", limit)
                .isFalse();
        TunnelStream proxied = serverStreams.get("/ws/flood").get(5, TimeUnit.SECONDS);
        long sent = serverLoops.submit(proxied::bytesSent).get();
        System.out.printf("flood held by the client: app wrote %d bytes, origin sent %d, queue max %d%n",
                wsApp.floodWritten.get(), sent, proxied.maxQueuedBytes());
        assertThat(sent).isEqualTo(window);
        assertThat(proxied.maxQueuedBytes()).isLessThanOrEqualTo(window + UPSTREAM_READ);

        // Reading again, the flood flows, still within the (now growing) window plus one read.
        clientLoops.submit(ws::drain).get();
        ws.receivedAtLeast(window + 16 * MIB).get(30, TimeUnit.SECONDS);
        assertThat(proxied.maxQueuedBytes()).isLessThanOrEqualTo(clientConfig.maxStreamWindow() + UPSTREAM_READ);

        // The client goes away: the app's connection is closed.
        Channel appChannel = wsApp.connections.get(0);
        ws.stream.reset(SpdyError.CANCEL);
        assertThat(ws.closed.get(10, TimeUnit.SECONDS)).isNotNull();
        assertThat(appChannel.closeFuture().await(10, TimeUnit.SECONDS))
                .as("the app's connection closed after the client reset the stream").isTrue();
    }

    @Test
    @Timeout(60)
    void anAppClosingTheWebSocketEndsTheStreamAfterItsCloseFrame() throws Exception {
        startProxy(wsApp.url());

        Upgraded ws = openWebSocket("/ws/echo", h -> {});
        assertThat(ws.reply.get(10, TimeUnit.SECONDS).getAsString(":status")).startsWith("101");
        ws.send(new TextWebSocketFrame("close-me"));

        Frame close = ws.next();
        assertThat(close.type()).isEqualTo(CloseWebSocketFrame.class);
        assertThat(close.closeCode()).isEqualTo(4000);
        assertThat(close.reason()).isEqualTo("app says bye");
        assertThat(ws.peerEnded.get(10, TimeUnit.SECONDS)).as("the stream ended with FIN, not a reset").isTrue();

        ws.end();
        assertThat(ws.closed.get(10, TimeUnit.SECONDS)).as("how the stream closed").isNull();
        // The client's side closed once its FIN was written; the origin's closes once it has read
        // that FIN. A PING sent after it is answered only after the origin read the FIN.
        client.ping().get(10, TimeUnit.SECONDS);
        TunnelStream proxied = serverStreams.get("/ws/echo").get(5, TimeUnit.SECONDS);
        assertThat(serverLoops.submit(proxied::isClosed).get()).isTrue();
    }

    @Test
    @Timeout(60)
    void aCloseFromTheClientReachesTheAppWithItsCode() throws Exception {
        startProxy(wsApp.url());

        Upgraded ws = openWebSocket("/ws/echo", h -> {});
        assertThat(ws.reply.get(10, TimeUnit.SECONDS).getAsString(":status")).startsWith("101");
        ws.send(new CloseWebSocketFrame(1001, "going away"));

        // The app's WebSocket stack answers a close with the same code, then closes.
        Frame close = ws.next();
        assertThat(close.type()).isEqualTo(CloseWebSocketFrame.class);
        assertThat(close.closeCode()).isEqualTo(1001);
        assertThat(wsApp.closeCodes.poll(10, TimeUnit.SECONDS)).isEqualTo(1001);
        assertThat(ws.peerEnded.get(10, TimeUnit.SECONDS)).isTrue();
        ws.end();
        assertThat(ws.closed.get(10, TimeUnit.SECONDS)).isNull();
        assertThat(wsApp.connections.get(0).closeFuture().await(10, TimeUnit.SECONDS)).isTrue();
    }

    @Test
    @Timeout(60)
    void anUpgradeTheAppRefusesIsRelayedAsAPlainResponseAndItsConnectionIsNotReused() throws Exception {
        startProxy(wsApp.url());

        Upgraded ws = open("/plain", "websocket", Mode.BYTES, 0, h -> {
            h.set("sec-websocket-key", newKey());
            h.set("sec-websocket-version", "13");
        });
        SpdyHeaders reply = ws.reply.get(10, TimeUnit.SECONDS);
        assertThat(reply.getAsString(":status")).startsWith("200");
        assertThat(reply.contains("upgrade")).isFalse();
        assertThat(ws.peerEnded.get(10, TimeUnit.SECONDS)).isTrue();
        assertThat(ws.text()).isEqualTo("plain /plain");
        assertThat(wsApp.connections.get(0).closeFuture().await(10, TimeUnit.SECONDS))
                .as("the connection of a refused upgrade closed").isTrue();

        // Whatever the client still sends is dropped (and its window granted back).
        ws.sendRaw("stray bytes");
        ws.end();
        assertThat(ws.closed.get(10, TimeUnit.SECONDS)).isNull();
    }

    @Test
    @Timeout(60)
    void theTunnelDroppingClosesEveryUpgradedConnection() throws Exception {
        startProxy(wsApp.url());
        int n = 5;
        List<Upgraded> all = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Upgraded ws = openWebSocket("/ws/echo?i=" + i, h -> {});
            ws.send(new TextWebSocketFrame("hi " + i));
            all.add(ws);
        }
        for (int i = 0; i < n; i++) {
            assertThat(all.get(i).next().text()).isEqualTo("hi " + i);
        }
        assertThat(wsApp.connections).hasSize(n);

        client.close().get(10, TimeUnit.SECONDS);
        for (Channel ch : wsApp.connections) {
            assertThat(ch.closeFuture().await(10, TimeUnit.SECONDS))
                    .as("an app connection closed after the tunnel dropped").isTrue();
        }
    }

    // ------------------------------------------------------------------------------------------
    // Any upgrade: raw bytes and half-closes

    @Test
    @Timeout(60)
    void anyProtocolUpgradesAndBytesTheAppSentWithThe101AreNotLost() throws Exception {
        startProxy(rawApp.url());

        Upgraded raw = open("/raw", "x-echo", Mode.BYTES, 0, h -> {});
        // Sent at once, most likely before the app's 101: held until the switch, then relayed.
        raw.sendRaw("zero\n");
        SpdyHeaders reply = raw.reply.get(10, TimeUnit.SECONDS);
        assertThat(reply.getAsString(":status")).startsWith("101");
        assertThat(reply.getAsString("upgrade")).isEqualTo("x-echo");
        // "hello" was written in the same segment as the 101 head: read by the HTTP codec with it.
        raw.receivedAtLeast(11).get(10, TimeUnit.SECONDS);
        assertThat(raw.text()).isEqualTo("hello\nzero\n");
        assertThat(rawApp.heads.poll(5, TimeUnit.SECONDS))
                .startsWith("GET /raw HTTP/1.1\r\n")
                .containsIgnoringCase("\r\nupgrade: x-echo")
                .containsIgnoringCase("\r\nconnection: upgrade");

        raw.sendRaw("one\n");
        raw.sendRaw("two\n");
        raw.receivedAtLeast(19).get(10, TimeUnit.SECONDS);
        assertThat(raw.text()).isEqualTo("hello\nzero\none\ntwo\n");

        // The client's half-close reaches the app as a FIN; the app answers, then ends its side.
        raw.end();
        rawApp.inputShutdown.get(10, TimeUnit.SECONDS);
        assertThat(raw.peerEnded.get(10, TimeUnit.SECONDS)).isTrue();
        assertThat(raw.text()).isEqualTo("hello\nzero\none\ntwo\nbye\n");
        assertThat(raw.closed.get(10, TimeUnit.SECONDS)).isNull();
        assertThat(rawApp.connections.get(0).closeFuture().await(10, TimeUnit.SECONDS)).isTrue();
    }

    @Test
    @Timeout(60)
    void theAppDroppingTheConnectionResetsTheStream() throws Exception {
        startProxy(rawApp.url());

        Upgraded raw = open("/raw", "x-echo", Mode.BYTES, 0, h -> {});
        raw.receivedAtLeast(6).get(10, TimeUnit.SECONDS);
        // SO_LINGER 0: the app's close is an RST, the way a crashed host's connection looks.
        Channel app = rawApp.connections.get(0);
        app.config().setOption(ChannelOption.SO_LINGER, 0);
        app.close();

        SpdyStreamException cause = raw.closed.get(10, TimeUnit.SECONDS);
        assertThat(cause).as("how the stream ended").isNotNull();
        assertThat(cause.error()).isEqualTo(SpdyError.INTERNAL_ERROR);
        assertThat(raw.peerEnded.get(5, TimeUnit.SECONDS)).as("the stream ended with FIN").isFalse();
    }

    @Test
    @Timeout(60)
    void a101ToARequestThatAskedForNoUpgradeGives502() throws Exception {
        startProxy(rawApp.url());

        FullHttpRequest get = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/raw");
        get.headers().set(HttpHeaderNames.HOST, HOST);
        FullHttpResponse r = SpdyClient.fetch(client, get, "https", 1 << 20).get(10, TimeUnit.SECONDS);
        try {
            assertThat(r.status().code()).isEqualTo(502);
            assertThat(r.content().toString(UTF_8)).contains("switched protocols");
        } finally {
            r.release();
        }
        assertThat(rawApp.connections.get(0).closeFuture().await(10, TimeUnit.SECONDS)).isTrue();
    }

    /** An upgrade request that ends with its head cannot carry the new protocol: plain request. */
    @Test
    @Timeout(60)
    void anUpgradeHeaderOnAFinishedRequestDoesNotReachTheApp() throws Exception {
        startProxy(wsApp.url());

        SpdyHeaders h = requestHeaders("/plain-fin");
        h.set("upgrade", "websocket");
        Upgraded plain = new Upgraded(Mode.BYTES, 0, null);
        plain.stream = client.newStream(h, 3, true, plain).get(10, TimeUnit.SECONDS);
        assertThat(plain.closed.get(10, TimeUnit.SECONDS)).isNull();
        assertThat(plain.reply.get().getAsString(":status")).startsWith("200");
        HttpHeaders seen = wsApp.seen("/plain-fin");
        assertThat(seen.contains(HttpHeaderNames.UPGRADE)).isFalse();
        assertThat(seen.get(HttpHeaderNames.CONNECTION)).isEqualTo("keep-alive");
    }

    // ------------------------------------------------------------------------------------------
    // Setup

    private void startProxy(URI app) throws Exception {
        proxy = new ReverseProxyHandler(UpstreamConfig.of(app));
        ReverseProxyHandler p = proxy;
        RequestHandler recording = ex -> {
            serverStreams.computeIfAbsent(ex.request().uri(), u -> new CompletableFuture<>()).complete(ex.stream());
            p.onRequest(ex);
        };
        server = SpdyServer.start(new InetSocketAddress("127.0.0.1", 0),
                TlsContexts.server(TestCerts.LOCALHOST, ALPN), serverConfig, SpdyTunnelSession.listener(recording),
                serverLoops);
        client = SpdyClient.connect(clientLoops, new InetSocketAddress("127.0.0.1", server.port()),
                TlsContexts.client(TestCerts.LOCALHOST.certificate(), ALPN), clientConfig,
                SpdySessionListener.refusingStreams()).get(10, TimeUnit.SECONDS);
    }

    private static SpdyHeaders requestHeaders(String path) {
        SpdyHeaders h = new DefaultSpdyHeaders();
        h.set(":method", "GET");
        h.set(":path", path);
        h.set(":version", "HTTP/1.1");
        h.set(":host", HOST);
        h.set(":scheme", "https");
        return h;
    }

    private Upgraded openWebSocket(String path, Consumer<SpdyHeaders> extra) throws Exception {
        String key = newKey();
        return open(path, "websocket", Mode.FRAMES, 0, h -> {
            h.set("sec-websocket-key", key);
            h.set("sec-websocket-version", "13");
            extra.accept(h);
        });
    }

    /**
     * Opens an upgrade request the way the proxy sends one: an {@code upgrade} field and no FIN.
     *
     * @param holdWindow when positive, nothing is consumed until {@link Upgraded#drain}
     */
    private Upgraded open(String path, String protocol, Mode mode, int holdWindow, Consumer<SpdyHeaders> extra)
            throws Exception {
        SpdyHeaders h = requestHeaders(path);
        h.set("upgrade", protocol);
        extra.accept(h);
        Upgraded u = new Upgraded(mode, holdWindow, h.getAsString("sec-websocket-key"));
        clientCleanups.add(u::releaseAll);
        u.stream = client.newStream(h, 3, false, u).get(10, TimeUnit.SECONDS);
        return u;
    }

    private static String newKey() {
        byte[] nonce = new byte[16];
        new SplittableRandom().nextBytes(nonce);
        return Base64.getEncoder().encodeToString(nonce);
    }

    /** RFC 6455 section 4.2.2: base64(SHA-1(key + the protocol's GUID)). */
    private static String acceptOf(String key) throws Exception {
        byte[] sha1 = MessageDigest.getInstance("SHA-1")
                .digest((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").getBytes(ISO_8859_1));
        return Base64.getEncoder().encodeToString(sha1);
    }

    /**
     * The most a stalled flood may have moved past the point that stalls it: the window, a read,
     * and what the kernel buffers between origin and app (the app's send buffer is pinned to
     * 64 KiB; the origin's receive buffer autotunes up to the sysctl maximum).
     */
    private static long backlogLimit() {
        long kernel = 4 * MIB;
        try {
            String[] v = java.nio.file.Files.readString(java.nio.file.Path.of("/proc/sys/net/ipv4/tcp_rmem"))
                    .trim().split("\\s+");
            kernel = Math.max(kernel, Long.parseLong(v[2]));
        } catch (java.io.IOException | RuntimeException e) {
            // not Linux: keep the default
        }
        return 12 * MIB + Math.min(kernel, 48 * MIB);
    }

    // ------------------------------------------------------------------------------------------
    // The client's end of an upgraded stream

    enum Mode {
        /** Decode WebSocket frames. */
        FRAMES,
        /** Keep the bytes. */
        BYTES,
        /** Only count them. */
        COUNT
    }

    /** A frame the client received, copied out of its buffer. */
    record Frame(Class<?> type, byte[] payload, int closeCode, String reason) {
        String text() {
            return new String(payload, UTF_8);
        }
    }

    /**
     * The client's side of one stream. Received data is handled on the client's loop; sending
     * may happen from the test thread (the stream hops onto the loop, in order).
     */
    static final class Upgraded implements SpdyStreamListener {
        final String key;
        final CompletableFuture<SpdyHeaders> reply = new CompletableFuture<>();
        /** Completed with true when the peer's direction ended with FIN. */
        final CompletableFuture<Boolean> peerEnded = new CompletableFuture<>();
        final CompletableFuture<SpdyStreamException> closed = new CompletableFuture<>();
        final CompletableFuture<Long> windowFull = new CompletableFuture<>();
        final BlockingQueue<Frame> frames = new LinkedBlockingQueue<>();
        volatile SpdyStream stream;
        private final Mode mode;
        private final int holdWindow;
        private final EmbeddedChannel decoder;
        private final EmbeddedChannel encoder = new EmbeddedChannel(new WebSocket13FrameEncoder(true));
        private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        private final List<Map.Entry<Long, CompletableFuture<Void>>> waiters = new ArrayList<>();
        // Confined to the client's loop:
        private boolean holding;
        private long received;
        private long owed;

        Upgraded(Mode mode, int holdWindow, String key) {
            this.mode = mode;
            this.holdWindow = holdWindow;
            this.holding = holdWindow > 0;
            this.key = key;
            this.decoder = mode == Mode.FRAMES ? new EmbeddedChannel(new WebSocket13FrameDecoder(false, true, MAX_FRAME))
                    : null;
        }

        @Override
        public void onHeaders(SpdyStream s, SpdyHeaders headers, boolean endOfStream) {
            SpdyHeaders copy = new DefaultSpdyHeaders();
            copy.set(headers);
            reply.complete(copy);
            if (endOfStream) {
                peerEnded.complete(true);
            }
        }

        @Override
        public void onData(SpdyStream s, ByteBuf data, boolean endOfStream) {
            int n = data.readableBytes();
            received += n;
            switch (mode) {
                case FRAMES -> {
                    decoder.writeInbound(data);
                    WebSocketFrame f;
                    while ((f = decoder.readInbound()) != null) {
                        frames.add(copy(f));
                        f.release();
                    }
                }
                case BYTES -> {
                    synchronized (bytes) {
                        bytes.writeBytes(ByteBufUtil.getBytes(data));
                    }
                    data.release();
                }
                case COUNT -> data.release();
            }
            if (holding) {
                owed += n;
                if (owed >= holdWindow) {
                    windowFull.complete(owed);
                }
            } else if (n > 0) {
                s.consume(n);
            }
            for (Iterator<Map.Entry<Long, CompletableFuture<Void>>> it = waiters.iterator(); it.hasNext(); ) {
                Map.Entry<Long, CompletableFuture<Void>> w = it.next();
                if (received >= w.getKey()) {
                    w.getValue().complete(null);
                    it.remove();
                }
            }
            if (endOfStream) {
                peerEnded.complete(true);
            }
        }

        @Override
        public void onClosed(SpdyStream s, SpdyStreamException cause) {
            closed.complete(cause);
            peerEnded.complete(false);
        }

        private static Frame copy(WebSocketFrame f) {
            if (f instanceof CloseWebSocketFrame c) {
                return new Frame(CloseWebSocketFrame.class, ByteBufUtil.getBytes(c.content()), c.statusCode(),
                        c.reasonText());
            }
            return new Frame(f.getClass(), ByteBufUtil.getBytes(f.content()), -1, null);
        }

        /** Consumes what was held and everything after it (call on the client's loop). */
        void drain() {
            holding = false;
            stream.consume((int) owed);
            owed = 0;
        }

        /** Completes once this many bytes arrived in total. */
        CompletableFuture<Void> receivedAtLeast(long n) throws Exception {
            CompletableFuture<Void> f = new CompletableFuture<>();
            stream.session().channel().eventLoop().submit(() -> {
                if (received >= n) {
                    f.complete(null);
                } else {
                    waiters.add(Map.entry(n, f));
                }
            }).get();
            return f;
        }

        Frame next() throws InterruptedException {
            Frame f = frames.poll(20, TimeUnit.SECONDS);
            assertThat(f).as("a frame from the app").isNotNull();
            return f;
        }

        String text() {
            synchronized (bytes) {
                return bytes.toString(UTF_8);
            }
        }

        synchronized void send(WebSocketFrame frame) {
            encoder.writeOutbound(frame);
            ByteBuf out;
            while ((out = encoder.readOutbound()) != null) {
                stream.sendData(out, false);
            }
        }

        void sendRaw(String s) {
            stream.sendData(Unpooled.copiedBuffer(s, UTF_8), false);
        }

        /** Half-closes the client's direction. */
        void end() {
            stream.sendData(Unpooled.EMPTY_BUFFER, true);
        }

        void releaseAll() {
            if (decoder != null) {
                decoder.finishAndReleaseAll();
            }
            synchronized (this) {
                encoder.finishAndReleaseAll();
            }
        }
    }

    // ------------------------------------------------------------------------------------------
    // The apps

    /**
     * Netty's WebSocket server under {@code /ws}: {@code /ws/echo} echoes every data frame (a text
     * "close-me" gets a close frame 4000 and the connection closed), {@code /ws/flood} writes
     * binary frames for as long as its channel is writable. Other paths answer 200 "plain PATH".
     */
    static final class WsApp implements AutoCloseable {
        final AtomicInteger accepted = new AtomicInteger();
        final List<Channel> connections = new CopyOnWriteArrayList<>();
        final AtomicLong floodWritten = new AtomicLong();
        final CountDownLatch floodPastLimit = new CountDownLatch(1);
        final BlockingQueue<Integer> closeCodes = new LinkedBlockingQueue<>();
        volatile long floodLimit = Long.MAX_VALUE;
        private final Map<String, HttpHeaders> seen = new ConcurrentHashMap<>();
        private final Channel listener;

        WsApp(EventLoopGroup group) throws InterruptedException {
            WebSocketServerProtocolConfig ws = WebSocketServerProtocolConfig.newBuilder()
                    .websocketPath("/ws").checkStartsWith(true).subprotocols("chat")
                    .maxFramePayloadLength(MAX_FRAME).build();
            listener = new ServerBootstrap()
                    .group(group)
                    .channel(Transport.serverChannel())
                    .childOption(ChannelOption.SO_SNDBUF, 64 * 1024)
                    .childHandler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel ch) {
                            accepted.incrementAndGet();
                            connections.add(ch);
                            ch.pipeline().addLast(new HttpServerCodec(), new HttpObjectAggregator(64 * 1024),
                                    new Recorder(), new WebSocketServerProtocolHandler(ws), new Handler());
                        }
                    })
                    .bind("127.0.0.1", 0).sync().channel();
        }

        URI url() {
            return URI.create("http://127.0.0.1:" + ((InetSocketAddress) listener.localAddress()).getPort());
        }

        HttpHeaders seen(String uri) {
            HttpHeaders h = seen.get(uri);
            assertThat(h).as("the app saw %s (it saw %s)", uri, seen.keySet()).isNotNull();
            return h;
        }

        @Override
        public void close() {
            listener.close().syncUninterruptibly();
            for (Channel ch : connections) {
                ch.close().syncUninterruptibly();
            }
        }

        /** Records request heads; after the handshake it sits between the frame decoder and the WebSocket handler. */
        private final class Recorder extends ChannelInboundHandlerAdapter {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                if (msg instanceof FullHttpRequest r) {
                    seen.put(r.uri(), r.headers().copy());
                } else if (msg instanceof CloseWebSocketFrame c) {
                    closeCodes.add(c.statusCode()); // before the WebSocket handler answers it
                }
                ctx.fireChannelRead(msg);
            }
        }

        private final class Handler extends ChannelInboundHandlerAdapter {
            private Runnable producer;

            @Override
            public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                if (evt instanceof WebSocketServerProtocolHandler.HandshakeComplete hc
                        && hc.requestUri().startsWith("/ws/flood")) {
                    producer = () -> {
                        while (ctx.channel().isWritable()) {
                            ByteBuf b = ctx.alloc().buffer(FLOOD_FRAME).writeZero(FLOOD_FRAME);
                            ctx.write(new BinaryWebSocketFrame(b)).addListener(f -> {
                                if (f.isSuccess() && floodWritten.addAndGet(FLOOD_FRAME) > floodLimit) {
                                    floodPastLimit.countDown();
                                }
                            });
                        }
                        ctx.flush();
                    };
                    producer.run();
                }
                ctx.fireUserEventTriggered(evt);
            }

            @Override
            public void channelWritabilityChanged(ChannelHandlerContext ctx) {
                if (producer != null && ctx.channel().isWritable()) {
                    producer.run();
                }
                ctx.fireChannelWritabilityChanged();
            }

            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                if (msg instanceof FullHttpRequest r) {
                    FullHttpResponse res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK,
                            Unpooled.copiedBuffer("plain " + r.uri(), UTF_8));
                    HttpUtil.setContentLength(res, res.content().readableBytes());
                    r.release();
                    ctx.writeAndFlush(res);
                } else if (msg instanceof TextWebSocketFrame t && t.text().equals("close-me")) {
                    t.release();
                    ctx.writeAndFlush(new CloseWebSocketFrame(4000, "app says bye"))
                            .addListener(ChannelFutureListener.CLOSE);
                } else if (msg instanceof TextWebSocketFrame || msg instanceof BinaryWebSocketFrame
                        || msg instanceof ContinuationWebSocketFrame) {
                    ctx.writeAndFlush(msg);
                } else {
                    ReferenceCountUtil.release(msg);
                }
            }

            @Override
            public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                ctx.close();
            }
        }
    }

    /**
     * A made-up protocol "x-echo" on raw TCP: the app reads the request head, answers 101 and
     * "hello\n" in one write, then echoes; on the client's FIN it writes "bye\n" and closes.
     */
    static final class RawApp implements AutoCloseable {
        final List<Channel> connections = new CopyOnWriteArrayList<>();
        final BlockingQueue<String> heads = new LinkedBlockingQueue<>();
        final CompletableFuture<Void> inputShutdown = new CompletableFuture<>();
        private final Channel listener;

        RawApp(EventLoopGroup group) throws InterruptedException {
            listener = new ServerBootstrap()
                    .group(group)
                    .channel(Transport.serverChannel())
                    .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
                    .childHandler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel ch) {
                            connections.add(ch);
                            ch.pipeline().addLast(new Handler());
                        }
                    })
                    .bind("127.0.0.1", 0).sync().channel();
        }

        URI url() {
            return URI.create("http://127.0.0.1:" + ((InetSocketAddress) listener.localAddress()).getPort());
        }

        @Override
        public void close() {
            listener.close().syncUninterruptibly();
            for (Channel ch : connections) {
                ch.close().syncUninterruptibly();
            }
        }

        private final class Handler extends ChannelInboundHandlerAdapter {
            private final StringBuilder head = new StringBuilder();
            private boolean upgraded;

            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                ByteBuf b = (ByteBuf) msg;
                if (upgraded) {
                    ctx.writeAndFlush(b);
                    return;
                }
                head.append(b.toString(ISO_8859_1));
                b.release();
                int end = head.indexOf("\r\n\r\n");
                if (end < 0) {
                    return;
                }
                upgraded = true;
                heads.add(head.substring(0, end + 2));
                String rest = head.substring(end + 4);
                ctx.write(Unpooled.copiedBuffer("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x-echo\r\n"
                        + "Connection: Upgrade\r\n\r\nhello\n", ISO_8859_1));
                if (!rest.isEmpty()) {
                    ctx.write(Unpooled.copiedBuffer(rest, ISO_8859_1));
                }
                ctx.flush();
            }

            @Override
            public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                if (evt instanceof ChannelInputShutdownEvent) {
                    inputShutdown.complete(null);
                    ctx.writeAndFlush(Unpooled.copiedBuffer("bye\n", ISO_8859_1))
                            .addListener(ChannelFutureListener.CLOSE);
                }
                ctx.fireUserEventTriggered(evt);
            }

            @Override
            public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                ctx.close();
            }
        }
    }
}
