package io.spdyproxy.observe.dashboard;

import io.spdyproxy.observe.RequestRecord;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * The last {@value #CAPACITY} finished requests, each with a sequence number, in a fixed ring:
 * memory does not grow with traffic, and an older record is simply overwritten.
 *
 * <p>Threading: {@link #add} is called on every client loop at once and takes no lock (one
 * atomic increment and one volatile store); readers on any thread see each slot either whole or
 * not at all, and skip a slot a writer has claimed but not filled yet.
 */
final class RecentRequests {
    static final int CAPACITY = 128;
    private static final int MASK = CAPACITY - 1;

    /** One record and the sequence number it was given. */
    record Entry(long seq, RequestRecord record) {}

    private final AtomicLong next = new AtomicLong(1);
    private final AtomicReferenceArray<Entry> slots = new AtomicReferenceArray<>(CAPACITY);

    void add(RequestRecord r) {
        long seq = next.getAndIncrement();
        slots.set((int) (seq & MASK), new Entry(seq, r));
    }

    /** The sequence number of the newest record so far (0 before the first). */
    long lastSeq() {
        return next.get() - 1;
    }

    /**
     * The records after {@code afterSeq} up to {@code upToSeq}, newest first, at most {@code max}
     * of them.
     */
    List<Entry> between(long afterSeq, long upToSeq, int max) {
        long from = Math.max(afterSeq + 1, Math.max(1, upToSeq - Math.min(max, CAPACITY) + 1));
        List<Entry> out = new ArrayList<>((int) Math.max(0, upToSeq - from + 1));
        for (long s = upToSeq; s >= from; s--) {
            Entry e = slots.get((int) (s & MASK));
            if (e != null && e.seq() == s) {
                out.add(e);
            }
        }
        return out;
    }
}
