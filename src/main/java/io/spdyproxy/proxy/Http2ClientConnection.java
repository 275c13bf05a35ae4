package io.spdyproxy.proxy;

import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http2.DefaultHttp2GoAwayFrame;
import io.netty.handler.codec.http2.DefaultHttp2WindowUpdateFrame;
import io.netty.handler.codec.http2.Http2Connection;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One HTTP/2 client connection as a whole (its streams are {@link Http2StreamExchange}s): counts
 * its open streams, so that a connection without any cannot hold resources forever (the request
 * head timeout runs until its first stream, the idle timeout whenever none is open), widens the
 * connection's receive window, and drains on a graceful shutdown: GOAWAY (RFC 9113 section 6.8)
 * with the last stream taken, in-flight streams finish, then the connection closes.
 *
 * <p>Threading: confined to the connection's event loop (child channels share it).
 */
final class Http2ClientConnection extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(Http2ClientConnection.class);

    enum State {
        /** Taking new streams. */
        OPEN,
        /** GOAWAY sent: the open streams finish, then the connection closes. */
        DRAINING,
        CLOSED
    }

    private final ProxyContext px;
    private final boolean counted;
    private ChannelHandlerContext ctx;
    private State state = State.OPEN;
    /**
     * The streams' channels. A child channel whose stream ended while frames still wait in it
     * unread (auto-read is off) stays open until read; when the connection goes, they are closed
     * here, which releases those frames and tells each exchange that its client is gone.
     */
    private final Set<Http2StreamChannel> streams = new HashSet<>();
    private int openStreams;
    private boolean hadStream;
    private ScheduledFuture<?> timer;

    Http2ClientConnection(ProxyContext px, boolean counted) {
        this.px = px;
        this.counted = counted;
    }

    State state() {
        return state;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        if (!counted) {
            px.stats().connectionOpened();
        }
        widenConnectionWindow();
        arm();
    }

    private void widenConnectionWindow() {
        Http2FrameCodec codec = ctx.pipeline().get(Http2FrameCodec.class);
        Http2Connection c = codec.connection();
        int delta = Http2Frontend.CONNECTION_WINDOW - c.local().flowController().windowSize(c.connectionStream());
        if (delta > 0) {
            ctx.writeAndFlush(new DefaultHttp2WindowUpdateFrame(delta));
        }
    }

    /** A stream's child channel was set up (on this loop). */
    void streamOpened(Http2StreamChannel ch) {
        openStreams++;
        streams.add(ch);
        hadStream = true;
        cancel();
        ch.closeFuture().addListener(f -> streamClosed(ch));
    }

    private void streamClosed(Http2StreamChannel ch) {
        streams.remove(ch);
        openStreams--;
        if (openStreams == 0) {
            if (state == State.DRAINING) {
                close();
            } else {
                arm();
            }
        }
    }

    /** Graceful shutdown: no new streams, the open ones finish, then the connection closes. */
    void drain() {
        if (state != State.OPEN || !ctx.channel().isActive()) {
            return;
        }
        state = State.DRAINING;
        cancel();
        ctx.writeAndFlush(new DefaultHttp2GoAwayFrame(Http2Error.NO_ERROR));
        if (openStreams == 0) {
            close();
        }
    }

    private void arm() {
        cancel();
        if (state != State.OPEN || !ctx.channel().isActive()) {
            return;
        }
        long nanos = (hadStream ? px.config().idleTimeout() : px.config().requestHeadTimeout()).toNanos();
        timer = ctx.executor().schedule(this::expired, nanos, TimeUnit.NANOSECONDS);
    }

    private void cancel() {
        if (timer != null) {
            timer.cancel(false);
            timer = null;
        }
    }

    private void expired() {
        timer = null;
        if (openStreams == 0 && state == State.OPEN) {
            log.debug("HTTP/2 client {}: no stream open in time; closing", ctx.channel().remoteAddress());
            state = State.DRAINING;
            ctx.writeAndFlush(new DefaultHttp2GoAwayFrame(Http2Error.NO_ERROR))
                    .addListener(ChannelFutureListener.CLOSE);
        }
    }

    private void close() {
        state = State.CLOSED;
        // After the GOAWAY and the last stream's frames: close once they are written.
        ctx.writeAndFlush(io.netty.buffer.Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        state = State.CLOSED;
        cancel();
        for (Http2StreamChannel ch : List.copyOf(streams)) {
            ch.close();
        }
        px.stats().connectionClosed();
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        log.debug("HTTP/2 client {} failed: {}", ctx.channel().remoteAddress(), cause.toString());
        ctx.close();
    }
}
