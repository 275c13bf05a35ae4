package io.spdyproxy.spdy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.codec.spdy.DefaultSpdyPingFrame;
import io.netty.handler.codec.spdy.SpdyFrameCodec;
import io.netty.handler.codec.spdy.SpdyGoAwayFrame;
import io.netty.handler.codec.spdy.SpdyHttpCodec;
import io.netty.handler.codec.spdy.SpdyHttpHeaders;
import io.netty.handler.codec.spdy.SpdyPingFrame;
import io.netty.handler.codec.spdy.SpdySessionHandler;
import io.netty.handler.codec.spdy.SpdySettingsFrame;
import io.netty.handler.codec.spdy.SpdyVersion;
import io.spdyproxy.example.ExampleHandler;
import io.spdyproxy.tunnel.TunnelExchange;
import io.spdyproxy.tunnel.RequestHandler;
import io.spdyproxy.tunnel.spdy.SpdyTunnelSession;
import io.spdyproxy.spdy.http.SpdyClient;
import io.spdyproxy.spdy.http.SpdyServer;
import io.spdyproxy.transport.Transport;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Interop against an independent SPDY/3.1 implementation: Netty's own {@link SpdyFrameCodec},
 * {@link SpdySessionHandler} and {@link SpdyHttpCodec} on the other end of a real loopback TCP
 * connection, in both roles.
 */
@Timeout(60)
class NettyInteropTest {
    private static final int MAX_CONTENT = 16 * 1024 * 1024;
    private static final long WAIT = 10;

    private static EventLoopGroup group;

    private final List<Channel> channels = new ArrayList<>();
    private final List<SpdyServer> servers = new ArrayList<>();
    private final List<SpdySession> sessions = new ArrayList<>();
    private final List<FullHttpResponse> toRelease = new ArrayList<>();

    @BeforeAll
    static void startLoops() {
        group = Transport.newGroup(4, "netty-interop");
    }

    @AfterAll
    static void stopLoops() {
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
    }

    @AfterEach
    void closeEverything() throws Exception {
        for (FullHttpResponse r : toRelease) {
            if (r.refCnt() > 0) {
                r.release();
            }
        }
        for (SpdySession s : sessions) {
            // Wait on the channel, not the session: a session whose channel never became active
            // does not complete its close future (see plainConnectSessionIsUsable...).
            s.close();
            s.channel().closeFuture().awaitUninterruptibly(WAIT, TimeUnit.SECONDS);
        }
        for (Channel ch : channels) {
            ch.close().awaitUninterruptibly(WAIT, TimeUnit.SECONDS);
        }
        for (SpdyServer s : servers) {
            s.close();
        }
    }

    // ------------------------------------------------------------------------------------------
    // Helpers shared by both directions

    /** Deterministic content, so a body can be checked byte for byte without keeping a copy. */
    static byte patternByte(long i) {
        return (byte) (i * 31 + (i >>> 9));
    }

