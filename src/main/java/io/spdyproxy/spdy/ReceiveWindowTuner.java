package io.spdyproxy.spdy;

import java.util.concurrent.TimeUnit;

/**
 * Receive-window auto-tuning (what QUIC implementations do): when half a stream's window was
 * consumed within two round trips (and at least {@link #CYCLE_FLOOR_NANOS}), the window limits
 * the stream rather than its consumer, so it doubles, up to {@code maxStreamWindow} and within the
 * session's {@code windowGrowthBudget}. A slow consumer never gets there, so its stream keeps the
 * initial window and what we buffer for it stays small. The round trip is learnt from our PINGs.
 *
 * <p>Threading: confined to the session's event loop.
 */
final class ReceiveWindowTuner {
    /** Growth needs half a window consumed within this long at least, however short the RTT. */
    private static final long CYCLE_FLOOR_NANOS = TimeUnit.MILLISECONDS.toNanos(4);

    private final SpdySessionConfig config;
    private long smoothedRttNanos;
    /** Receive-window growth held by open streams. */
    private long growth;

    ReceiveWindowTuner(SpdySessionConfig config) {
        this.config = config;
    }

    /** A WINDOW_UPDATE for the stream of {@code w} is due: returns the extra credit to grant with it. */
    int growth(ReceiveWindow w) {
        long now = System.nanoTime();
        long last = w.creditSentAt(now);
        int max = config.effectiveMaxStreamWindow();
        int target = w.target();
        if (last == 0 || target >= max) {
            return 0; // the first half-window may have landed in socket buffers: no signal yet
        }
        if (now - last > Math.max(2 * smoothedRttNanos, CYCLE_FLOOR_NANOS)) {
            return 0;
        }
        int grow = Math.min(target, max - target);
        if (growth + grow > config.windowGrowthBudget()) {
            return 0;
        }
        growth += grow;
        w.grew(grow);
        return grow;
    }

    /** The stream of {@code w} is gone: its growth returns to the budget. */
    void released(ReceiveWindow w) {
        growth -= w.resetTarget(config.effectiveStreamWindow());
    }

    /** Feeds a round-trip sample (any PING of ours answered) into the smoothed RTT. */
    void rttSample(long nanos) {
        smoothedRttNanos = smoothedRttNanos == 0 ? nanos : (7 * smoothedRttNanos + nanos) / 8;
    }
}
