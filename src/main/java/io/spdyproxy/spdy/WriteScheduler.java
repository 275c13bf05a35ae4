package io.spdyproxy.spdy;

import java.util.ArrayDeque;

/**
 * Picks the next stream to send a DATA frame: strict SYN_STREAM priority (0 first), round-robin
 * among streams of one priority, one frame per turn, so a huge body never starves a small one.
 *
 * <p>Threading: confined to the session's event loop.
 */
final class WriteScheduler {
    private final ArrayDeque<SpdyStream>[] levels;
    private int size;

    @SuppressWarnings({"unchecked", "rawtypes"})
    WriteScheduler() {
        levels = new ArrayDeque[8];
        for (int i = 0; i < levels.length; i++) {
            levels[i] = new ArrayDeque<>();
        }
    }

    void add(SpdyStream stream) {
        levels[stream.priority()].addLast(stream);
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
