package io.spdyproxy.proxy;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http2.DefaultHttp2ResetFrame;
import io.netty.handler.codec.http2.DefaultHttp2WindowUpdateFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2GoAwayFrame;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamChannelBootstrap;
import io.netty.handler.codec.http2.Http2StreamFrameToHttpObjectCodec;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.ReferenceCountUtil;
import io.spdyproxy.transport.Transport;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32C;

/**
 * A Netty HTTP/2 client for the front-end tests: one connection (TLS with ALPN h2, or prior
 * knowledge on the plain port), streams opened as child channels, each answer collected as a
 * {@link Reply} (head, body checksum, trailers, or the reset that ended it).
 *
 * <p>Threading: its methods may be called from the test thread; collection runs on the loop.
 */
final class H2TestClient implements AutoCloseable {
    /** How a stream ended: {@code reset} is null after a clean end of stream. */
    record Reply(HttpResponse head, byte[] body, long bytes, long crc32c, HttpHeaders trailers, Http2Error reset) {
        int status() {
            return head == null ? 0 : head.status().code();
        }

        String text() {
            return new String(body, java.nio.charset.StandardCharsets.UTF_8);
        }
    }

    final Channel channel;
    /** The error code of the first GOAWAY the proxy sent. */
    final CompletableFuture<Long> goAway = new CompletableFuture<>();
    /** The response head of the stream opened last. */
    volatile CompletableFuture<HttpResponse> lastHead;
    private final List<Http2StreamChannel> streams = new java.util.concurrent.CopyOnWriteArrayList<>();

    private H2TestClient(Channel channel) {
        this.channel = channel;
    }

