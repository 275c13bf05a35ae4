package io.spdyproxy.spdy;

/**
 * The receive side of a {@link SpdySession}'s flow control (SPDY/3.1 section 2.6.8): checks
 * inbound DATA against the stream and session windows we granted, and grants more only once the
 * application consumed the bytes: a stream WINDOW_UPDATE once half the stream's window is consumed
 * (plus any growth {@link ReceiveWindowTuner} allows), a stream-0 one once half the session window
 * is. So what the peer can make us buffer is bounded by the windows, and a stalled stream stops
 * only itself. Towards a legacy peer the windows may be overrun within {@link WindowOverrun}.
 *
 * <p>Threading: confined to the session's event loop.
 */
final class ReceiveFlow {
    private final SpdySession session;
    private final SpdySessionConfig config;
    /** How far the peer may run past our windows (a legacy peer ignores them for request bodies). */
    private final WindowOverrun overrun;
    private final ReceiveWindowTuner tuner;
    private int sessionWindow;
    /** Consumed at the session level and not yet granted back. */
    private int sessionUnacked;

    ReceiveFlow(SpdySession session) {
        this.session = session;
        this.config = session.config;
        this.overrun = config.newReceiveOverrun();
        this.tuner = new ReceiveWindowTuner(config);
        this.sessionWindow = config.sessionFlowControl() ? config.sessionWindow() : SpdySessionConfig.DEFAULT_WINDOW;
    }

    /** At the session's start: the session window past the default is granted in one WINDOW_UPDATE. */
    void start() {
        if (config.sessionFlowControl() && config.sessionWindow() > SpdySessionConfig.DEFAULT_WINDOW) {
            session.writer.windowUpdate(0, config.sessionWindow() - SpdySessionConfig.DEFAULT_WINDOW);
        }
    }

    /**
     * DATA of {@code len} bytes arrived: takes it off the session window. Returns why the peer
     * exceeded it (a session error), or null.
     */
    String sessionDataReceived(int len) {
        if (config.sessionFlowControl()) {
            sessionWindow -= len;
            if (sessionWindow < 0) {
                return "session window exceeded by " + (-sessionWindow) + " bytes";
            }
        }
        return null;
    }

    /**
     * DATA of {@code len} bytes arrived on {@code s}: takes it off the stream's window. Returns why
     * it does not fit (the stream is reset), or null.
     */
    String streamDataReceived(SpdyStream s, int len, boolean fin) {
        int window = s.receiveWindow().window();
        if (len > overrun.room(window)) {
            return len > overrun.ownRoom(window)
                    ? "stream window exceeded by " + (len - (long) window) + " bytes"
                    : "legacy allowance of the session used up: " + overrun.total() + " bytes past the windows";
        }
        s.receivedData(len, fin, overrun);
        return null;
    }

    /**
     * {@code bytes} of {@code stream}'s data were used ({@code stream} null: data never delivered,
     * whose session credit returns at once). Grants window once half of it is consumed.
     */
    void consume(SpdyStream stream, int bytes) {
        if (session.lifecycle.state() == SpdySession.State.CLOSED) {
            return;
        }
        if (stream == null || stream.receiveWindow().consumed(bytes)) {
            sessionConsumed(bytes);
        }
        if (stream != null && stream.expectsData()) {
            ReceiveWindow w = stream.receiveWindow();
            int due = w.creditDue(bytes);
            if (due > 0) {
                int credit = due + tuner.growth(w);
                w.granted(credit, overrun);
                session.writer.windowUpdate(stream.id(), credit);
            }
        }
    }

    private void sessionConsumed(long bytes) {
        if (!config.sessionFlowControl() || bytes <= 0) {
            return;
        }
        sessionUnacked += (int) bytes;
        if (sessionUnacked >= config.sessionWindow() / 2) {
            sessionWindow += sessionUnacked;
            session.writer.windowUpdate(0, sessionUnacked);
            sessionUnacked = 0;
        }
    }

    /** {@code s} left the session: what it ran past its window is free again. */
    void windowReleased(SpdyStream s) {
        overrun.released(s.receiveWindow().window());
    }

    /** {@code s} is gone: its window growth returns to the session's budget. */
    void growthReleased(SpdyStream s) {
        tuner.released(s.receiveWindow());
    }

    /**
     * {@code s} is gone. Bytes delivered but never consumed would shrink the session window for
     * good if the application forgets them once the stream is gone: they are returned now, and
     * later consume() calls for this stream are ignored at the session level.
     */
    void returnCredit(SpdyStream s) {
        long owed = s.receiveWindow().returnSessionCredit();
        if (session.lifecycle.state() != SpdySession.State.CLOSED) {
            sessionConsumed(owed);
        }
    }

    /** A round-trip sample (any PING of ours answered), which paces window growth. */
    void rttSample(long nanos) {
        tuner.rttSample(nanos);
    }
}
