package io.spdyproxy.origin.upstream;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.codec.http2.DefaultHttp2GoAwayFrame;
import io.netty.handler.codec.http2.DefaultHttp2ResetFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamFrameToHttpObjectCodec;
import io.netty.handler.ssl.SslContext;
import io.netty.util.ReferenceCountUtil;
import io.spdyproxy.tls.SelfSignedCertificate;
import io.spdyproxy.tls.TlsContexts;
import io.spdyproxy.transport.Transport;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.zip.CRC32;

/**
 * A small app for the reverse proxy's HTTP/2 and TLS upstreams, written with Netty's own servers:
 * HTTP/2 with prior knowledge ({@link Kind#H2C}), HTTP/2 over TLS chosen by ALPN ({@link
 * Kind#H2_TLS}), or an HTTP/1.1-only TLS server ({@link Kind#HTTP1_TLS}, ALPN {@code http/1.1}).
 * Its handler sees HTTP/1 objects either way (an HTTP/2 stream goes through {@link
 * Http2StreamFrameToHttpObjectCodec}). It records what it saw and counts the TCP connections it
 * accepted and the streams open on each.
 *
 * <p>Threading: runs on its own loop; the test reads the concurrent collections and futures.
 */
final class H2TestApp implements AutoCloseable {
    static final int P = 65_521;
    /** {@code PATTERN[i] == PATTERN[i % P]}, long enough to slice any chunk at any phase. */
    static final byte[] PATTERN = new byte[P + 128 * 1024];

    static {
        SplittableRandom random = new SplittableRandom(0x42f2L);
        for (int i = 0; i < P; i++) {
            PATTERN[i] = (byte) random.nextInt(256);
        }
        System.arraycopy(PATTERN, 0, PATTERN, P, PATTERN.length - P);
    }

    enum Kind { H2C, H2_TLS, HTTP1_TLS }

    /** A request as the app saw it. */
    record Seen(String uri, boolean http2, HttpHeaders headers, HttpHeaders trailers, Channel connection,
            long bodyBytes, long bodyCrc) {}

    final Kind kind;
    final AtomicInteger accepted = new AtomicInteger();
    final List<Channel> connections = new CopyOnWriteArrayList<>();
    final Map<String, CompletableFuture<Seen>> seen = new ConcurrentHashMap<>();
    /** Most streams one connection had open at once. */
    final AtomicInteger maxStreamsOnAConnection = new AtomicInteger();
    /** Requests that reached {@code /gate}. */
    final AtomicInteger gated = new AtomicInteger();
    /** Completes once {@link #gateTarget} requests reached {@code /gate}. */
    final CompletableFuture<Void> gateReached = new CompletableFuture<>();
    private volatile int gateTarget = Integer.MAX_VALUE;
    /** Completed by the test: every {@code /gate} request is answered. */
    final CompletableFuture<Void> gate = new CompletableFuture<>();
    final CompletableFuture<Channel> uploadStalled = new CompletableFuture<>();
    private final Map<Channel, AtomicInteger> openStreams = new ConcurrentHashMap<>();
    private final Channel listener;

