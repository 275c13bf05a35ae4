package io.spdyproxy.proxy;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.util.ReferenceCountUtil;
import io.spdyproxy.tunnel.TunnelSession;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One HTTP/2 stream of a client connection: exactly one request, run through the same
 * {@link Exchange} as an HTTP/1.1 request (routing by {@code :authority}, which Netty's conversion
 * made the {@code Host}; forwarding headers; the relays with their backpressure and framing
 * checks). The child channel's auto-read is off: its next frame is read, and the client's window
 * for it credited, only when the tunnel stream can take more (RFC 9113 section 5.2). A download is
 * written to the child channel, whose writes complete as the stream's window lets them out; only
 * then is the tunnel stream granted window ({@link ResponseRelay}), so a stream the client does
 * not read holds back only its own tunnel stream.
 *
 * <p>What differs from HTTP/1.1: no keep-alive, pipelining or upgrade (each stream is one
 * exchange); closing the child channel before both ends of the stream ended sends RST_STREAM, so
 * an aborted answer never looks complete; a RST_STREAM from the client resets the tunnel stream.
 *
 * <p>Threading: confined to the connection's event loop (the child channel's).
 */
final class Http2StreamExchange extends ChannelInboundHandlerAdapter implements ExchangeConnection {
    private static final Logger log = LoggerFactory.getLogger(Http2StreamExchange.class);

    private final ProxyContext px;
    private final String scheme;
    private final ClientTimeouts timeouts;
    private ChannelHandlerContext ctx;
    private Exchange current;
    private boolean flushPending;
    /** A request head was seen: anything after one more is not ours (one exchange per stream). */
    private boolean headSeen;

    Http2StreamExchange(ProxyContext px, String scheme, ClientTimeouts timeouts) {
        this.px = px;
        this.scheme = scheme;
        this.timeouts = timeouts;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        ctx.read(); // the stream's HEADERS
        ctx.fireChannelActive();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof HttpRequest req) {
            if (headSeen) {
                ReferenceCountUtil.release(msg);
                return;
            }
            headSeen = true;
            timeouts.headReceived();
            start(req, msg);
            return;
        }
        if (msg instanceof HttpContent c && current != null) {
            current.request().content(c);
            return;
        }
        ReferenceCountUtil.release(msg);
    }

    private void start(HttpRequest req, Object msg) {
        boolean head = req.method().equals(HttpMethod.HEAD);
        stripConnectionHeaders(req.headers());
        ClientRequests.Refusal refusal = ClientRequests.check(req);
        if (refusal != null) {
            ReferenceCountUtil.release(msg);
            refuse(req, refusal.status(), refusal.message(), head);
            return;
        }
        String unmet = ClientRequests.unmetExpectation(req);
        if (unmet != null) {
            ReferenceCountUtil.release(msg);
            refuse(req, HttpResponseStatus.EXPECTATION_FAILED, "unsupported expectation: " + unmet, head);
            return;
        }
        if (HttpUtil.is100ContinueExpected(req)) {
            // An interim HEADERS frame on this stream (RFC 9113 section 8.1).
            req.headers().remove(HttpHeaderNames.EXPECT);
            ctx.writeAndFlush(new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.CONTINUE,
                    Unpooled.EMPTY_BUFFER));
        }
        current = new Exchange(this, px, timeouts, scheme, req);
        current.start();
        if (msg instanceof HttpContent c) {
            current.request().content(c);
        }
    }

    /**
     * What Netty's conversion adds for its own use ({@code x-http2-*}) does not travel on, nor do
     * connection-specific fields (RFC 9113 section 8.2.2 makes a request carrying them malformed;
     * Netty's validation refuses most), so an HTTP/2 request never asks the origin to upgrade or
     * to close anything.
     */
    private static void stripConnectionHeaders(HttpHeaders h) {
        List<String> ours = new ArrayList<>();
        for (Map.Entry<String, String> e : h) {
            if (e.getKey().regionMatches(true, 0, "x-http2-", 0, 8)) {
                ours.add(e.getKey());
            }
        }
        ours.forEach(h::remove);
        h.remove(HttpHeaderNames.CONNECTION);
        h.remove(HttpHeaderNames.UPGRADE);
        h.remove("keep-alive");
        h.remove("proxy-connection");
    }

    /** Answers a request that goes nowhere; the stream ends (reset if the client still sends). */
    private void refuse(HttpRequest req, HttpResponseStatus status, String message, boolean head) {
        RequestTrace.refused(px, this, req, scheme, status.code());
        px.stats().error(status.code());
        ctx.writeAndFlush(ErrorAnswer.of(status, message, head, true)).addListener(ChannelFutureListener.CLOSE);
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof Http2ResetFrame rst) {
            // The client cancelled the stream: the tunnel stream is reset (clientGone, on close).
            log.debug("client reset stream {} ({})", ctx.channel(), rst.errorCode());
            ctx.close();
        }
        ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (current != null) {
            current.clientGone();
        }
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        // A malformed frame sequence or header conversion error (a stream error): this stream ends.
        log.debug("HTTP/2 stream {} failed: {}", ctx.channel(), cause.toString());
        ctx.close();
    }

    // ---- ExchangeConnection -------------------------------------------------------------------

    @Override
    public ChannelHandlerContext ctx() {
        return ctx;
    }

    @Override
    public String protocol(HttpRequest request) {
        return "HTTP/2.0";
    }

    @Override
    public void read() {
        ctx.read();
    }

    @Override
    public void flushLater() {
        if (!flushPending) {
            flushPending = true;
            ctx.executor().execute(() -> {
                flushPending = false;
                ctx.flush();
            });
        }
    }

    @Override
    public void noMoreRequests() {
        // One request per stream anyway.
    }

    @Override
    public void exchangeDone(Exchange e, boolean keepAlive) {
        current = null;
        if (!keepAlive) {
            ctx.close();
        }
        // Otherwise both ends of the stream ended, and Netty closes the child channel.
    }

    @Override
    public void settleOn(TunnelSession session, Runnable then) {
        then.run(); // streams of one connection go to many tunnels: no loop is the right one
    }

    @Override
    public void switchedProtocols() {
        // Never: HTTP/2 requests carry no Upgrade (removed above).
    }
}
