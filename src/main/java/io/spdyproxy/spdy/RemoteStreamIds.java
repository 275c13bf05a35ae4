package io.spdyproxy.spdy;

/**
 * Which stream ids the peer may still open. SPDY/3 section 2.3.2 makes a SYN_STREAM whose id is
 * not above every earlier one a session error, and that is the rule for our own peers. The
 * original Go proxy reserves ids with an atomic counter but writes each SYN_STREAM from its
 * request's goroutine, so its ids reach the wire out of order (5 after 7, PROTOCOL.md); header
 * blocks are still decompressed in wire order, so nothing else breaks if we accept them. Towards
 * a legacy peer any new id of the peer's parity is therefore accepted, and "new" is remembered
 * with bounded memory: the highest id seen plus a bitmap of the {@link #WINDOW} ids of that parity
 * just below it. An id further below was either used or skipped long ago; it is refused on its
 * own stream rather than ending the session.
 *
 * <p>Threading: confined to the session's event loop.
 */
final class RemoteStreamIds {
    /** Ids of the peer's parity below the highest whose use is remembered (a power of two). */
    static final int WINDOW = 4096;

    /** What a SYN_STREAM's id means. */
    enum Verdict {
        /** Never used: open the stream. */
        NEW,
        /** Not above the highest id, from a peer held to the strict rule: a session error. */
        NOT_ABOVE_LAST,
        /** Out of order from a legacy peer, but its stream existed already: reset the stream. */
        REUSED,
        /** Out of order from a legacy peer, below the remembered window: reset the stream. */
        TOO_OLD
    }

    private final boolean outOfOrder;
    /** Bit {@code i % WINDOW}: the id whose index ({@code id >>> 1}) is i was used. */
    private final long[] used;
    /** The index ({@code id >>> 1}) of the highest id seen, or -1 before the first. */
    private int highestIndex = -1;
    private int highest;

    /** @param outOfOrder accept new ids below the highest (a legacy peer), or hold to the strict rule */
    RemoteStreamIds(boolean outOfOrder) {
        this.outOfOrder = outOfOrder;
        this.used = outOfOrder ? new long[WINDOW / 64] : new long[0];
    }

    /** The highest id the peer used so far (0 before the first): the last good id of a GOAWAY. */
    int highest() {
        return highest;
    }

    /** Records a SYN_STREAM's id (of the peer's parity, above 0) and says whether it is new. */
    Verdict open(int id) {
        int index = id >>> 1;
        if (index > highestIndex) {
            if (outOfOrder) {
                skip(highestIndex, index);
                mark(index);
            }
            highestIndex = index;
            highest = id;
            return Verdict.NEW;
        }
        if (!outOfOrder) {
            return Verdict.NOT_ABOVE_LAST;
        }
        if (highestIndex - index >= WINDOW) {
            return Verdict.TOO_OLD;
        }
        if (isMarked(index)) {
            return Verdict.REUSED;
        }
        mark(index);
        return Verdict.NEW;
    }

    /** Clears the bits of the ids between {@code from} and {@code to} (both exclusive): unused yet. */
    private void skip(int from, int to) {
        long gap = (long) to - from - 1;
        if (gap >= WINDOW) {
            java.util.Arrays.fill(used, 0L);
            return;
        }
        for (int i = from + 1; i < to; i++) {
            used[(i & (WINDOW - 1)) >>> 6] &= ~(1L << i);
        }
    }

    private void mark(int index) {
        used[(index & (WINDOW - 1)) >>> 6] |= 1L << index;
    }

    private boolean isMarked(int index) {
        return (used[(index & (WINDOW - 1)) >>> 6] & (1L << index)) != 0;
    }
}
