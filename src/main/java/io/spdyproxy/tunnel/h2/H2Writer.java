package io.spdyproxy.tunnel.h2;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.DefaultHttp2ResetFrame;
import io.netty.handler.codec.http2.DefaultHttp2WindowUpdateFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2FrameStream;
import io.netty.handler.codec.http2.Http2Headers;

/**
 * Writes the tunnel's frames into the codec (which encodes them and applies the remote flow
 * control) and coalesces flushes: one per read batch, or one per loop task outside reads, so a
 * producer writing many chunks in one task costs one syscall.
 *
 * <p>Threading: confined to the channel's event loop.
 */
final class H2Writer {
    private final ChannelHandlerContext ctx;
    private boolean inRead;
    private boolean flushPending;

    H2Writer(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    ChannelFuture headers(Http2FrameStream stream, Http2Headers h, boolean endOfStream) {
        return write(new DefaultHttp2HeadersFrame(h, endOfStream).stream(stream));
    }

    ChannelFuture data(Http2FrameStream stream, ByteBuf data, boolean endOfStream) {
        return write(new DefaultHttp2DataFrame(data, endOfStream).stream(stream));
    }

    void reset(Http2FrameStream stream, Http2Error error) {
        write(new DefaultHttp2ResetFrame(error).stream(stream));
    }

    /** Returns {@code bytes} of the stream's (and the connection's) receive window to the peer. */
    void windowUpdate(Http2FrameStream stream, int bytes) {
        write(new DefaultHttp2WindowUpdateFrame(bytes).stream(stream));
    }

    ChannelFuture write(Object frame) {
        ChannelFuture f = ctx.write(frame);
        flushSoon();
        return f;
    }

    void readStarted() {
        inRead = true;
    }

    void readComplete() {
        inRead = false;
        if (flushPending) {
            flushPending = false;
            ctx.flush();
        }
    }

    private void flushSoon() {
        if (inRead) {
            flushPending = true; // readComplete flushes
            return;
        }
        if (!flushPending) {
            flushPending = true;
            ctx.executor().execute(() -> {
                flushPending = false;
                ctx.flush();
            });
        }
    }
}
