package io.spdyproxy.observe.dashboard;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import java.nio.charset.StandardCharsets;

/**
 * The dashboard's answers, each with the headers that keep a browser from running or caching
 * anything it did not mean to: scripts only from this origin, no inline script
 * ({@code Content-Security-Policy}), no type sniffing, no caching, no framing.
 *
 * <p>Threading: stateless; called on the admin channel's event loop.
 */
final class Responses {
    private Responses() {}

    static void secure(HttpHeaders h) {
        h.set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'");
        h.set("X-Content-Type-Options", "nosniff");
        h.set(HttpHeaderNames.CACHE_CONTROL, "no-store");
        h.set("X-Frame-Options", "DENY");
        h.set("Referrer-Policy", "no-referrer");
    }

    static void send(ChannelHandlerContext ctx, HttpRequest req, HttpResponseStatus status, String type, byte[] body) {
        ByteBuf content = Unpooled.wrappedBuffer(body);
        FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, content);
        r.headers().set(HttpHeaderNames.CONTENT_TYPE, type);
        r.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, body.length);
        secure(r.headers());
        if (req.method().name().equals("HEAD")) {
            r.content().clear();
        }
        send(ctx, req, r);
    }

    static void text(ChannelHandlerContext ctx, HttpRequest req, HttpResponseStatus status, String message) {
        send(ctx, req, status, "text/plain; charset=utf-8", (message + "\n").getBytes(StandardCharsets.UTF_8));
    }

    static void json(ChannelHandlerContext ctx, HttpRequest req, String json) {
        send(ctx, req, HttpResponseStatus.OK, "application/json", json.getBytes(StandardCharsets.US_ASCII));
    }

    private static void send(ChannelHandlerContext ctx, HttpRequest req, HttpResponse r) {
        boolean keepAlive = HttpUtil.isKeepAlive(req);
        HttpUtil.setKeepAlive(r, keepAlive);
        var f = ctx.writeAndFlush(r);
        if (!keepAlive) {
            f.addListener(ChannelFutureListener.CLOSE);
        }
    }
}
