package io.spdyproxy.spdy;

import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.spdy.SpdyHeaders;
import io.netty.handler.codec.spdy.SpdyWindowUpdateFrame;
import java.util.ArrayDeque;

/**
 * The send side of a {@link SpdySession}: the streams' send queues drained into DATA and HEADERS
 * frames by priority ({@link WriteScheduler}) while the connection is writable, within the stream
 * and session send windows the peer grants (SPDY/3.1 section 2.6.8), plus the legacy allowance
 * ({@link WindowOverrun}) towards a legacy origin. Streams with window but no session window wait
 * in a queue of their own until a stream-0 WINDOW_UPDATE.
 *
 * <p>Threading: confined to the session's event loop, except {@link #writeLimit} (any thread) and
 * {@link #dataBytesSent()} (read anywhere).
 */
final class SendFlow {
    private static final int MAX_WINDOW = Integer.MAX_VALUE;

    private final SpdySession session;
    private final SpdySessionConfig config;
    private final SendBudget budget;
    /** How far our send windows may run past zero (towards a legacy origin). */
    private final WindowOverrun overrun;
    private final WriteScheduler scheduler = new WriteScheduler();
    private final ArrayDeque<SpdyStream> sessionBlocked = new ArrayDeque<>();
    private int peerInitialWindow = SpdySessionConfig.DEFAULT_WINDOW;
    private int sessionWindow = SpdySessionConfig.DEFAULT_WINDOW;
    private boolean writing;
    private volatile long dataBytesSent;

    SendFlow(SpdySession session) {
        this.session = session;
        this.config = session.config;
        this.budget = session.budget;
        this.overrun = config.newSendOverrun();
    }

    long dataBytesSent() {
        return dataBytesSent;
    }

    /**
     * The send window of a new stream. A legacy origin never grants window for request bodies
     * (PROTOCOL.md): towards it the window may run past zero as {@link #overrun} allows.
     */
    int initialWindow() {
        return peerInitialWindow;
    }

    /** A stream's queue bound: its send window (plus any legacy allowance), at most the per-stream cap. */
    long writeLimit(int sendWindow) {
        return Math.max(1, Math.min(overrun.ownRoom(sendWindow), config.maxStreamQueuedBytes()));
    }

    /** A producer went past the session's hard limit: its chunk is dropped and its stream reset. */
    void refuseData(SpdyStream stream, ByteBuf data) {
        stream.dequeued(data.readableBytes());
        data.release();
        session.streams.reset(stream, SpdyError.INTERNAL_ERROR, "send queue over the session's hard limit of "
                + budget.hardLimit() + " bytes: the producer ignored isWritable()");
        budget.wakeIfOpen();
    }

    void sendHeaders(SpdyStream stream, SpdyHeaders headers, boolean endOfStream) {
        if (!stream.acceptsOutbound()) {
            return; // reset or already ended: nothing to say any more
        }
        String bad = HeaderLimits.invalid(headers, config.maxHeaderBlockSize());
        if (bad != null) {
            SpdySession.log.warn("stream {}: {}", stream.id(), bad);
            session.streams.reset(stream, SpdyError.INTERNAL_ERROR, bad);
            return;
        }
        if (stream.replyPending()) {
            stream.replySent();
            session.writer.synReply(stream.id(), endOfStream, headers);
            if (endOfStream) {
                session.streams.localEnded(stream);
            }
            return;
        }
        if (config.legacyPeer()) {
            // The original library panics on HEADERS: trailers are dropped, the end is kept.
            if (endOfStream) {
                sendData(stream, session.channel.alloc().buffer(0), true);
            }
            return;
        }
        stream.enqueue(headers, endOfStream);
        schedule(stream);
        writePending();
    }

    void sendData(SpdyStream stream, ByteBuf data, boolean endOfStream) {
        if (!stream.acceptsOutbound()) {
            stream.dequeued(data.readableBytes());
            data.release();
            budget.wakeIfOpen();
            return;
        }
        if (stream.replyPending()) {
            stream.dequeued(data.readableBytes());
            data.release();
            session.streams.reset(stream, SpdyError.INTERNAL_ERROR, "data sent before the reply headers");
            budget.wakeIfOpen();
            return;
        }
        stream.enqueue(data, endOfStream);
        schedule(stream);
        writePending();
        budget.wakeIfOpen();
    }

    private void schedule(SpdyStream stream) {
        if (stream.markReady()) {
            scheduler.add(stream);
        }
    }