    H2TestApp(EventLoopGroup group, Kind kind, SelfSignedCertificate cert, int maxConcurrentStreams)
            throws InterruptedException {
        this.kind = kind;
        SslContext tls = kind == Kind.H2C ? null
                : TlsContexts.server(cert, List.of(kind == Kind.H2_TLS ? "h2" : "http/1.1"));
        listener = new ServerBootstrap().group(group).channel(Transport.serverChannel())
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        accepted.incrementAndGet();
                        connections.add(ch);
                        openStreams.put(ch, new AtomicInteger());
                        if (tls != null) {
                            ch.pipeline().addLast(tls.newHandler(ch.alloc()));
                        }
                        if (kind == Kind.HTTP1_TLS) {
                            ch.pipeline().addLast(new HttpServerCodec(), new Handler());
                            return;
                        }
                        ch.pipeline().addLast(Http2FrameCodecBuilder.forServer()
                                .initialSettings(Http2Settings.defaultSettings()
                                        .maxConcurrentStreams(maxConcurrentStreams))
                                .build());
                        ch.pipeline().addLast(new Http2MultiplexHandler(new ChannelInitializer<Http2StreamChannel>() {
                            @Override
                            protected void initChannel(Http2StreamChannel stream) {
                                AtomicInteger open = openStreams.get(ch);
                                maxStreamsOnAConnection.accumulateAndGet(open.incrementAndGet(), Math::max);
                                stream.closeFuture().addListener(f -> open.decrementAndGet());
                                stream.pipeline().addLast(new Http2StreamFrameToHttpObjectCodec(true), new Handler());
                            }
                        }));
                    }
                })
                .bind("127.0.0.1", 0).sync().channel();
    }

    void gateTarget(int n) {
        gateTarget = n;
    }

    int port() {
        return ((InetSocketAddress) listener.localAddress()).getPort();
    }

    /** The URL the reverse proxy is given: {@code h2c://} or {@code https://} on {@code host}. */
    URI url(String host) {
        return URI.create((kind == Kind.H2C ? "h2c" : "https") + "://" + host + ":" + port());
    }

    Seen seen(String uri) throws Exception {
        return seen.computeIfAbsent(uri, u -> new CompletableFuture<>()).get(10, java.util.concurrent.TimeUnit.SECONDS);
    }

    @Override
    public void close() {
        listener.close().syncUninterruptibly();
        for (Channel ch : connections) {
            ch.close().syncUninterruptibly();
        }
    }

    static long patternCrc(long size) {
        CRC32 crc = new CRC32();
        for (long off = 0; off < size; ) {
            int n = (int) Math.min(64 * 1024, size - off);
            crc.update(PATTERN, (int) (off % P), n);
            off += n;
        }
        return crc.getValue();
    }

    /** One request (an HTTP/2 stream) or one HTTP/1.1 connection. */
    private final class Handler extends ChannelInboundHandlerAdapter {
        private HttpRequest request;
        private final CRC32 crc = new CRC32();
        private long received;

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            try {
                if (msg instanceof HttpRequest r) {
                    onHead(ctx, r);
                }
                if (msg instanceof HttpContent c) {
                    ByteBuf b = c.content();
                    if (b.hasArray()) {
                        crc.update(b.array(), b.arrayOffset() + b.readerIndex(), b.readableBytes());
                    } else {
                        crc.update(b.nioBuffer());
                    }
                    received += b.readableBytes();
                    if (c instanceof LastHttpContent last) {
                        onEnd(ctx, last.trailingHeaders());
                    }
                }
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }

        private Channel connection(ChannelHandlerContext ctx) {
            return ctx.channel() instanceof Http2StreamChannel ? ctx.channel().parent() : ctx.channel();
        }

        private void onHead(ChannelHandlerContext ctx, HttpRequest r) {
            request = r;
            crc.reset();
            received = 0;
            QueryStringDecoder q = new QueryStringDecoder(r.uri());
            switch (q.path()) {
                case "/upload" -> {
                    if (q.parameters().containsKey("stall")) {
                        ctx.channel().config().setAutoRead(false);
                        uploadStalled.complete(ctx.channel());
                    }
                }
                case "/rst-early" -> ctx.writeAndFlush(new DefaultHttp2ResetFrame(Http2Error.REFUSED_STREAM));
                default -> { }
            }
        }

        private void onEnd(ChannelHandlerContext ctx, HttpHeaders trailers) {
            HttpRequest r = request;
            seen.computeIfAbsent(r.uri(), u -> new CompletableFuture<>()).complete(new Seen(r.uri(),
                    ctx.channel() instanceof Http2StreamChannel, r.headers().copy(), trailers.copy(), connection(ctx),
                    received, crc.getValue()));
            QueryStringDecoder q = new QueryStringDecoder(r.uri());
            switch (q.path()) {
                case "/hello" -> text(ctx, "hello " + r.uri());
                case "/goaway" -> {
                    // GOAWAY naming this stream as the last one: it completes, no new one may start.
                    ctx.channel().parent().writeAndFlush(new DefaultHttp2GoAwayFrame(Http2Error.NO_ERROR));
                    text(ctx, "bye");
                }
                case "/gate" -> {
                    if (gated.incrementAndGet() >= gateTarget) {
                        gateReached.complete(null);
                    }
                    gate.thenRun(() -> ctx.executor().execute(() -> text(ctx, "gated " + r.uri())));
                }
                case "/trailers" -> {
                    ctx.write(head());
                    LastHttpContent last = new DefaultLastHttpContent(
                            Unpooled.copiedBuffer("hello world", StandardCharsets.UTF_8));
                    last.trailingHeaders().set("x-checksum", "abc123");
                    ctx.writeAndFlush(last);
                }
                case "/upload", "/download" -> upload(ctx, trailers, Long.parseLong(q.parameters().get("n").get(0)));
                case "/rst" -> {
                    ctx.write(head());
                    ctx.write(new DefaultHttpContent(Unpooled.copiedBuffer("partial", StandardCharsets.UTF_8)));
                    ctx.writeAndFlush(new DefaultHttp2ResetFrame(Http2Error.INTERNAL_ERROR));
                }
                case "/die" -> {
                    ctx.write(head());
                    ctx.writeAndFlush(new DefaultHttpContent(Unpooled.copiedBuffer("partial", StandardCharsets.UTF_8)))
                            .addListener(f -> connection(ctx).close());
                }
                default -> text(ctx, "no such path");
            }
        }

        /** Answers an upload with its size and checksum in trailers, after {@code n} pattern bytes. */
        private void upload(ChannelHandlerContext ctx, HttpHeaders requestTrailers, long n) {
            ctx.write(head());
            for (long off = 0; off < n; ) {
                int len = (int) Math.min(32 * 1024, n - off);
                ctx.write(new DefaultHttpContent(Unpooled.wrappedBuffer(PATTERN, (int) (off % P), len)));
                off += len;
            }
            LastHttpContent last = new DefaultLastHttpContent();
            last.trailingHeaders().set("x-upload-bytes", Long.toString(received));
            last.trailingHeaders().set("x-upload-crc", Long.toString(crc.getValue()));
            for (Map.Entry<String, String> e : requestTrailers) {
                last.trailingHeaders().add("x-echo-" + e.getKey(), e.getValue());
            }
            ctx.writeAndFlush(last);
        }

        /** A 200 head for a streamed body (chunked on HTTP/1.1, where trailers need it). */
        private HttpResponse head() {
            HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
            if (kind == Kind.HTTP1_TLS) {
                HttpUtil.setTransferEncodingChunked(head, true);
            }
            return head;
        }

        private void text(ChannelHandlerContext ctx, String body) {
            FullHttpResponse res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK,
                    Unpooled.copiedBuffer(body, StandardCharsets.UTF_8));
            res.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain");
            res.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, res.content().readableBytes());
            ctx.writeAndFlush(res);
        }
    }
}
