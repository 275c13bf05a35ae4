package io.spdyproxy.spdy;

/**
 * One stream's receive flow-control state (SPDY/3.1 section 2.6.8), owned by its {@link SpdyStream}
 * and changed only by the session's {@link ReceiveFlow} and {@link ReceiveWindowTuner}: the window
 * the peer may still fill, the window granted in all (which grows), what the application consumed
 * since the last WINDOW_UPDATE, and what it was given and has not consumed yet.
 *
 * <p>Threading: confined to the session's event loop.
 */
final class ReceiveWindow {
    private int window;
    /** The receive window this stream is granted in all: the initial one plus any growth. */
    private int target;
    /** When the last WINDOW_UPDATE went out for this stream (0: none yet); paces growth. */
    private long lastCreditNanos;
    private int unackedConsumed;
    /** Delivered to the listener and not yet consumed. */
    private long unconsumed;
    private boolean sessionCreditReturned;

    ReceiveWindow(int initial) {
        this.window = initial;
        this.target = initial;
    }

    int window() {
        return window;
    }

    int target() {
        return target;
    }

    /** DATA of {@code len} bytes, within the window, is being delivered. */
    void received(int len, WindowOverrun overrun) {
        overrun.moved(window, window - len);
        window -= len;
        unconsumed += len;
    }

    /**
     * The application used {@code bytes}. True when they still count for the session window;
     * false once the stream's unconsumed bytes were returned to it at close.
     */
    boolean consumed(int bytes) {
        if (sessionCreditReturned) {
            return false;
        }
        unconsumed = Math.max(0, unconsumed - bytes);
        return true;
    }

    /**
     * Counts {@code bytes} consumed towards the next WINDOW_UPDATE: returns the credit due once
     * half the window was consumed, else 0.
     */
    int creditDue(int bytes) {
        unackedConsumed += bytes;
        return unackedConsumed >= target / 2 ? unackedConsumed : 0;
    }

    /** A WINDOW_UPDATE of {@code credit} (what was due plus any growth) is going out. */
    void granted(int credit, WindowOverrun overrun) {
        overrun.moved(window, window + credit);
        window += credit;
        unackedConsumed = 0;
    }

    /** At close: the bytes delivered and never consumed, owed to the session window (once). */
    long returnSessionCredit() {
        if (sessionCreditReturned) {
            return 0;
        }
        sessionCreditReturned = true;
        long owed = unconsumed;
        unconsumed = 0;
        return owed;
    }

    /** Records a WINDOW_UPDATE at {@code now}; returns when the previous one went out (0: none). */
    long creditSentAt(long now) {
        long last = lastCreditNanos;
        lastCreditNanos = now;
        return last;
    }

    void grew(int grow) {
        target += grow;
    }

    /** Back to {@code initial}; returns the growth given back. */
    int resetTarget(int initial) {
        int grown = target - initial;
        target = initial;
        return grown;
    }
}
