package io.spdyproxy.bench;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketClientHandshaker;
import io.netty.handler.codec.http.websocketx.WebSocketClientHandshakerFactory;
import io.netty.handler.codec.http.websocketx.WebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketVersion;
import io.spdyproxy.transport.Transport;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/**
 * The benchmark's WebSocket client: one connection, frames handed raw (not aggregated) to a
 * listener on the event loop, and three measurements built on it: echo round trips, download and
 * upload throughput. Each returns a future so the caller waits on the event, not on a clock.
 *
 * <p>Threading: confined to the channel's event loop; the futures complete there.
 */
final class BenchWebSocket {
    /**
     * The bench's own buffers: the default allocator, except under the paranoid leak detector
     * (the benchmark's smoke test), where every access to a tracked buffer records a stack trace
     * and masking a frame touches it 8 bytes at a time, which made a 64 MiB transfer take minutes.
     * The proxy and origin under test are separate processes and keep their own settings.
     */
    static final io.netty.buffer.ByteBufAllocator ALLOC =
            io.netty.util.ResourceLeakDetector.getLevel() == io.netty.util.ResourceLeakDetector.Level.PARANOID
                    ? new io.netty.buffer.UnpooledByteBufAllocator(true, true)
                    : io.netty.buffer.ByteBufAllocator.DEFAULT;

    private static final int UPLOAD_MESSAGE = 64 * 1024;

    private final Channel channel;
    private Consumer<WebSocketFrame> listener = f -> {};
    private Runnable onWritable = () -> {};

    private BenchWebSocket(Channel channel) {
        this.channel = channel;
    }

