package io.spdyproxy.spdy;

import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.spdy.SpdyDataFrame;
import io.netty.handler.codec.spdy.SpdyGoAwayFrame;
import io.netty.handler.codec.spdy.SpdyHeaders;
import io.netty.handler.codec.spdy.SpdyHeadersFrame;
import io.netty.handler.codec.spdy.SpdyPingFrame;
import io.netty.handler.codec.spdy.SpdyRstStreamFrame;
import io.netty.handler.codec.spdy.SpdySettingsFrame;
import io.netty.handler.codec.spdy.SpdySynReplyFrame;
import io.netty.handler.codec.spdy.SpdySynStreamFrame;
import io.netty.handler.codec.spdy.SpdyWindowUpdateFrame;
import io.netty.util.ReferenceCountUtil;

/**
 * Frames from the peer, as decoded by {@link SpdyCodec}: checks each against the stream it names
 * and the abuse limits, delivers header blocks and data to the stream listeners, and hands the
 * session-level frames to their parts (SETTINGS and GOAWAY to {@link SessionLifecycle}, PING to
 * {@link Keepalive}, WINDOW_UPDATE to {@link SendFlow}). A bad frame on a stream resets that stream
 * with the SPDY/3 status for it; one that breaks the session ends it.
 *
 * <p>Threading: confined to the session's event loop (Netty calls {@link SessionHandler} there);
 * the counters are read anywhere.
 */
final class InboundFrames {
    /** The frames that carry a stream's header blocks or data, each checked by {@link #streamFor}. */
    private enum Kind {
        DATA("DATA"),
        SYN_REPLY("SYN_REPLY"),
        HEADERS("HEADERS");

        final String afterFin;
        final String beforeReply;

        Kind(String name) {
            this.afterFin = name + " after the peer's FIN";
            this.beforeReply = name + " before SYN_REPLY";
        }
    }

    private final SpdySession session;
    private final AbuseGuard guard;
    private volatile long framesReceived;
    private volatile long dataBytesReceived;

    InboundFrames(SpdySession session, AbuseGuard guard) {
        this.session = session;
        this.guard = guard;
    }

    long framesReceived() {
        return framesReceived;
    }

    long dataBytesReceived() {
        return dataBytesReceived;
    }

    void frameRead(Object msg) {
        framesReceived++;
        session.keepalive.frameReceived();
        session.lifecycle.frameReceived();
        if (session.lifecycle.isClosing()) {
            ReferenceCountUtil.release(msg);
            return;
        }
        if (msg instanceof SpdyDataFrame f) {
            onData(f);
        } else if (msg instanceof SpdySynStreamFrame f) {
            onSynStream(f);
        } else if (msg instanceof SpdySynReplyFrame f) {
            onSynReply(f);
        } else if (msg instanceof SpdyHeadersFrame f) {
            onHeaders(f);
        } else if (msg instanceof SpdyRstStreamFrame f) {
            onRst(f);
        } else if (msg instanceof SpdySettingsFrame f) {
            session.lifecycle.onSettings(f);
        } else if (msg instanceof SpdyPingFrame f) {
            session.keepalive.onPing(f);
        } else if (msg instanceof SpdyGoAwayFrame f) {
            session.lifecycle.onGoAway(f);
        } else if (msg instanceof SpdyWindowUpdateFrame f) {
            session.send.onWindowUpdate(f);
        } else {
            ReferenceCountUtil.release(msg);
        }
    }

    /**
     * The open stream a DATA, SYN_REPLY or HEADERS frame names, when that frame may arrive on it
     * now (SPDY/3 sections 2.3 and 2.6); otherwise null, once the frame was answered: an id that
     * never existed with RST_STREAM INVALID_STREAM, a stream we closed or reset not at all (frames
     * in flight are dropped quietly), a frame out of order by resetting its stream. {@code data}
     * (DATA only, else null) is released on refusal, and its session window credited at once.
     */
    private SpdyStream streamFor(int id, Kind kind, ByteBuf data) {
        SpdyStream s = session.streams.get(id);
        if (s == null) {
            drop(data);
            if (!session.streams.isKnownId(id)) {
                session.writer.rst(id, SpdyError.INVALID_STREAM);
            }
            return null;
        }
        SpdyError error = null;
        String why = null;
        if (kind == Kind.SYN_REPLY && !s.isLocal()) {
            error = SpdyError.PROTOCOL_ERROR;
            why = "SYN_REPLY on a stream the peer opened";
        } else if (kind == Kind.SYN_REPLY && !s.awaitingReply()) {
            error = SpdyError.STREAM_IN_USE;
            why = "second SYN_REPLY";
        } else if (!s.canReceiveRemote()) {
            error = SpdyError.STREAM_ALREADY_CLOSED;
            why = kind.afterFin;
        } else if (kind != Kind.SYN_REPLY && s.awaitingReply()) {
            error = SpdyError.PROTOCOL_ERROR;
            why = kind.beforeReply;
        }
        if (error != null) {
            drop(data);
            session.streams.reset(s, error, why);
            return null;
        }
        return s;
    }

    /** DATA that will not be delivered: released, and its session window credited at once. */
    private void drop(ByteBuf data) {
        if (data != null) {
            int len = data.readableBytes();
            data.release();
            session.receive.consume(null, len);
        }
    }

