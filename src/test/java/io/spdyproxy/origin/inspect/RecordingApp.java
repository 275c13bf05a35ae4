package io.spdyproxy.origin.inspect;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpVersion;
import io.spdyproxy.transport.Transport;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * The app behind the origin in these tests: plain Netty HTTP/1.1 on loopback, recording every
 * request it gets. {@code /echo} answers the request's body with its content type, {@code /json}
 * a JSON document, anything else {@code hello <path>} as text.
 *
 * <p>Threading: its own loop; {@link #requests} is safe to read from the test thread.
 */
final class RecordingApp implements AutoCloseable {
    /** A request as the app saw it. */
    record Seen(String method, String uri, HttpHeaders headers, byte[] body) {
        String text() {
            return new String(body, StandardCharsets.UTF_8);
        }
    }

    static final String JSON = "{\"items\":[{\"id\":1,\"name\":\"a\"},{\"id\":2,\"name\":\"b\"}],\"ok\":true}";

    final BlockingQueue<Seen> requests = new LinkedBlockingQueue<>();
    private final EventLoopGroup group = Transport.newGroup(1, "inspector-app");
    private final Channel server;

    RecordingApp() throws InterruptedException {
        server = new ServerBootstrap().group(group).channel(Transport.serverChannel())
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast(new HttpServerCodec(), new HttpObjectAggregator(8 * 1024 * 1024),
                                new SimpleChannelInboundHandler<FullHttpRequest>() {
                                    @Override
                                    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
                                        answer(ctx, req);
                                    }
                                });
                    }
                }).bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0)).sync().channel();
    }

    int port() {
        return ((InetSocketAddress) server.localAddress()).getPort();
    }

    Seen next() throws InterruptedException {
        Seen s = requests.poll(10, TimeUnit.SECONDS);
        if (s == null) {
            throw new AssertionError("the app got no request within 10 s");
        }
        return s;
    }

    private void answer(ChannelHandlerContext ctx, FullHttpRequest req) {
        byte[] body = ByteBufUtil.getBytes(req.content());
        requests.add(new Seen(req.method().name(), req.uri(), req.headers().copy(), body));
        String path = req.uri().split("\\?", 2)[0];
        FullHttpResponse res;
        if (path.equals("/echo")) {
            res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK, Unpooled.wrappedBuffer(body));
            String type = req.headers().get(HttpHeaderNames.CONTENT_TYPE);
            res.headers().set(HttpHeaderNames.CONTENT_TYPE, type == null ? "application/octet-stream" : type);
        } else if (path.equals("/json")) {
            res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK,
                    Unpooled.copiedBuffer(JSON, StandardCharsets.UTF_8));
            res.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/json");
        } else {
            HttpResponseStatus status = path.equals("/missing") ? HttpResponseStatus.NOT_FOUND : HttpResponseStatus.OK;
            res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status,
                    Unpooled.copiedBuffer("hello " + path + "\n", StandardCharsets.UTF_8));
            res.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain; charset=utf-8");
        }
        res.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, res.content().readableBytes());
        ctx.writeAndFlush(res);
    }

    @Override
    public void close() {
        server.close().syncUninterruptibly();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }
}
