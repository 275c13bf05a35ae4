package io.spdyproxy.bench;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketDecoderConfig;
import io.netty.handler.codec.http.websocketx.WebSocketServerHandshaker;
import io.netty.handler.codec.http.websocketx.WebSocketServerHandshakerFactory;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * The app's HTTP stage: {@code /events} becomes an SSE stream, an upgrade request to one of the
 * WebSocket modes is answered 101 (RFC 6455 section 4.2.2) and the connection handed to that
 * mode's frame handler; anything else gets a plain 400 or 404.
 *
 * <p>Threading: one instance per connection, confined to its event loop.
 */
final class WebSocketAppRouter extends SimpleChannelInboundHandler<FullHttpRequest> {
    private static final List<String> MODES = List.of("/echo", "/flood", "/sink", "/close", "/die");

    private final WebSocketApp.Counters counters;
    private final SseSubscribers sse;

    WebSocketAppRouter(WebSocketApp.Counters counters, SseSubscribers sse) {
        this.counters = counters;
        this.sse = sse;
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
        QueryStringDecoder uri = new QueryStringDecoder(req.uri());
        String path = uri.path();
        if (path.equals("/events")) {
            ctx.pipeline().remove(this);
            sse.subscribe(ctx.channel());
            return;
        }
        if (!MODES.contains(path)) {
            answer(ctx, HttpResponseStatus.NOT_FOUND, "no such mode: " + path + " (expected one of " + MODES
                    + " or /events)\n");
            return;
        }
        if (!req.headers().containsValue(HttpHeaderNames.UPGRADE, HttpHeaderValues.WEBSOCKET, true)) {
            answer(ctx, HttpResponseStatus.BAD_REQUEST, path + " is a WebSocket endpoint: send an upgrade\n");
            return;
        }
        WebSocketServerHandshaker handshaker = new WebSocketServerHandshakerFactory("ws://app" + path, null,
                WebSocketDecoderConfig.newBuilder().maxFramePayloadLength(WebSocketApp.MAX_FRAME)
                        .allowExtensions(false).build()).newHandshaker(req);
        if (handshaker == null) {
            WebSocketServerHandshakerFactory.sendUnsupportedVersionResponse(ctx.channel());
            return;
        }
        ChannelHandler mode = switch (path) {
            case "/echo" -> new EchoFrames(handshaker, false);
            case "/die" -> new EchoFrames(handshaker, true);
            case "/flood" -> new FloodFrames(handshaker, counters);
            case "/sink" -> new SinkFrames(handshaker);
            default -> null; // /close: no handler, the close frame goes out once the 101 is written
        };
        // Frames can only come after the client read the 101, which this same task writes: the
        // mode's handler is in place before any of them is read.
        if (mode != null) {
            ctx.pipeline().replace(this, "ws-" + path.substring(1), mode);
        }
        handshaker.handshake(ctx.channel(), req).addListener(f -> {
            if (!f.isSuccess()) {
                ctx.channel().close();
                return;
            }
            counters.opened(ctx.channel());
            if (mode == null) {
                closeWith(handshaker, ctx, uri);
            } else if (mode instanceof FloodFrames flood) {
                flood.start();
            }
        });
    }

    private static void closeWith(WebSocketServerHandshaker handshaker, ChannelHandlerContext ctx,
            QueryStringDecoder uri) {
        String reason = uri.parameters().getOrDefault("reason", List.of("")).get(0);
        CloseWebSocketFrame frame;
        try {
            int code = Integer.parseInt(uri.parameters().getOrDefault("code", List.of("1000")).get(0));
            frame = new CloseWebSocketFrame(code, reason);
        } catch (IllegalArgumentException e) { // not a number, or a code RFC 6455 section 7.4 forbids
            frame = new CloseWebSocketFrame(1011, "bad close code: " + e.getMessage());
        }
        handshaker.close(ctx.channel(), frame);
    }

    private static void answer(ChannelHandlerContext ctx, HttpResponseStatus status, String text) {
        FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status,
                Unpooled.copiedBuffer(text, StandardCharsets.UTF_8));
        r.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain; charset=utf-8")
                .setInt(HttpHeaderNames.CONTENT_LENGTH, r.content().readableBytes());
        ctx.writeAndFlush(r).addListener(ChannelFutureListener.CLOSE);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        ctx.close(); // a malformed request: nothing to answer on a test app
    }
}
