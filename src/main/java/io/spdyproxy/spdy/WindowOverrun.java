package io.spdyproxy.spdy;

/**
 * How far streams may run past their flow-control window in one direction. SPDY/3 section 2.6.8
 * allows none ({@link #NONE}). A legacy peer needs some (PROTOCOL.md): the original library never
 * grants window for request bodies, and ignores ours when it sends them. So towards it a stream's
 * window may go negative by at most {@code perStream} bytes, and the negative parts of all live
 * streams of the session together by at most {@code perSession}: whatever the number of streams,
 * the bytes let past the windows stay bounded.
 *
 * <p>Threading: confined to the session's event loop.
 */
final class WindowOverrun {
    /** Plain flow control: nothing past the window. */
    static final WindowOverrun NONE = new WindowOverrun(0, 0);

    private final int perStream;
    private final long perSession;
    /** The sum over live streams of how far each one's window is below zero. */
    private long total;

    WindowOverrun(int perStream, long perSession) {
        this.perStream = perStream;
        this.perSession = perSession;
    }

    /** Bytes a stream whose window is {@code window} may move now, counting only its own limit. */
    long ownRoom(int window) {
        return Math.max(0, (long) window + perStream);
    }

    /** Bytes a stream whose window is {@code window} may move now, within the session's limit too. */
    long room(int window) {
        if (this == NONE) {
            return Math.max(0, window);
        }
        long shared = Math.max(0, window) + (perSession - total);
        return Math.max(0, Math.min(ownRoom(window), shared));
    }

    /** A stream's window went from {@code before} to {@code after}. */
    void moved(int before, int after) {
        if (this != NONE) {
            total += below(after) - below(before);
        }
    }

    /** A stream whose window is {@code window} is gone: what it ran past its window is free again. */
    boolean released(int window) {
        if (this == NONE || window >= 0) {
            return false;
        }
        total -= below(window);
        return true;
    }

    /** The bytes all live streams are past their windows now. */
    long total() {
        return total;
    }

    private static long below(int window) {
        return window < 0 ? -(long) window : 0;
    }
}