    /** Connects; {@code tls} null for prior knowledge. Returns once TLS (if any) negotiated h2. */
    static H2TestClient connect(EventLoopGroup group, int port, SslContext tls) throws Exception {
        CompletableFuture<H2TestClient> ready = new CompletableFuture<>();
        H2TestClient[] self = new H2TestClient[1];
        Channel ch = new Bootstrap().group(group).channel(Transport.socketChannel())
                .option(ChannelOption.TCP_NODELAY, true)
                .handler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        if (tls != null) {
                            ch.pipeline().addLast(tls.newHandler(ch.alloc(), "127.0.0.1", port));
                        }
                        ch.pipeline().addLast(Http2FrameCodecBuilder.forClient()
                                .initialSettings(Http2Settings.defaultSettings()).build());
                        ch.pipeline().addLast(new Http2MultiplexHandler(new ChannelInboundHandlerAdapter()));
                        ch.pipeline().addLast(new ChannelInboundHandlerAdapter() {
                            @Override
                            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                if (msg instanceof Http2GoAwayFrame g) {
                                    self[0].goAway.complete(g.errorCode());
                                }
                                ReferenceCountUtil.release(msg);
                            }
                        });
                    }
                }).connect("127.0.0.1", port).sync().channel();
        self[0] = new H2TestClient(ch);
        if (tls != null) {
            SslHandler ssl = ch.pipeline().get(SslHandler.class);
            ssl.handshakeFuture().sync();
        }
        // A connection window big enough that a stream not read does not hold its siblings.
        ch.writeAndFlush(new DefaultHttp2WindowUpdateFrame(16 * 1024 * 1024)).sync();
        ready.complete(self[0]);
        return ready.get(10, TimeUnit.SECONDS);
    }

    /** The ALPN protocol TLS negotiated, or null. */
    String alpn() {
        SslHandler ssl = channel.pipeline().get(SslHandler.class);
        return ssl == null ? null : ssl.applicationProtocol();
    }

    /** A request without body. */
    CompletableFuture<Reply> get(HttpRequest head) throws Exception {
        return send(head, List.of(), null, true);
    }

    /**
     * Sends {@code head}, then {@code body} (ownership passes) and {@code trailers} (may be null) as
     * the end; {@code read} false: after the head the stream's data is never read.
     */
    CompletableFuture<Reply> send(HttpRequest head, List<ByteBuf> body, HttpHeaders trailers, boolean read)
            throws Exception {
        return send(head, body, trailers, read, null);
    }

    CompletableFuture<Reply> send(HttpRequest head, List<ByteBuf> body, HttpHeaders trailers, boolean read,
            CompletableFuture<Http2StreamChannel> streamOut) throws Exception {
        Collector collector = new Collector(read);
        lastHead = collector.head;
        Http2StreamChannel s = new Http2StreamChannelBootstrap(channel).handler(
                new ChannelInitializer<Http2StreamChannel>() {
                    @Override
                    protected void initChannel(Http2StreamChannel ch) {
                        ch.config().setAutoRead(read);
                        ch.pipeline().addLast(new Http2StreamFrameToHttpObjectCodec(false), collector);
                    }
                }).open().sync().getNow();
        streams.add(s);
        if (streamOut != null) {
            streamOut.complete(s);
        }
        boolean hasEnd = !body.isEmpty() || trailers != null;
        if (!hasEnd) {
            io.netty.handler.codec.http.FullHttpRequest full = new io.netty.handler.codec.http.DefaultFullHttpRequest(
                    head.protocolVersion(), head.method(), head.uri(), io.netty.buffer.Unpooled.EMPTY_BUFFER,
                    head.headers(), io.netty.handler.codec.http.EmptyHttpHeaders.INSTANCE);
            s.writeAndFlush(full);
        } else {
            s.write(head);
            for (int i = 0; i < body.size(); i++) {
                boolean last = i == body.size() - 1 && trailers == null;
                s.write(last ? new DefaultLastHttpContent(body.get(i)) : new DefaultHttpContent(body.get(i)));
            }
            if (trailers != null) {
                LastHttpContent end = new DefaultLastHttpContent();
                end.trailingHeaders().add(trailers);
                s.write(end);
            }
            s.flush();
        }
        if (!read) {
            s.read(); // the response head only
        }
        return collector.done;
    }

    /** Every stream opened with {@code read} false reads on from now. */
    void readAll() {
        channel.eventLoop().execute(() -> {
            for (Http2StreamChannel s : streams) {
                s.config().setAutoRead(true);
            }
        });
    }

    /** Resets {@code s} (as a client cancelling it). */
    static void reset(Http2StreamChannel s) {
        s.writeAndFlush(new DefaultHttp2ResetFrame(Http2Error.CANCEL));
    }

    @Override
    public void close() {
        // A stream not read holds its frames until closed (auto-read off): release them.
        channel.eventLoop().submit(() -> streams.forEach(Http2StreamChannel::close)).syncUninterruptibly();
        channel.close().syncUninterruptibly();
    }

    /** Collects one stream's answer. */
    static final class Collector extends ChannelInboundHandlerAdapter {
        final CompletableFuture<Reply> done = new CompletableFuture<>();
        final CompletableFuture<HttpResponse> head = new CompletableFuture<>();
        private final boolean read;
        private final CRC32C crc = new CRC32C();
        private final ByteArrayOutputStream kept = new ByteArrayOutputStream();
        private long bytes;
        private HttpResponse response;

        Collector(boolean read) {
            this.read = read;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            try {
                if (msg instanceof HttpResponse r) {
                    if (r.status().code() < 200) {
                        return; // an interim answer (100 Continue)
                    }
                    response = r;
                    head.complete(r);
                }
                if (msg instanceof HttpContent c) {
                    ByteBuf b = c.content();
                    bytes += b.readableBytes();
                    for (ByteBuffer nio : b.nioBuffers()) {
                        crc.update(nio);
                    }
                    if (kept.size() < 64 * 1024) {
                        byte[] copy = new byte[b.readableBytes()];
                        b.getBytes(b.readerIndex(), copy);
                        kept.writeBytes(copy);
                    }
                    if (msg instanceof LastHttpContent last) {
                        done.complete(new Reply(response, kept.toByteArray(), bytes, crc.getValue(),
                                last.trailingHeaders(), null));
                    }
                }
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof Http2ResetFrame rst) {
                done.complete(new Reply(response, kept.toByteArray(), bytes, crc.getValue(), null,
                        Http2Error.valueOf(rst.errorCode())));
            }
            ctx.fireUserEventTriggered(evt);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            done.complete(new Reply(response, kept.toByteArray(), bytes, crc.getValue(), null,
                    Http2Error.INTERNAL_ERROR));
            ctx.fireChannelInactive();
        }
    }
}
