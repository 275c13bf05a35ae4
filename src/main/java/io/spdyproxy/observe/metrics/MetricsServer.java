package io.spdyproxy.observe.metrics;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpVersion;
import io.spdyproxy.transport.Transport;
import java.net.InetSocketAddress;

/**
 * The origin's admin listener: {@code GET /metrics} on 127.0.0.1 only (it tells about the app
 * behind the origin; nobody off the machine needs it).
 *
 * <p>Threading: {@link #start} and {@link #close} from any thread.
 */
public final class MetricsServer implements AutoCloseable {
    private final Channel listener;

    private MetricsServer(Channel listener) {
        this.listener = listener;
    }

    /** Binds 127.0.0.1:{@code port} (0: any free port) on {@code group}. */
    public static MetricsServer start(EventLoopGroup group, int port, OriginMetrics metrics)
            throws InterruptedException {
        Channel ch = new ServerBootstrap().group(group).channel(Transport.serverChannel())
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel c) {
                        c.pipeline().addLast(new HttpServerCodec(), new HttpObjectAggregator(4096), new Handler(metrics));
                    }
                }).bind("127.0.0.1", port).sync().channel();
        return new MetricsServer(ch);
    }

    public int port() {
        return ((InetSocketAddress) listener.localAddress()).getPort();
    }

    @Override
    public void close() {
        listener.close().awaitUninterruptibly();
    }

    /** {@code /metrics}, else 404. Threading: on its channel's loop. */
    private static final class Handler extends SimpleChannelInboundHandler<FullHttpRequest> {
        private final OriginMetrics metrics;

        Handler(OriginMetrics metrics) {
            this.metrics = metrics;
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
            if (req.uri().split("\\?", 2)[0].equals("/metrics")) {
                metrics.serve(ctx, req);
                return;
            }
            var r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.NOT_FOUND,
                    Unpooled.copiedBuffer("not found\n", java.nio.charset.StandardCharsets.UTF_8));
            r.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain; charset=utf-8");
            r.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, r.content().readableBytes());
            ctx.writeAndFlush(r).addListener(ChannelFutureListener.CLOSE);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }
}
