package io.spdyproxy.testing;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.buffer.UnpooledByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.ContinuationWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PingWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PongWebSocketFrame;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketClientHandshaker;
import io.netty.handler.codec.http.websocketx.WebSocketClientHandshakerFactory;
import io.netty.handler.codec.http.websocketx.WebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketFrameAggregator;
import io.netty.handler.codec.http.websocketx.WebSocketVersion;
import io.netty.handler.ssl.SslContext;
import io.spdyproxy.transport.Transport;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A WebSocket client for tests on Netty's {@link WebSocketClientHandshaker}: connects to {@code
 * ws://} or {@code wss://} (with the caller's {@link SslContext}), sends text and binary messages
 * (a large one in fragments), and puts every whole message it receives into a queue. {@link
 * #closed()} completes with the close code the server sent, or {@value #ABNORMAL} when the
 * connection ended without a close frame (RFC 6455 section 7.1.5). {@link #pauseReading()} stops
 * reading from the socket (auto-read off), for slow-reader cases.
 *
 * <p>Threading: the connection is confined to its event loop; the public methods may be called
 * from any thread (Netty's channel operations hop onto the loop), the queue and futures are
 * thread-safe.
 */
public final class WebSocketTestClient implements AutoCloseable {
    /** The close code of a connection that ended without a close frame (RFC 6455 section 7.4.1). */
    public static final int ABNORMAL = 1006;
    /** The close code when the close frame carried no status (RFC 6455 section 7.1.5). */
    public static final int NO_STATUS = 1005;
    /**
     * The client's buffers, without leak tracking: the client is the harness, not the code under
     * test, and at the paranoid level masking a frame (8 bytes per access, each access a recorded
     * stack trace) makes a 100 MiB message take minutes. Tests hand the app the same allocator.
     */
    public static final ByteBufAllocator UNTRACKED = new UnpooledByteBufAllocator(true, true);
    /** The largest message the client accepts (and the largest frame). */
    public static final int MAX_MESSAGE = 128 << 20;

    /** One whole message as received. */
    public record Message(boolean text, byte[] data) {
        public String asText() {
            return new String(data, StandardCharsets.UTF_8);
        }
    }

    /** How the connection ended: the code and reason of the server's close frame, or 1006. */
    public record CloseStatus(int code, String reason) {}

    /** Connection options: TLS, a Host header to send instead of the URI's, auto-read. */
    public record Options(SslContext tls, String host, boolean autoRead) {
        public static Options plain() {
            return new Options(null, null, true);
        }

        public Options withTls(SslContext c) {
            return new Options(c, host, autoRead);
        }

        public Options withHost(String h) {
            return new Options(tls, h, autoRead);
        }
    }

    private final Channel channel;
    private final BlockingQueue<Message> messages = new LinkedBlockingQueue<>();
    private final BlockingQueue<byte[]> pongs = new LinkedBlockingQueue<>();
    private final CompletableFuture<CloseStatus> closed = new CompletableFuture<>();
    private final AtomicLong bytesReceived = new AtomicLong();
    private volatile boolean closeSent;

    private WebSocketTestClient(Channel channel) {
        this.channel = channel;
    }

    /** Connects and completes the opening handshake; fails past {@code guard}. */
    public static WebSocketTestClient connect(URI uri, EventLoopGroup group, Options options, Duration guard)
            throws Exception {
        return connectAsync(uri, group, options).get(guard.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Connects; the future completes once the server's 101 was read, or fails with why not. */
    public static CompletableFuture<WebSocketTestClient> connectAsync(URI uri, EventLoopGroup group,
            Options options) {
        boolean secure = "wss".equals(uri.getScheme());
        int port = uri.getPort() > 0 ? uri.getPort() : secure ? 443 : 80;
        HttpHeaders headers = new DefaultHttpHeaders();
        if (options.host() != null) {
            headers.set(HttpHeaderNames.HOST, options.host());
        }
        WebSocketClientHandshaker handshaker = WebSocketClientHandshakerFactory.newHandshaker(uri,
                WebSocketVersion.V13, null, false, headers, MAX_MESSAGE);
        CompletableFuture<WebSocketTestClient> result = new CompletableFuture<>();
        ChannelFuture connect = new Bootstrap().group(group).channel(Transport.socketChannel())
                .option(ChannelOption.AUTO_READ, options.autoRead())
                .option(ChannelOption.ALLOCATOR, UNTRACKED)
                .handler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        if (secure) {
                            ch.pipeline().addLast(options.tls().newHandler(ch.alloc(), uri.getHost(), port));
                        }
                        ch.pipeline().addLast(new HttpClientCodec(), new HttpObjectAggregator(64 * 1024),
                                new Handshake(handshaker, new WebSocketTestClient(ch), result));
                    }
                }).connect(uri.getHost(), port);
        connect.addListener(f -> {
            if (!f.isSuccess()) {
                result.completeExceptionally(f.cause());
            }
        });
        return result;
    }

    public void sendText(String text) {
        channel.writeAndFlush(new TextWebSocketFrame(text));
    }

    /** Sends {@code n} text messages in one flush. */
    public void sendTexts(Iterable<String> texts) {
        for (String t : texts) {
            channel.write(new TextWebSocketFrame(t));
        }
        channel.flush();
    }

    public void sendBinary(byte[] data) {
        channel.writeAndFlush(new BinaryWebSocketFrame(Unpooled.wrappedBuffer(data)));
    }

    /**
     * Sends {@code data} as one binary message in fragments of {@code fragment} bytes (RFC 6455
     * section 5.4), each written only once the previous one left, so the client never holds more
     * than one fragment beyond {@code data}. The future completes when the last one was written.
     */
    public CompletableFuture<Void> sendBinaryFragmented(byte[] data, int fragment) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        channel.eventLoop().execute(() -> sendFragment(data, fragment, 0, done));
        return done;
    }

    private void sendFragment(byte[] data, int fragment, int offset, CompletableFuture<Void> done) {
        int n = Math.min(fragment, data.length - offset);
        boolean last = offset + n == data.length;
        ByteBuf part = Unpooled.wrappedBuffer(data, offset, n);
        WebSocketFrame f = offset == 0 ? new BinaryWebSocketFrame(last, 0, part)
                : new ContinuationWebSocketFrame(last, 0, part);
        channel.writeAndFlush(f).addListener(w -> {
            if (!w.isSuccess()) {
                done.completeExceptionally(w.cause());
            } else if (last) {
                done.complete(null);
            } else {
                sendFragment(data, fragment, offset + n, done);
            }
        });
    }

    public void ping(byte[] payload) {
        channel.writeAndFlush(new PingWebSocketFrame(Unpooled.wrappedBuffer(payload)));
    }

    /** Starts the closing handshake with {@code code} and {@code reason}. */
    public void close(int code, String reason) {
        closeSent = true;
        channel.writeAndFlush(new CloseWebSocketFrame(code, reason));
    }

    /** The next whole message; fails if none comes within {@code guard}. */
    public Message next(Duration guard) throws InterruptedException {
        Message m = messages.poll(guard.toMillis(), TimeUnit.MILLISECONDS);
        if (m == null) {
            throw new AssertionError("no message within " + guard + " (closed: " + closed.getNow(null) + ")");
        }
        return m;
    }

    /** The payload of the next pong; fails if none comes within {@code guard}. */
    public byte[] nextPong(Duration guard) throws InterruptedException {
        byte[] p = pongs.poll(guard.toMillis(), TimeUnit.MILLISECONDS);
        if (p == null) {
            throw new AssertionError("no pong within " + guard + " (closed: " + closed.getNow(null) + ")");
        }
        return p;
    }

    /** The next message if one is queued, else null. */
    public Message poll() {
        return messages.poll();
    }

    /** Completes when the connection is closed, with how it ended. */
    public CompletableFuture<CloseStatus> closed() {
        return closed;
    }

    /** Stops reading from the socket: the peer's data waits in the kernel and, further, in the peer. */
    public void pauseReading() {
        channel.config().setAutoRead(false);
    }

    public void resumeReading() {
        channel.config().setAutoRead(true);
    }

    /** Payload bytes of the data frames received so far. */
    public long bytesReceived() {
        return bytesReceived.get();
    }

    public Channel channel() {
        return channel;
    }

    /** Closes the TCP connection without a closing handshake. */
    @Override
    public void close() {
        channel.close();
    }

    /** Completes the opening handshake, then switches the pipeline to frames. */
    private static final class Handshake extends SimpleChannelInboundHandler<FullHttpResponse> {
        private final WebSocketClientHandshaker handshaker;
        private final WebSocketTestClient client;
        private final CompletableFuture<WebSocketTestClient> result;

        Handshake(WebSocketClientHandshaker handshaker, WebSocketTestClient client,
                CompletableFuture<WebSocketTestClient> result) {
            this.handshaker = handshaker;
            this.client = client;
            this.result = result;
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            handshaker.handshake(ctx.channel());
            ctx.fireChannelActive();
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpResponse r) {
            try {
                handshaker.finishHandshake(ctx.channel(), r);
            } catch (RuntimeException e) {
                result.completeExceptionally(new IllegalStateException("handshake refused: " + r.status() + " "
                        + r.content().toString(StandardCharsets.UTF_8), e));
                ctx.close();
                return;
            }
            ctx.pipeline().replace(this, "frames", new Frames(client));
            ctx.pipeline().addBefore("frames", "aggregator", new WebSocketFrameAggregator(MAX_MESSAGE));
            result.complete(client);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            result.completeExceptionally(new IllegalStateException("closed during the opening handshake"));
            client.closed.complete(new CloseStatus(ABNORMAL, ""));
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            result.completeExceptionally(cause);
            ctx.close();
        }
    }

    /** Whole messages into the queue; a close frame is answered and remembered. */
    private static final class Frames extends SimpleChannelInboundHandler<WebSocketFrame> {
        private final WebSocketTestClient client;
        private CloseStatus received;

        Frames(WebSocketTestClient client) {
            this.client = client;
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, WebSocketFrame frame) {
            if (frame instanceof CloseWebSocketFrame close) {
                int code = close.statusCode() < 0 ? NO_STATUS : close.statusCode();
                received = new CloseStatus(code, close.reasonText());
                // Echo the close (section 5.5.1) unless it answers ours; the server closes TCP.
                if (!client.closeSent) {
                    client.closeSent = true;
                    ctx.writeAndFlush(new CloseWebSocketFrame(true, 0, close.content().retain()));
                }
            } else if (frame instanceof PingWebSocketFrame ping) {
                ctx.writeAndFlush(new PongWebSocketFrame(ping.content().retain()));
            } else if (frame instanceof PongWebSocketFrame pong) {
                client.pongs.add(ByteBufUtil.getBytes(pong.content()));
            } else if (frame instanceof TextWebSocketFrame || frame instanceof BinaryWebSocketFrame) {
                client.bytesReceived.addAndGet(frame.content().readableBytes());
                client.messages.add(new Message(frame instanceof TextWebSocketFrame,
                        ByteBufUtil.getBytes(frame.content())));
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            client.closed.complete(received != null ? received : new CloseStatus(ABNORMAL, ""));
            ctx.fireChannelInactive();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }
}
