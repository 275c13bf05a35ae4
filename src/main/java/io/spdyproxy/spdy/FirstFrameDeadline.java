package io.spdyproxy.spdy;

import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.ScheduledFuture;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * Closes a session whose peer sent no complete frame within {@code firstFrameTimeout} of its
 * start, so a silent or trickling connection cannot hold a session forever. Only for peers known
 * to speak first: ours send SETTINGS at once (and so do browsers and npm {@code spdy}), while the
 * original Go peers send nothing until a request arrives (PROTOCOL.md), so the session never arms
 * it towards a legacy peer.
 *
 * <p>Threading: confined to the session's event loop.
 */
final class FirstFrameDeadline {
    private ScheduledFuture<?> timer;
    private boolean seen;

    /** Arms the deadline; {@code onExpiry} runs on {@code loop} unless a frame came first. */
    void start(EventExecutor loop, Duration timeout, Runnable onExpiry) {
        if (seen || timeout.isZero() || timer != null) {
            return;
        }
        timer = loop.schedule(() -> {
            timer = null;
            if (!seen) {
                onExpiry.run();
            }
        }, timeout.toNanos(), TimeUnit.NANOSECONDS);
    }

    /** A complete frame arrived: the peer spoke. */
    void frameReceived() {
        if (!seen) {
            seen = true;
            cancel();
        }
    }

    void cancel() {
        if (timer != null) {
            timer.cancel(false);
            timer = null;
        }
    }
}
