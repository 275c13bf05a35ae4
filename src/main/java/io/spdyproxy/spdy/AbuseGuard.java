package io.spdyproxy.spdy;

/**
 * Counts what a hostile peer could use to exhaust us cheaply: resets per time window (rapid reset,
 * CVE-2023-44487), empty DATA frames in a row, and control frames we owe it but have not written.
 * Each check returns a reason when a limit is crossed, or null.
 *
 * <p>Threading: confined to the session's event loop.
 */
final class AbuseGuard {
    private final SpdySessionConfig config;
    private final long resetWindowNanos;
    private long resetWindowStart;
    private int resetsInWindow;
    private int emptyFramesInRow;
    private int queuedControlFrames;

    AbuseGuard(SpdySessionConfig config) {
        this.config = config;
        this.resetWindowNanos = config.resetWindow().toNanos();
        this.resetWindowStart = System.nanoTime();
    }

    String onResetReceived() {
        long now = System.nanoTime();
        if (now - resetWindowStart > resetWindowNanos) {
            resetWindowStart = now;
            resetsInWindow = 0;
        }
        if (++resetsInWindow > config.maxResetsPerWindow()) {
            return "too many RST_STREAM frames: more than " + config.maxResetsPerWindow() + " in "
                    + config.resetWindow();
        }
        return null;
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