    static byte[] pattern(int n) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = patternByte(i);
        }
        return b;
    }

    static byte[] random(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    static byte[] bytes(ByteBuf buf) {
        return ByteBufUtil.getBytes(buf);
    }

    private FullHttpResponse track(FullHttpResponse r) {
        toRelease.add(r);
        return r;
    }

    private static void await(ChannelFuture f) {
        assertThat(f.awaitUninterruptibly(WAIT, TimeUnit.SECONDS)).as("channel future done").isTrue();
        assertThat(f.cause()).isNull();
    }

    /**
     * Sits right above Netty's session handler and records the session-level frames the HTTP codec
     * would swallow: the peer's SETTINGS (proof that the peer session started), PINGs, GOAWAY.
     * Sharable: a server's observer sits in every accepted connection's pipeline.
     */
    @ChannelHandler.Sharable
    static final class FrameObserver extends ChannelInboundHandlerAdapter {
        final CompletableFuture<SpdySettingsFrame> settings = new CompletableFuture<>();
        final BlockingQueue<Integer> pings = new LinkedBlockingQueue<>();
        final CompletableFuture<Integer> goAway = new CompletableFuture<>();

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof SpdySettingsFrame f) {
                settings.complete(f);
            } else if (msg instanceof SpdyPingFrame f) {
                pings.add(f.id());
            } else if (msg instanceof SpdyGoAwayFrame f) {
                goAway.complete(f.lastGoodStreamId());
            }
            ctx.fireChannelRead(msg);
        }
    }

    // ------------------------------------------------------------------------------------------
    // (1) Our SpdyServer, a Netty SPDY client

    /** What our server serves to the Netty client: the example service plus a few probes. */
    static final class InteropHandler implements RequestHandler {
        private final ExampleHandler example = new ExampleHandler();

        @Override
        public void onRequest(TunnelExchange ex) {
            QueryStringDecoder uri = new QueryStringDecoder(ex.request().uri());
            switch (uri.path()) {
                case "/pattern" -> streamPattern(ex, Long.parseLong(uri.parameters().get("n").get(0)));
                case "/inspect" -> inspect(ex);
                case "/trailers" -> trailers(ex);
                default -> example.onRequest(ex);
            }
        }

        /** Answers with what arrived: method, Host and the values of x-multi, one per line. */
        private static void inspect(TunnelExchange ex) {
            HttpHeaders h = ex.request().headers();
            String body = ex.request().method() + "\n" + h.get(HttpHeaderNames.HOST) + "\n"
                    + String.join("|", h.getAll("x-multi")) + "\n"
                    + h.contains(HttpHeaderNames.CONNECTION) + "\n";
            ByteBuf content = Unpooled.copiedBuffer(body, StandardCharsets.UTF_8);
            HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
            head.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain; charset=utf-8");
            head.headers().add("x-reply", "one");
            head.headers().add("x-reply", "two");
            head.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, content.readableBytes());
            ex.respond(head, false);
            ex.write(content, true);
        }

        private static void trailers(TunnelExchange ex) {
            HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
            head.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain");
            ex.respond(head, false);
            ex.write(Unpooled.copiedBuffer("body before trailers", StandardCharsets.US_ASCII), false);
            HttpHeaders trailers = new DefaultHttpHeaders();
            trailers.set("x-checksum", "c0ffee");
            ex.end(trailers);
        }

        /** Streams {@code total} pattern bytes, paced by the stream's window. */
        private static void streamPattern(TunnelExchange ex, long total) {
            HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
            head.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/octet-stream");
            head.headers().set(HttpHeaderNames.CONTENT_LENGTH, total);
            ex.respond(head, total == 0);
            long[] offset = {0};
            Runnable produce = () -> {
                while (offset[0] < total && ex.isWritable() && !ex.stream().isClosed()) {
                    int n = (int) Math.min(16 * 1024, total - offset[0]);
                    // One bulk write: under the paranoid leak detector every writeByte records a
                    // stack trace, which made a 1 MiB body take seconds.
                    byte[] bytes = new byte[n];
                    for (int i = 0; i < n; i++) {
                        bytes[i] = patternByte(offset[0] + i);
                    }
                    ByteBuf chunk = ex.stream().session().alloc().buffer(n).writeBytes(bytes);
                    offset[0] += n;
                    ex.write(chunk, offset[0] == total);
                }
            };
            ex.onWritable(produce);
            produce.run();
        }
    }

    /** A Netty SPDY/3.1 client connection to one of our servers. */
    final class NettyClient {
        final Channel channel;
        final FrameObserver observer = new FrameObserver();
        final BlockingQueue<FullHttpResponse> responses = new LinkedBlockingQueue<>();
        final ConcurrentLinkedQueue<Throwable> errors = new ConcurrentLinkedQueue<>();
        private int nextStreamId = 1;

        NettyClient(int port) {
            Bootstrap b = new Bootstrap()
                    .group(group)
                    .channel(Transport.socketChannel())
                    .option(ChannelOption.TCP_NODELAY, true)
                    .handler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel ch) {
                            ch.pipeline().addLast(
                                    new SpdyFrameCodec(SpdyVersion.SPDY_3_1),
                                    new SpdySessionHandler(SpdyVersion.SPDY_3_1, false),
                                    observer,
                                    new SpdyHttpCodec(SpdyVersion.SPDY_3_1, MAX_CONTENT),
                                    new HttpObjectAggregator(MAX_CONTENT),
                                    new SimpleChannelInboundHandler<FullHttpResponse>(false) {
                                        @Override
                                        protected void channelRead0(ChannelHandlerContext ctx,
                                                FullHttpResponse msg) {
                                            responses.add(msg);
                                        }

                                        @Override
                                        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                                            errors.add(cause);
                                        }
                                    });
                        }
                    });
            ChannelFuture f = b.connect(new InetSocketAddress("127.0.0.1", port));
            await(f);
            channel = f.channel();
            channels.add(channel);
        }

        /** Waits for our server's opening SETTINGS, so windows are known before sending bodies. */
        SpdySettingsFrame awaitSettings() throws Exception {
            return observer.settings.get(WAIT, TimeUnit.SECONDS);
        }

        /** Sends one request on the next stream id and waits for its whole response. */
        FullHttpResponse exchange(FullHttpRequest request) throws Exception {
            int id = nextStreamId;
            nextStreamId += 2;
            request.headers().setInt(SpdyHttpHeaders.Names.STREAM_ID, id);
            request.headers().set(HttpHeaderNames.HOST, "127.0.0.1");
            await(channel.writeAndFlush(request));
            FullHttpResponse r = responses.poll(WAIT, TimeUnit.SECONDS);
            assertThat(errors).isEmpty();
            assertThat(r).as("response on stream %d", id).isNotNull();
            track(r);
            assertThat(r.headers().getInt(SpdyHttpHeaders.Names.STREAM_ID)).isEqualTo(id);
            return r;
        }
    }

    private int startOurServer() throws InterruptedException {
        return startOurServer(SpdySessionConfig.builder(SpdyRole.SERVER).build());
    }

    private int startOurServer(SpdySessionConfig config) throws InterruptedException {
        SpdyServer server = SpdyServer.start(new InetSocketAddress("127.0.0.1", 0), null,
                config, SpdyTunnelSession.listener(new InteropHandler()), group);
        servers.add(server);
        return server.port();
    }

    @Nested
    class OurServerNettyClient {

        @Test
        void getThenPostOneStreamAtATime() throws Exception {
            NettyClient client = new NettyClient(startOurServer());

            FullHttpResponse get = client.exchange(
                    new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/"));
            assertThat(get.status()).isEqualTo(HttpResponseStatus.OK);
            assertThat(get.protocolVersion()).isEqualTo(HttpVersion.HTTP_1_1);
            assertThat(get.headers().get(HttpHeaderNames.CONTENT_TYPE)).isEqualTo("text/plain; charset=utf-8");
            assertThat(get.content().toString(StandardCharsets.UTF_8))
                    .isEqualTo("Hello from spdy-proxy over spdy/3.1\n");
            assertThat(get.headers().getInt(HttpHeaderNames.CONTENT_LENGTH))
                    .isEqualTo(get.content().readableBytes());

            byte[] body = random(10_000, 1);
            FullHttpResponse post = client.exchange(new DefaultFullHttpRequest(HttpVersion.HTTP_1_1,
                    HttpMethod.POST, "/echo", Unpooled.wrappedBuffer(body)));
            assertThat(post.status()).isEqualTo(HttpResponseStatus.OK);
            assertThat(post.headers().get(HttpHeaderNames.CONTENT_TYPE)).isEqualTo("application/octet-stream");
            assertThat(bytes(post.content())).isEqualTo(body);

            FullHttpResponse missing = client.exchange(
                    new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/nowhere"));
            assertThat(missing.status().code()).isEqualTo(404);
            assertThat(missing.content().toString(StandardCharsets.UTF_8)).isEqualTo("not found\n");
            assertThat(client.errors).isEmpty();
        }

        @Test
        void requestHeadersArriveAndMultiValuedResponseHeadersSurvive() throws Exception {
            NettyClient client = new NettyClient(startOurServer());
            FullHttpRequest req = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/inspect");
            req.headers().add("X-Multi", "a");
            req.headers().add("X-Multi", "b");
            req.headers().add(HttpHeaderNames.CONNECTION, "keep-alive");

            FullHttpResponse r = client.exchange(req);

            assertThat(r.status()).isEqualTo(HttpResponseStatus.OK);
            assertThat(r.content().toString(StandardCharsets.UTF_8)).isEqualTo("GET\n127.0.0.1\na|b\nfalse\n");
            assertThat(r.headers().getAll("x-reply")).containsExactly("one", "two");
        }

        @Test
        void ourServerSettingsAreUnderstoodByNetty() throws Exception {
            NettyClient client = new NettyClient(startOurServer());
            SpdySettingsFrame settings = client.awaitSettings();
            assertThat(settings.getValue(SpdySettingsFrame.SETTINGS_INITIAL_WINDOW_SIZE)).isEqualTo(256 * 1024);
            assertThat(settings.getValue(SpdySettingsFrame.SETTINGS_MAX_CONCURRENT_STREAMS)).isEqualTo(100_000);
        }

        @Test
        void largeResponseBodyCrossesNettysReceiveWindow() throws Exception {
            NettyClient client = new NettyClient(startOurServer());
            int n = 1024 * 1024 + 123; // 16x Netty's 64 KiB window, not a multiple of any frame size

            FullHttpResponse r = client.exchange(
                    new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/pattern?n=" + n));

            assertThat(r.status()).isEqualTo(HttpResponseStatus.OK);
            assertThat(r.content().readableBytes()).isEqualTo(n);
            assertThat(bytes(r.content())).isEqualTo(pattern(n));
        }

        @Test
        void largeRequestBodyCrossesOurReceiveWindowAndEchoesBack() throws Exception {
            NettyClient client = new NettyClient(startOurServer());
            client.awaitSettings();
            // 3 MiB: more than our 256 KiB stream window many times over, in both directions.
            byte[] body = random(3 * 1024 * 1024 + 7, 2);

            FullHttpResponse r = client.exchange(new DefaultFullHttpRequest(HttpVersion.HTTP_1_1,
                    HttpMethod.POST, "/echo", Unpooled.wrappedBuffer(body)));

            assertThat(r.status()).isEqualTo(HttpResponseStatus.OK);
            assertThat(r.content().readableBytes()).isEqualTo(body.length);
            assertThat(bytes(r.content())).isEqualTo(body);

            // The session is still healthy for a further stream.
            FullHttpResponse again = client.exchange(
                    new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/"));
            assertThat(again.status()).isEqualTo(HttpResponseStatus.OK);
        }

        @Test
        void largeRequestWithoutWaitingForOurSettingsStillCompletes() throws Exception {
            NettyClient client = new NettyClient(startOurServer());
            byte[] body = random(512 * 1024, 3);
            FullHttpResponse r = client.exchange(new DefaultFullHttpRequest(HttpVersion.HTTP_1_1,
                    HttpMethod.POST, "/echo", Unpooled.wrappedBuffer(body)));
            assertThat(bytes(r.content())).isEqualTo(body);
        }

        @Test
        void trailersReachNettyAsHeaders() throws Exception {
            NettyClient client = new NettyClient(startOurServer());
            FullHttpResponse r = client.exchange(
                    new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/trailers"));
            assertThat(r.status()).isEqualTo(HttpResponseStatus.OK);
            assertThat(r.content().toString(StandardCharsets.US_ASCII)).isEqualTo("body before trailers");
            // Netty's SpdyHttpDecoder folds a trailing HEADERS block into the message headers.
            assertThat(r.headers().get("x-checksum")).isEqualTo("c0ffee");
        }

        @Test
        void requestTrailersFromNettyEndTheRequestBody() throws Exception {
            NettyClient client = new NettyClient(startOurServer());
            client.awaitSettings();
            // Below Netty's initial 64 KiB windows on purpose: Netty's SpdySessionHandler writes a
            // HEADERS frame at once even while DATA of the stream waits for window, so a larger body
            // would have its FIN overtake its tail (a Netty bug; we rightly reset DATA after FIN).
            byte[] body = random(60_000, 6);
            FullHttpRequest req = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, "/echo",
                    Unpooled.wrappedBuffer(body));
            // Netty sends DATA without FIN, then the trailers as a HEADERS frame with FIN.
            req.trailingHeaders().set("x-upload-checksum", "1234");
            FullHttpResponse r = client.exchange(req);
            assertThat(r.status()).isEqualTo(HttpResponseStatus.OK);
            assertThat(bytes(r.content())).isEqualTo(body);
        }

        @Test
        void compressedHeaderBlocksFromOurServerDecodeInNetty() throws Exception {
            NettyClient client = new NettyClient(startOurServer(
                    SpdySessionConfig.builder(SpdyRole.SERVER).compressHeaders(true).build()));
            // Several streams: each header block builds on the shared zlib context of the last.
            for (int i = 0; i < 5; i++) {
                FullHttpRequest req = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/inspect");
                req.headers().add("X-Multi", "v" + i);
                FullHttpResponse r = client.exchange(req);
                assertThat(r.status()).isEqualTo(HttpResponseStatus.OK);
                assertThat(r.headers().getAll("x-reply")).containsExactly("one", "two");
                assertThat(r.content().toString(StandardCharsets.UTF_8)).isEqualTo("GET\n127.0.0.1\nv" + i + "\nfalse\n");
            }
        }

        @Test
        void nettyPingIsEchoedByOurServer() throws Exception {
            NettyClient client = new NettyClient(startOurServer());
            client.awaitSettings();
            await(client.channel.writeAndFlush(new DefaultSpdyPingFrame(1)));
            assertThat(client.observer.pings.poll(WAIT, TimeUnit.SECONDS)).isEqualTo(1);
        }

        @Test
        void serverGracefulShutdownSendsGoAwayNettyUnderstands() throws Exception {
            int port = startOurServer();
            NettyClient client = new NettyClient(port);
            FullHttpResponse r = client.exchange(
                    new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/"));
            assertThat(r.status()).isEqualTo(HttpResponseStatus.OK);
            SpdyServer server = servers.get(0);
            server.shutdownGracefully(Duration.ofSeconds(5));
            assertThat(client.observer.goAway.get(WAIT, TimeUnit.SECONDS)).isEqualTo(1);
            assertThat(client.channel.closeFuture().awaitUninterruptibly(WAIT, TimeUnit.SECONDS)).isTrue();
            assertThat(client.errors).isEmpty();
        }
    }

    // ------------------------------------------------------------------------------------------
    // (2) Our SpdyClient, a Netty SPDY server

    /** Everything one Netty server saw, for assertions on the request side. */
    static final class NettyOrigin {
        final Channel serverChannel;
        final FrameObserver observer = new FrameObserver();
        final BlockingQueue<FullHttpRequest> requests = new LinkedBlockingQueue<>();
        final ConcurrentLinkedQueue<Throwable> errors = new ConcurrentLinkedQueue<>();

        NettyOrigin() {
            ServerBootstrap b = new ServerBootstrap()
                    .group(group)
                    .channel(Transport.serverChannel())
                    .childOption(ChannelOption.TCP_NODELAY, true)
                    .childHandler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel ch) {
                            ch.pipeline().addLast(
                                    new SpdyFrameCodec(SpdyVersion.SPDY_3_1),
                                    new SpdySessionHandler(SpdyVersion.SPDY_3_1, true),
                                    observer,
                                    new SpdyHttpCodec(SpdyVersion.SPDY_3_1, MAX_CONTENT),
                                    new HttpObjectAggregator(MAX_CONTENT),
                                    new OriginHandler());
                        }
                    });
            ChannelFuture f = b.bind(new InetSocketAddress("127.0.0.1", 0));
            await(f);
            serverChannel = f.channel();
        }

        int port() {
            return ((InetSocketAddress) serverChannel.localAddress()).getPort();
        }

        final class OriginHandler extends SimpleChannelInboundHandler<FullHttpRequest> {
            @Override
            protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
                // Keep a copy of what arrived for the test to inspect.
                FullHttpRequest copy = req.copy();
                requests.add(copy);
                QueryStringDecoder uri = new QueryStringDecoder(req.uri());
                FullHttpResponse res;
                switch (uri.path()) {
                    case "/hello" -> {
                        res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK,
                                Unpooled.copiedBuffer("hello from netty", StandardCharsets.UTF_8));
                        res.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain");
                        res.headers().add("x-multi", "first");
                        res.headers().add("x-multi", "second");
                    }
                    case "/echo" -> res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
                            HttpResponseStatus.OK, req.content().retainedDuplicate());
                    case "/pattern" -> res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
                            HttpResponseStatus.OK, Unpooled.wrappedBuffer(
                                    pattern(Integer.parseInt(uri.parameters().get("n").get(0)))));
                    case "/trailers" -> {
                        res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK,
                                Unpooled.copiedBuffer("with trailers", StandardCharsets.UTF_8));
                        res.trailingHeaders().set("x-checksum", "abc123");
                        res.trailingHeaders().add("x-trail", "1");
                        res.trailingHeaders().add("x-trail", "2");
                    }
                    case "/empty" -> res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
                            HttpResponseStatus.NO_CONTENT);
                    default -> res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
                            HttpResponseStatus.NOT_FOUND);
                }
                res.headers().set(SpdyHttpHeaders.Names.STREAM_ID, req.headers().get(SpdyHttpHeaders.Names.STREAM_ID));
                ctx.writeAndFlush(res);
            }

            @Override
            public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                errors.add(cause);
            }
        }

        FullHttpRequest nextRequest() throws InterruptedException {
            FullHttpRequest r = requests.poll(WAIT, TimeUnit.SECONDS);
            assertThat(r).as("request seen by the Netty server").isNotNull();
            return r;
        }

        void close() {
            FullHttpRequest r;
            while ((r = requests.poll()) != null) {
                r.release();
            }
            serverChannel.close().awaitUninterruptibly(WAIT, TimeUnit.SECONDS);
        }
    }

    @Nested
    class OurClientNettyServer {
        private NettyOrigin origin;

        @AfterEach
        void stopOrigin() {
            if (origin != null) {
                origin.close();
            }
        }

        /**
         * Connects our client over plain TCP and waits until the Netty server saw our SETTINGS, i.e.
         * until our session really started on a connected channel.
         */
        private SpdySession connect() throws Exception {
            return connect(SpdySessionConfig.builder(SpdyRole.CLIENT).build());
        }

        private SpdySession connect(SpdySessionConfig config) throws Exception {
            origin = new NettyOrigin();
            SpdySession session = SpdyClient.connect(group, new InetSocketAddress("127.0.0.1", origin.port()),
                    null, config,
                    SpdySessionListener.refusingStreams()).get(WAIT, TimeUnit.SECONDS);
            sessions.add(session);
            SpdySettingsFrame ours = origin.observer.settings.get(WAIT, TimeUnit.SECONDS);
            assertThat(ours.getValue(SpdySettingsFrame.SETTINGS_INITIAL_WINDOW_SIZE)).isEqualTo(256 * 1024);
            return session;
        }

        private FullHttpResponse fetch(SpdySession session, HttpMethod method, String uri, byte[] body)
                throws Exception {
            FullHttpRequest req = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, method, uri,
                    body == null ? Unpooled.EMPTY_BUFFER : Unpooled.wrappedBuffer(body));
            req.headers().set(HttpHeaderNames.HOST, "127.0.0.1:" + origin.port());
            return track(SpdyClient.fetch(session, req, "http", MAX_CONTENT).get(WAIT, TimeUnit.SECONDS));
        }

        @Test
        void getAndPostAgainstNettyServer() throws Exception {
            SpdySession session = connect();

            FullHttpResponse hello = fetch(session, HttpMethod.GET, "/hello", null);
            assertThat(hello.status()).isEqualTo(HttpResponseStatus.OK);
            assertThat(hello.content().toString(StandardCharsets.UTF_8)).isEqualTo("hello from netty");
            assertThat(hello.headers().get(HttpHeaderNames.CONTENT_TYPE)).isEqualTo("text/plain");
            assertThat(hello.headers().getAll("x-multi")).containsExactly("first", "second");
            // Netty answers ":status: 200" (code only); the reason phrase is filled in.
            assertThat(hello.status().reasonPhrase()).isEqualTo("OK");
            FullHttpRequest seen = origin.nextRequest();
            try {
                assertThat(seen.method()).isEqualTo(HttpMethod.GET);
                assertThat(seen.uri()).isEqualTo("/hello");
                assertThat(seen.headers().get(HttpHeaderNames.HOST)).isEqualTo("127.0.0.1:" + origin.port());
                assertThat(seen.headers().getInt(SpdyHttpHeaders.Names.STREAM_ID)).isEqualTo(1);
                assertThat(seen.content().readableBytes()).isZero();
            } finally {
                seen.release();
            }

            byte[] body = random(5000, 4);
            FullHttpResponse echo = fetch(session, HttpMethod.POST, "/echo", body);
            assertThat(echo.status()).isEqualTo(HttpResponseStatus.OK);
            assertThat(bytes(echo.content())).isEqualTo(body);
            FullHttpRequest post = origin.nextRequest();
            try {
                assertThat(post.method()).isEqualTo(HttpMethod.POST);
                assertThat(post.headers().getInt(SpdyHttpHeaders.Names.STREAM_ID)).isEqualTo(3);
                assertThat(bytes(post.content())).isEqualTo(body);
            } finally {
                post.release();
            }

            FullHttpResponse notFound = fetch(session, HttpMethod.GET, "/nope", null);
            assertThat(notFound.status().code()).isEqualTo(404);
            assertThat(notFound.content().readableBytes()).isZero();

            FullHttpResponse empty = fetch(session, HttpMethod.GET, "/empty", null);
            assertThat(empty.status()).isEqualTo(HttpResponseStatus.NO_CONTENT);
            assertThat(origin.errors).isEmpty();
        }

        @Test
        void largeResponseFromNettyCrossesOurWindows() throws Exception {
            SpdySession session = connect();
            int n = 3 * 1024 * 1024 + 5;
            FullHttpResponse r = fetch(session, HttpMethod.GET, "/pattern?n=" + n, null);
            assertThat(r.status()).isEqualTo(HttpResponseStatus.OK);
            assertThat(r.content().readableBytes()).isEqualTo(n);
            assertThat(bytes(r.content())).isEqualTo(pattern(n));
        }

        @Test
        void largeRequestBodyRespectsNettysWindowAndEchoesBack() throws Exception {
            SpdySession session = connect();
            byte[] body = random(2 * 1024 * 1024 + 3, 5);
            FullHttpResponse r = fetch(session, HttpMethod.POST, "/echo", body);
            assertThat(r.status()).isEqualTo(HttpResponseStatus.OK);
            assertThat(bytes(r.content())).isEqualTo(body);
            FullHttpRequest seen = origin.nextRequest();
            try {
                assertThat(seen.content().readableBytes()).isEqualTo(body.length);
            } finally {
                seen.release();
            }
            assertThat(origin.errors).isEmpty();
        }

        @Test
        void trailersFromNettyReachTrailingHeaders() throws Exception {
            SpdySession session = connect();
            FullHttpResponse r = fetch(session, HttpMethod.GET, "/trailers", null);
            assertThat(r.status()).isEqualTo(HttpResponseStatus.OK);
            assertThat(r.content().toString(StandardCharsets.UTF_8)).isEqualTo("with trailers");
            assertThat(r.trailingHeaders().get("x-checksum")).isEqualTo("abc123");
            assertThat(r.trailingHeaders().getAll("x-trail")).containsExactly("1", "2");
        }

        @Test
        void compressedHeaderBlocksFromOurClientDecodeInNetty() throws Exception {
            SpdySession session = connect(SpdySessionConfig.builder(SpdyRole.CLIENT).compressHeaders(true).build());
            for (int i = 0; i < 5; i++) {
                FullHttpResponse r = fetch(session, HttpMethod.GET, "/hello", null);
                assertThat(r.status()).isEqualTo(HttpResponseStatus.OK);
                assertThat(r.headers().getAll("x-multi")).containsExactly("first", "second");
                FullHttpRequest seen = origin.nextRequest();
                try {
                    assertThat(seen.uri()).isEqualTo("/hello");
                    assertThat(seen.headers().get(HttpHeaderNames.HOST)).isEqualTo("127.0.0.1:" + origin.port());
                } finally {
                    seen.release();
                }
            }
            assertThat(origin.errors).isEmpty();
        }

        @Test
        void pingIsAnsweredByNetty() throws Exception {
            SpdySession session = connect();
            Duration rtt = session.ping().get(WAIT, TimeUnit.SECONDS);
            assertThat(rtt).isNotNull().isPositive();
        }

        @Test
        void manySequentialStreamsOnOneSession() throws Exception {
            SpdySession session = connect();
            for (int i = 0; i < 50; i++) {
                byte[] body = random(100 + i * 997, 100 + i);
                FullHttpResponse r = fetch(session, HttpMethod.POST, "/echo", body);
                assertThat(bytes(r.content())).as("exchange %d", i).isEqualTo(body);
                origin.nextRequest().release();
            }
            // A PING round trip orders us after the loop task that closed the last stream.
            session.ping().get(WAIT, TimeUnit.SECONDS);
            assertThat(session.stats().activeStreams()).isZero();
        }
    }

    /**
     * Kept apart from {@link OurClientNettyServer}: when it fails, the fetch that never completes
     * also leaks its body buffer, and the leak check reports it for this class.
     */
    @Nested
    class PlainTcpConnect {
        private NettyOrigin origin;

        @AfterEach
        void stopOrigin() {
            if (origin != null) {
                origin.close();
            }
        }

        /** A loopback port that was just free: bound by a server that is closed again. */
        private InetSocketAddress closedPort() {
            NettyOrigin probe = new NettyOrigin();
            int port = probe.port();
            probe.close();
            return new InetSocketAddress("127.0.0.1", port);
        }

        @Test
        void plainConnectToAPortNobodyListensOnFails() throws Exception {
            CompletableFuture<SpdySession> f = SpdyClient.connect(group, closedPort(), null,
                    SpdySessionConfig.builder(SpdyRole.CLIENT).build(), SpdySessionListener.refusingStreams());
            f.thenAccept(sessions::add); // close it afterwards should it (wrongly) succeed
            assertThatThrownBy(() -> f.get(WAIT, TimeUnit.SECONDS))
                    .as("connecting to a closed port must fail, not hand out a session")
                    .isInstanceOf(ExecutionException.class)
                    .hasRootCauseInstanceOf(java.net.ConnectException.class);
        }

        @Test
        void pingOnAFreshPlainSessionIsAnswered() throws Exception {
            origin = new NettyOrigin();
            InetSocketAddress address = new InetSocketAddress("127.0.0.1", origin.port());
            for (int i = 0; i < 20; i++) {
                SpdySession s = SpdyClient.connect(group, address, null,
                        SpdySessionConfig.builder(SpdyRole.CLIENT).build(),
                        SpdySessionListener.refusingStreams()).get(WAIT, TimeUnit.SECONDS);
                sessions.add(s);
                assertThat(s.ping()).as("ping on fresh session %d", i)
                        .succeedsWithin(Duration.ofSeconds(WAIT));
            }
        }

        /**
         * {@code SpdyClient.connect} without TLS must hand out a session that can be used at once:
         * its documentation promises the future completes once the connection is ready. Chaining
         * the first request onto the future is the natural way to use it.
         */
        @Test
        void plainConnectSessionIsUsableAsSoonAsTheFutureCompletes() throws Exception {
            origin = new NettyOrigin();
            InetSocketAddress address = new InetSocketAddress("127.0.0.1", origin.port());
            for (int i = 0; i < 20; i++) {
                List<SpdySession> opened = new ArrayList<>();
                FullHttpRequest req = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/hello");
                req.headers().set(HttpHeaderNames.HOST, "127.0.0.1");
                CompletableFuture<FullHttpResponse> response = SpdyClient.connect(group, address, null,
                                SpdySessionConfig.builder(SpdyRole.CLIENT).build(),
                                SpdySessionListener.refusingStreams())
                        .thenCompose(s -> {
                            synchronized (opened) {
                                opened.add(s);
                            }
                            return SpdyClient.fetch(s, req, "http", MAX_CONTENT);
                        });
                try {
                    FullHttpResponse r = track(response.get(WAIT, TimeUnit.SECONDS));
                    assertThat(r.status()).as("attempt %d", i).isEqualTo(HttpResponseStatus.OK);
                } finally {
                    synchronized (opened) {
                        sessions.addAll(opened);
                    }
                }
            }
        }
    }
}
