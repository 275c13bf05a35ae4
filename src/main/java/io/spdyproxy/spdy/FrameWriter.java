package io.spdyproxy.spdy;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.spdy.DefaultSpdyHeadersFrame;
import io.netty.handler.codec.spdy.DefaultSpdyRstStreamFrame;
import io.netty.handler.codec.spdy.DefaultSpdySynReplyFrame;
import io.netty.handler.codec.spdy.DefaultSpdySynStreamFrame;
import io.netty.handler.codec.spdy.DefaultSpdyWindowUpdateFrame;
import io.netty.handler.codec.spdy.SpdyFrame;
import io.netty.handler.codec.spdy.SpdyHeaders;
import io.netty.handler.codec.spdy.SpdyHeadersFrame;

/**
 * The outbound half of a {@link SpdySession}'s framing: turns what the session decided into frames
 * on the channel and coalesces flushes. DATA goes past Netty's encoder as an 8-byte header plus the
 * caller's buffer (no copy); header blocks go through our own encoder ({@link StoredHeaderFrames})
 * unless header compression is on. Frames the peer provoked (RST_STREAM, PING answers) count
 * against the control-frame flood limit of {@link AbuseGuard}.
 *
 * <p>Threading: confined to the session's event loop; only {@link #framesSent()} is read anywhere.
 */
final class FrameWriter {
    private final SpdySession session;
    private final AbuseGuard guard;
    /** Our own header-frame encoder when header compression is off (the default); else Netty's. */
    private final StoredHeaderFrames storedHeaders;

    private ChannelHandlerContext ctx;
    private boolean inRead;
    private boolean flushNeeded;
    private boolean flushScheduled;
    private volatile long framesSent;

    FrameWriter(SpdySession session, AbuseGuard guard) {
        this.session = session;
        this.guard = guard;
        this.storedHeaders = session.config.compressHeaders() ? null : new StoredHeaderFrames();
    }

    void attach(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    /** False until the session's handler is in the pipeline: nothing can be written before. */
    boolean isAttached() {
        return ctx != null;
    }

    long framesSent() {
        return framesSent;
    }

    void synStream(int id, byte priority, boolean last, SpdyHeaders headers) {
        write(storedHeaders != null ? storedHeaders.synStream(ctx.alloc(), id, priority, last, headers)
                : withHeaders(new DefaultSpdySynStreamFrame(id, 0, priority, false), headers, last));
    }

    /** The reply to a stream the peer opened (SPDY/3 section 2.6.2). */
    void synReply(int id, boolean last, SpdyHeaders headers) {
        write(storedHeaders != null ? storedHeaders.synReply(ctx.alloc(), id, last, headers)
                : withHeaders(new DefaultSpdySynReplyFrame(id, false), headers, last));
    }

    void headers(int id, boolean last, SpdyHeaders headers) {
        write(storedHeaders != null ? storedHeaders.headers(ctx.alloc(), id, last, headers)
                : withHeaders(new DefaultSpdyHeadersFrame(id, false), headers, last));
    }

    void data(int streamId, ByteBuf payload, boolean fin) {
        // SPDY/3 section 2.2.2: stream id (31 bits), flags, 24-bit length, then the payload as is.
        ByteBuf header = ctx.alloc().ioBuffer(8);
        header.writeInt(streamId & 0x7FFFFFFF);
        header.writeByte(fin ? 0x01 : 0x00);
        header.writeMedium(payload.readableBytes());
        ctx.write(header, ctx.voidPromise());
        ctx.write(payload, ctx.voidPromise());
        framesSent++;
        flushNeeded = true;
    }

    void windowUpdate(int streamId, int delta) {
        write(new DefaultSpdyWindowUpdateFrame(streamId, delta));
    }

    /** A RST_STREAM: counted as a control frame, since a peer can provoke any number of them. */
    void rst(int streamId, SpdyError error) {
        control(new DefaultSpdyRstStreamFrame(streamId, error.rstStatus()));
    }

    /** Writes a frame the peer provoked, counted against the control-frame flood limit. */
    void control(SpdyFrame frame) {
        if (ctx == null || session.lifecycle.state() == SpdySession.State.CLOSED) {
            return;
        }
        String flood = guard.onControlFrameQueued();
        if (flood != null) {
            guard.onControlFrameWritten();
            session.lifecycle.sessionError(SpdyError.PROTOCOL_ERROR, flood);
            return;
        }
        ctx.write(frame).addListener(f -> guard.onControlFrameWritten());
        framesSent++;
        flushNeeded = true;
    }

    /** A frame for Netty's encoder, or one we encoded ourselves (a ByteBuf passes through). */
    void write(Object frame) {
        ctx.write(frame, ctx.voidPromise());
        framesSent++;
        flushNeeded = true;
    }

    /** {@code frame} carrying {@code headers}, for Netty's encoder (header compression on). */
    private static SpdyHeadersFrame withHeaders(SpdyHeadersFrame frame, SpdyHeaders headers, boolean last) {
        frame.headers().set(headers);
        frame.setLast(last);
        return frame;
    }

    // Flush coalescing: once per read batch, or once per round of loop tasks.

    void readStarted() {
        inRead = true;
    }

    /** The read batch ended: what it made sendable goes out, then one flush for all of it. */
    void readComplete() {
        inRead = false;
        session.send.writePending();
        flushNow();
    }

    void flushSoon() {
        if (!flushNeeded || inRead || flushScheduled || ctx == null) {
            return;
        }
        flushScheduled = true;
        session.loop.execute(this::flushNow);
    }

    private void flushNow() {
        flushScheduled = false;
        if (flushNeeded && ctx != null) {
            flushNeeded = false;
            ctx.flush();
        }
    }

    /** Flushes at once, whatever the batch (the first SETTINGS, or the last frames before a close). */
    void flush() {
        if (ctx != null) {
            flushNeeded = false;
            ctx.flush();
        }
    }
}