    /** Connects and completes the handshake, sending {@code host} as the Host header when not null. */
    static CompletableFuture<BenchWebSocket> open(EventLoopGroup group, URI uri, String host) {
        DefaultHttpHeaders headers = new DefaultHttpHeaders();
        if (host != null) {
            headers.set(HttpHeaderNames.HOST, host);
        }
        WebSocketClientHandshaker handshaker = WebSocketClientHandshakerFactory.newHandshaker(uri,
                WebSocketVersion.V13, null, false, headers, WebSocketApp.MAX_FRAME);
        CompletableFuture<BenchWebSocket> result = new CompletableFuture<>();
        // A deeper write buffer than Netty's 64 KiB default: an upload of 64 KiB messages would
        // otherwise stop at every message until the socket drained.
        new Bootstrap().group(group).channel(Transport.socketChannel())
                .option(ChannelOption.ALLOCATOR, ALLOC)
                .option(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(512 * 1024, 1024 * 1024))
                .handler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast(new HttpClientCodec(), new HttpObjectAggregator(64 * 1024),
                                new Handshake(handshaker, new BenchWebSocket(ch), result));
                    }
                }).connect(uri.getHost(), uri.getPort()).addListener(f -> {
                    if (!f.isSuccess()) {
                        result.completeExceptionally(f.cause());
                    }
                });
        return result;
    }

    /** {@code n} echo round trips of a {@code size}-byte text message, one at a time; nanoseconds each. */
    CompletableFuture<long[]> roundTrips(int n, int size) {
        CompletableFuture<long[]> done = new CompletableFuture<>();
        long[] nanos = new long[n];
        String message = "x".repeat(size);
        channel.eventLoop().execute(() -> {
            int[] i = {0};
            long[] sent = {System.nanoTime()};
            listener = f -> {
                nanos[i[0]++] = System.nanoTime() - sent[0];
                if (i[0] == n) {
                    done.complete(nanos);
                } else {
                    sent[0] = System.nanoTime();
                    channel.writeAndFlush(new TextWebSocketFrame(message));
                }
            };
            channel.writeAndFlush(new TextWebSocketFrame(message));
        });
        failOnClose(done);
        return done;
    }

    /** Reads {@code /flood} until {@code bytes} arrived; completes with the nanoseconds it took. */
    CompletableFuture<Long> download(long bytes) {
        CompletableFuture<Long> done = new CompletableFuture<>();
        channel.eventLoop().execute(() -> {
            long t0 = System.nanoTime();
            long[] got = {0};
            listener = f -> {
                got[0] += f.content().readableBytes();
                if (got[0] >= bytes) {
                    done.complete(System.nanoTime() - t0);
                    channel.close();
                }
            };
        });
        failOnClose(done);
        return done;
    }

    /**
     * Sends {@code bytes} to {@code /sink} in 64 KiB messages, written only while the channel is
     * writable, then asks for the count; completes with the nanoseconds until the app confirmed
     * it had read them all.
     */
    CompletableFuture<Long> upload(long bytes) {
        CompletableFuture<Long> done = new CompletableFuture<>();
        ByteBuf raw = Unpooled.directBuffer(UPLOAD_MESSAGE).writeZero(UPLOAD_MESSAGE);
        ByteBuf payload = Unpooled.unreleasableBuffer(raw);
        // Every frame is encoded (masked into a copy) when written, so once the upload ended, on
        // the loop and with no more writes to come, the one payload buffer can go.
        done.whenComplete((v, e) -> channel.eventLoop().execute(() -> {
            onWritable = () -> {};
            raw.release();
        }));
        channel.eventLoop().execute(() -> {
            long t0 = System.nanoTime();
            long[] sent = {0};
            listener = f -> {
                if (f instanceof TextWebSocketFrame t && Long.parseLong(t.text()) >= bytes) {
                    done.complete(System.nanoTime() - t0);
                }
            };
            onWritable = () -> {
                while (sent[0] < bytes && channel.isWritable()) {
                    sent[0] += UPLOAD_MESSAGE;
                    channel.write(new BinaryWebSocketFrame(payload.duplicate()));
                }
                if (sent[0] >= bytes) {
                    onWritable = () -> {};
                    channel.write(new TextWebSocketFrame("done?"));
                }
                channel.flush();
            };
            onWritable.run();
        });
        failOnClose(done);
        return done;
    }

    void close() {
        channel.close();
    }

    private void failOnClose(CompletableFuture<?> f) {
        channel.closeFuture().addListener(c -> f.completeExceptionally(new IllegalStateException("connection closed")));
    }

    /** The opening handshake; on the 101 the pipeline switches to {@link Frames}. */
    private static final class Handshake extends SimpleChannelInboundHandler<FullHttpResponse> {
        private final WebSocketClientHandshaker handshaker;
        private final BenchWebSocket socket;
        private final CompletableFuture<BenchWebSocket> result;

        Handshake(WebSocketClientHandshaker handshaker, BenchWebSocket socket,
                CompletableFuture<BenchWebSocket> result) {
            this.handshaker = handshaker;
            this.socket = socket;
            this.result = result;
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            handshaker.handshake(ctx.channel());
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpResponse r) {
            try {
                handshaker.finishHandshake(ctx.channel(), r);
            } catch (RuntimeException e) {
                result.completeExceptionally(new IllegalStateException("upgrade refused: " + r.status() + " "
                        + r.content().toString(StandardCharsets.UTF_8).trim()));
                ctx.close();
                return;
            }
            ctx.pipeline().replace(this, "frames", new Frames(socket));
            result.complete(socket);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            result.completeExceptionally(new IllegalStateException("closed before the 101"));
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            result.completeExceptionally(cause);
            ctx.close();
        }
    }

    /** Frames to the socket's current listener; writability to its current producer. */
    private static final class Frames extends SimpleChannelInboundHandler<WebSocketFrame> {
        private final BenchWebSocket socket;

        Frames(BenchWebSocket socket) {
            this.socket = socket;
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, WebSocketFrame f) {
            socket.listener.accept(f);
        }

        @Override
        public void channelWritabilityChanged(ChannelHandlerContext ctx) {
            if (ctx.channel().isWritable()) {
                socket.onWritable.run();
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }
}