    /**
     * Moves queued stream data to the connection while it is writable: one frame per turn, by
     * priority, within min(stream, session) window. Never flushes; the caller's batch does.
     */
    void writePending() {
        if (writing || !session.writer.isAttached()) {
            return;
        }
        writing = true;
        try {
            SpdyStream s;
            while (session.channel.isWritable() && (s = scheduler.poll()) != null) {
                s.markIdle();
                if (!s.canSendLocal()) {
                    continue;
                }
                SpdyStream.Pending head = s.peekQueued();
                if (head == null) {
                    continue;
                }
                if (head.payload() instanceof SpdyHeaders h) {
                    s.dropQueuedHead();
                    session.writer.headers(s.id(), head.endOfStream(), h);
                    if (head.endOfStream()) {
                        session.streams.localEnded(s);
                        continue;
                    }
                } else if (!writeData(s, (ByteBuf) head.payload(), head.endOfStream())) {
                    continue;
                }
                if (s.hasQueued() && s.canSendLocal()) {
                    schedule(s);
                }
            }
        } finally {
            writing = false;
        }
        budget.wakeIfOpen();
    }

    /**
     * Cuts one DATA frame off the head of {@code s}'s queue. False when the stream is done for
     * this round: out of window (parked), or its FIN went out.
     */
    private boolean writeData(SpdyStream s, ByteBuf data, boolean endOfStream) {
        int len = data.readableBytes();
        int window = (int) Math.min(overrun.room(s.sendWindow()),
                config.sessionFlowControl() ? sessionWindow : MAX_WINDOW);
        if (len > 0 && window <= 0) {
            if (overrun.ownRoom(s.sendWindow()) > 0) {
                // The stream has window, the session (or the legacy allowance) not.
                s.markSessionBlocked();
                sessionBlocked.add(s);
            }
            return false; // else parked until the stream's WINDOW_UPDATE
        }
        // An empty frame (a bare FIN) uses no window and goes out even when it is negative.
        int n = len == 0 ? 0 : Math.min(len, Math.min(window, config.maxFrameSize()));
        boolean last = n == len;
        ByteBuf payload = last ? data : data.readRetainedSlice(n);
        if (last) {
            s.dropQueuedHead();
        }
        boolean fin = last && endOfStream;
        session.writer.data(s.id(), payload, fin);
        sessionWindow -= n;
        dataBytesSent += n;
        s.dataSent(n, overrun); // may call the producer back, which may queue more
        if (fin) {
            session.streams.localEnded(s);
            return false;
        }
        return true;
    }

    /** The connection drained below its low-water mark: queued data moves on. */
    void writabilityChanged() {
        if (session.channel.isWritable()) {
            writePending(); // which wakes producers that found the session unwritable
            session.writer.flushSoon();
        }
    }

    /** WINDOW_UPDATE from the peer: for one stream, or for the session (stream 0). */
    void onWindowUpdate(SpdyWindowUpdateFrame f) {
        int id = f.streamId();
        int delta = f.deltaWindowSize();
        if (id == 0) {
            if (!config.sessionFlowControl()) {
                return; // SPDY/3 has no session window
            }
            long w = (long) sessionWindow + delta;
            if (w > MAX_WINDOW) {
                session.lifecycle.sessionError(SpdyError.FLOW_CONTROL_ERROR, "session window overflow");
                return;
            }
            boolean wasBlocked = sessionWindow <= 0;
            sessionWindow = (int) w;
            if (wasBlocked && sessionWindow > 0) {
                unblockSessionBlocked();
            }
            writePending();
            return;
        }
        SpdyStream s = session.streams.get(id);
        if (s == null) {
            return; // for a stream that already ended: harmless (SPDY/3 section 2.6.8)
        }
        if (!s.moveSendWindow(delta, overrun)) {
            session.streams.reset(s, SpdyError.FLOW_CONTROL_ERROR, "stream window overflow");
            return;
        }
        if (s.hasQueued()) {
            schedule(s);
            writePending();
        }
        s.notifyWritability();
    }

    /**
     * SETTINGS changed the peer's INITIAL_WINDOW_SIZE. SPDY/3 section 2.6.8: every open stream's
     * window moves by the delta, and may go negative; a stream then waits until WINDOW_UPDATEs
     * bring it above zero.
     */
    void initialWindowChanged(int value) {
        int delta = value - peerInitialWindow;
        peerInitialWindow = value;
        if (delta == 0) {
            return;
        }
        for (SpdyStream s : session.streams.snapshot()) {
            if (!s.moveSendWindow(delta, overrun)) {
                session.streams.reset(s, SpdyError.FLOW_CONTROL_ERROR, "window overflow by SETTINGS");
                continue;
            }
            if (delta > 0 && s.hasQueued()) {
                schedule(s);
            }
            s.notifyWritability();
        }
        writePending();
    }

    /** {@code s} is gone: what it ran past its window is free again for the others. */
    void released(SpdyStream s) {
        if (overrun.released(s.sendWindow()) && !sessionBlocked.isEmpty()) {
            unblockSessionBlocked(); // its legacy allowance is free for the others
            writePending();
        }
    }

    /** The session closed: nothing waits for window any more. */
    void closed() {
        sessionBlocked.clear();
    }

    /** Streams that waited for the session's window (or legacy allowance) get their turn again. */
    private void unblockSessionBlocked() {
        SpdyStream s;
        while ((s = sessionBlocked.poll()) != null) {
            s.markIdle();
            schedule(s);
        }
    }
}
