package io.spdyproxy.spdy;

import java.util.ArrayDeque;

/**
 * Picks the next stream to send a DATA frame: strict SYN_STREAM priority (0 first), round-robin
 * among streams of one priority, one frame per turn, so a huge body never starves a small one.
 * Within a priority, streams that have sent less than {@link #YOUNG_BYTES} are served first: with
 * a thousand bulk streams in the round, a small response (or the first bytes of any response)
 * would otherwise wait a whole round of frames behind them.
 *
 * <p>Threading: confined to the session's event loop.
 */
final class WriteScheduler {
    /** Per priority: young streams (index 2p), then the rest (2p + 1), each round-robin. */
    private final ArrayDeque<SpdyStream>[] levels;
    private int size;

    @SuppressWarnings({"unchecked", "rawtypes"})
    WriteScheduler() {
        levels = new ArrayDeque[16];
        for (int i = 0; i < levels.length; i++) {
            levels[i] = new ArrayDeque<>();
        }
    }

    /** Streams that have sent less than this are served before older ones of their priority. */
    static final long YOUNG_BYTES = 64 * 1024;

    void add(SpdyStream stream) {
        levels[2 * stream.priority() + (stream.bytesSent() < YOUNG_BYTES ? 0 : 1)].addLast(stream);
        size++;
    }

    SpdyStream poll() {
        if (size == 0) {
            return null;
        }
        for (ArrayDeque<SpdyStream> level : levels) {
            SpdyStream s = level.pollFirst();
            if (s != null) {
                size--;
                return s;
            }
        }
        return null;
    }

    boolean isEmpty() {
        return size == 0;
    }
}
