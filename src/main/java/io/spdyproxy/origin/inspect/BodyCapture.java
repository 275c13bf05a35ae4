package io.spdyproxy.origin.inspect;

import io.netty.buffer.ByteBuf;
import java.util.Arrays;

/**
 * The first {@code limit} bytes of one body, copied out of the buffers that pass (never retained:
 * the buffers belong to the stream), and the count of every byte, captured or not.
 *
 * <p>Threading: {@link #append} and the copy are guarded by the store's lock (its {@link Capture}
 * takes it); once the copy is full (or dropped), {@link #countIfFull} counts without the lock, so
 * a long body costs the lock only for its first {@code limit} bytes.
 */
final class BodyCapture {
    private final int limit;
    private byte[] bytes = new byte[0];
    private int length;
    private final java.util.concurrent.atomic.AtomicLong total = new java.util.concurrent.atomic.AtomicLong();
    /** Nothing more will be copied: full or dropped. */
    private volatile boolean done;

    BodyCapture(int limit) {
        this.limit = limit;
    }

    /** Copies what still fits of {@code data} (its reader index is left alone); returns the bytes copied. */
    int append(ByteBuf data) {
        int n = data.readableBytes();
        total.addAndGet(n);
        int take = done ? 0 : Math.min(n, limit - length);
        if (take <= 0) {
            return 0;
        }
        if (length + take > bytes.length) {
            bytes = Arrays.copyOf(bytes, Math.min(limit, Math.max(length + take, bytes.length * 2)));
        }
        data.getBytes(data.readerIndex(), bytes, length, take);
        length += take;
        done = length == limit;
        return take;
    }

    /** Counts {@code data} and returns true when nothing of it is to be copied; lock-free. */
    boolean countIfFull(ByteBuf data) {
        if (!done) {
            return false;
        }
        total.addAndGet(data.readableBytes());
        return true;
    }

    /** Frees the copy (the entry left the ring); counting goes on. */
    void drop() {
        done = true;
        bytes = new byte[0];
        length = 0;
    }

    byte[] captured() {
        return Arrays.copyOf(bytes, length);
    }

    int capturedLength() {
        return length;
    }

    /** Every byte of the body so far, captured or only counted. */
    long total() {
        return total.get();
    }

    /** True when bytes were counted that are not in {@link #captured()}. */
    boolean truncated() {
        return total.get() > length;
    }
}
