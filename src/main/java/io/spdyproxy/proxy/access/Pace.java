package io.spdyproxy.proxy.access;

import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * A token bucket for one direction of one tunnel's traffic, shared by all its streams on every
 * event loop. It never holds bytes: a relay spends what it just passed on and is told when it may
 * go on ({@link #after}); until then it does not read its source (the client's socket for an
 * upload; for a download it does not consume the tunnel stream, so the stream's window closes and
 * the origin stops sending). Memory therefore stays at one chunk per upload and one stream window
 * per download, whatever the rate.
 *
 * <p>The rate holds on average, not byte by byte: a download's first stream window (256 KiB) goes
 * out at once, then credit returns at the rate and the tunnel grants it in steps of half a window
 * (the tunnel sends WINDOW_UPDATE once half a stream window was consumed), so a very low rate
 * shows as steps.
 *
 * <p>The bucket may go into debt: a chunk larger than what is left is let through, and the next
 * spender waits until the debt is paid. Spenders are paced in the order they spent, so streams of
 * one tunnel share its rate fairly and no stream starves.
 *
 * <p>Threading: thread-safe; {@link #after} runs its continuation inline or on the given loop.
 */
public final class Pace {
    /** No limit: {@link #after} always runs the continuation at once. */
    public static final Pace UNLIMITED = new Pace(0, 0);

    private final double bytesPerNano;
    private final double burst;
    private double tokens;
    private long refilledAt = System.nanoTime();

    /** @param bytesPerSecond the long-run rate; 0 for none */
    Pace(long bytesPerSecond, long burst) {
        this.bytesPerNano = bytesPerSecond / 1e9;
        this.burst = burst;
        this.tokens = burst;
    }

    public boolean limited() {
        return bytesPerNano > 0;
    }

    /**
     * Spends {@code bytes}; runs {@code then} at once while the bucket is not in debt, otherwise on
     * {@code loop} once it has refilled enough.
     */
    public void after(int bytes, ScheduledExecutorService loop, Runnable then) {
        long wait = limited() ? spend(bytes) : 0;
        if (wait <= 0) {
            then.run();
        } else {
            loop.schedule(then, wait, TimeUnit.NANOSECONDS);
        }
    }

    /** Takes {@code bytes} out of the bucket; returns the nanoseconds until its debt is paid. */
    synchronized long spend(long bytes) {
        long now = System.nanoTime();
        tokens = Math.min(burst, tokens + (now - refilledAt) * bytesPerNano);
        refilledAt = now;
        tokens -= bytes;
        return tokens >= 0 ? 0 : (long) Math.ceil(-tokens / bytesPerNano);
    }
}
