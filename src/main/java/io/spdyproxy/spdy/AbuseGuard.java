package io.spdyproxy.spdy;

/**
 * Counts what a hostile peer could use to exhaust us cheaply: resets of live streams per time
 * window (rapid reset, CVE-2023-44487), resets of streams that are already gone, empty DATA frames
 * in a row, and control frames we owe it but have not written. Each check returns a reason when a
 * limit is crossed, or null.
 *
 * <p>Rapid reset is a peer opening streams and resetting them before they were answered, so that
 * the concurrent-stream limit never bounds the work it starts; only such resets count against
 * {@code maxResetsPerWindow}. Independent implementations (npm {@code spdy}) also answer every
 * DATA frame still in flight for a stream they cancelled, and a WINDOW_UPDATE that crossed their
 * FIN, with RST_STREAM: those cost us nothing but reading them, so they only count as cheap
 * control frames, against {@code maxStaleResetsPerWindow} plus one for each frame we sent in the
 * window (each such reset answers a frame of ours), which still ends a flood of them.
 *
 * <p>Threading: confined to the session's event loop.
 */
final class AbuseGuard {
    private final SpdySessionConfig config;
    private final long resetWindowNanos;
    private long resetWindowStart;
    private long framesSentAtWindowStart;
    private int resetsInWindow;
    private int staleResetsInWindow;
    private int emptyFramesInRow;
    private int queuedControlFrames;

    AbuseGuard(SpdySessionConfig config) {
        this.config = config;
        this.resetWindowNanos = config.resetWindow().toNanos();
        this.resetWindowStart = System.nanoTime();
    }

    /** A RST_STREAM for a stream that was open and not yet answered. */
    String onLiveReset(long framesSent) {
        rollWindow(framesSent);
        if (++resetsInWindow > config.maxResetsPerWindow()) {
            return "too many RST_STREAM frames: more than " + config.maxResetsPerWindow()
                    + " resets of unanswered streams in " + config.resetWindow();
        }
        return null;
    }

    /** A RST_STREAM for a stream that is closed, unknown, or already answered: never rapid reset. */
    String onStaleReset(long framesSent) {
        rollWindow(framesSent);
        long allowed = config.maxStaleResetsPerWindow() + (framesSent - framesSentAtWindowStart);
        if (++staleResetsInWindow > allowed) {
            return "RST_STREAM flood: " + staleResetsInWindow + " resets of closed or answered streams in "
                    + config.resetWindow() + " (expected: <= " + config.maxStaleResetsPerWindow()
                    + " plus one per frame sent)";
        }
        return null;
    }

    private void rollWindow(long framesSent) {
        long now = System.nanoTime();
        if (now - resetWindowStart > resetWindowNanos) {
            resetWindowStart = now;
            framesSentAtWindowStart = framesSent;
            resetsInWindow = 0;
            staleResetsInWindow = 0;
        }
    }

    String onDataFrame(int length, boolean endOfStream) {
        if (length > 0 || endOfStream) {
            emptyFramesInRow = 0;
            return null;
        }
        if (++emptyFramesInRow > config.maxConsecutiveEmptyFrames()) {
            return "too many empty DATA frames in a row: " + emptyFramesInRow;
        }
        return null;
    }

    String onControlFrameQueued() {
        if (++queuedControlFrames > config.maxQueuedControlFrames()) {
            return "control frame flood: more than " + config.maxQueuedControlFrames()
                    + " control frames owed to the peer and unwritten";
        }
        return null;
    }

    void onControlFrameWritten() {
        queuedControlFrames--;
    }

    int queuedControlFrames() {
        return queuedControlFrames;
    }
}