    private void onData(SpdyDataFrame f) {
        ByteBuf data = f.content();
        int len = data.readableBytes();
        boolean fin = f.isLast();
        dataBytesReceived += len;
        String abuse = guard.onDataFrame(len, fin);
        if (abuse != null) {
            data.release();
            session.lifecycle.sessionError(SpdyError.PROTOCOL_ERROR, abuse);
            return;
        }
        String sessionOverrun = session.receive.sessionDataReceived(len);
        if (sessionOverrun != null) {
            data.release();
            session.lifecycle.sessionError(SpdyError.FLOW_CONTROL_ERROR, sessionOverrun);
            return;
        }
        SpdyStream s = streamFor(f.streamId(), Kind.DATA, data);
        if (s == null) {
            return;
        }
        String streamOverrun = session.receive.streamDataReceived(s, len, fin);
        if (streamOverrun != null) {
            drop(data);
            session.streams.reset(s, SpdyError.FLOW_CONTROL_ERROR, streamOverrun);
            return;
        }
        try {
            s.listener().onData(s, data, fin);
        } catch (Exception e) {
            session.streams.listenerFailed(s, e);
            return;
        }
        if (fin) {
            session.streams.remoteEnded(s);
        }
    }

    private void onSynStream(SpdySynStreamFrame f) {
        int id = f.streamId();
        if (session.config.role().isLocal(id)) {
            session.writer.rst(id, SpdyError.PROTOCOL_ERROR);
            return;
        }
        SpdyStream existing = session.streams.get(id);
        if (existing != null) {
            session.streams.reset(existing, SpdyError.PROTOCOL_ERROR, "duplicate SYN_STREAM");
            return;
        }
        int highest = session.streams.highestRemoteId();
        switch (session.streams.remoteId(id)) {
            case NEW -> { }
            case NOT_ABOVE_LAST -> {
                session.lifecycle.sessionError(SpdyError.PROTOCOL_ERROR,
                        "SYN_STREAM id " + id + " not above last id " + highest);
                return;
            }
            case REUSED, TOO_OLD -> {
                // A legacy peer's out-of-order id that is not new: only this stream is refused.
                session.writer.rst(id, SpdyError.PROTOCOL_ERROR);
                return;
            }
        }
        if (isInvalid(f)) {
            session.writer.rst(id, SpdyError.PROTOCOL_ERROR);
            return;
        }
        if (session.lifecycle.state() != SpdySession.State.ACTIVE || session.streams.remoteAtLimit()) {
            session.writer.rst(id, SpdyError.REFUSED_STREAM);
            return;
        }
        SpdyStream s = session.streams.openRemote(id, f.priority());
        SpdyStreamListener l;
        try {
            l = session.listener.onStream(s, f.headers());
        } catch (Exception e) {
            SpdySession.log.warn("onStream listener failed", e);
            l = null;
        }
        if (l == null) {
            session.streams.reset(s, SpdyError.REFUSED_STREAM, "refused by the application");
            return;
        }
        s.attach(l);
        boolean fin = f.isLast();
        if (fin) {
            s.remoteEnded(); // from OPEN: half-closed, never closed
        }
        try {
            l.onHeaders(s, f.headers(), fin);
        } catch (Exception e) {
            session.streams.listenerFailed(s, e);
        }
    }

    private void onSynReply(SpdySynReplyFrame f) {
        SpdyStream s = streamFor(f.streamId(), Kind.SYN_REPLY, null);
        if (s == null) {
            return;
        }
        if (isInvalid(f)) {
            session.streams.reset(s, SpdyError.PROTOCOL_ERROR, "invalid or oversized reply headers");
            return;
        }
        s.replyReceived();
        deliverHeaders(s, f.headers(), f.isLast());
    }

    private void onHeaders(SpdyHeadersFrame f) {
        SpdyStream s = streamFor(f.streamId(), Kind.HEADERS, null);
        if (s == null) {
            return;
        }
        if (isInvalid(f)) {
            session.streams.reset(s, SpdyError.PROTOCOL_ERROR, "invalid or oversized headers");
            return;
        }
        deliverHeaders(s, f.headers(), f.isLast());
    }

    /** A header block the codec could not decode whole, or with more names than we take. */
    private boolean isInvalid(SpdyHeadersFrame f) {
        return f.isInvalid() || f.isTruncated() || f.headers().names().size() > session.config.maxHeaderCount();
    }

    private void deliverHeaders(SpdyStream s, SpdyHeaders headers, boolean fin) {
        s.receivedHeaders(fin);
        try {
            s.listener().onHeaders(s, headers, fin);
        } catch (Exception e) {
            session.streams.listenerFailed(s, e);
            return;
        }
        if (fin) {
            session.streams.remoteEnded(s);
        }
    }

    /** Never answered with a frame of ours, whatever stream it names (SPDY/3 section 2.4.2). */
    private void onRst(SpdyRstStreamFrame f) {
        SpdyStream s = session.streams.get(f.streamId());
        // Rapid reset is resetting a stream before its answer started; anything else is cheap.
        boolean unanswered = s != null && s.isUnanswered();
        long sent = session.writer.framesSent();
        String abuse = unanswered ? guard.onLiveReset(sent) : guard.onStaleReset(sent);
        if (abuse != null) {
            session.lifecycle.sessionError(SpdyError.PROTOCOL_ERROR, abuse);
            return;
        }
        if (s == null) {
            return;
        }
        SpdyError error = SpdyError.ofRstCode(f.status().code());
        boolean retryable = error == SpdyError.REFUSED_STREAM && s.awaitingReply();
        session.streams.remove(s, new SpdyStreamException(error, retryable, false,
                "stream reset by peer: " + f.status()));
    }
}
