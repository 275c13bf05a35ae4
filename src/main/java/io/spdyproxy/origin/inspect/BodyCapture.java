package io.spdyproxy.origin.inspect;

import io.netty.buffer.ByteBuf;
import java.util.Arrays;

/**
 * The first {@code limit} bytes of one body, copied out of the buffers that pass (never retained:
 * the buffers belong to the stream), and the count of every byte, captured or not.
 *
 * <p>Threading: not thread-safe; its {@link Capture} guards it with the store's lock.
 */
final class BodyCapture {
    private final int limit;
    private byte[] bytes = new byte[0];
    private int length;
    private long total;
    private boolean dropped;

    BodyCapture(int limit) {
        this.limit = limit;
    }

    /** Copies what still fits of {@code data} (its reader index is left alone); returns the bytes copied. */
    int append(ByteBuf data) {
        int n = data.readableBytes();
        total += n;
        int take = dropped ? 0 : Math.min(n, limit - length);
        if (take <= 0) {
            return 0;
        }
        if (length + take > bytes.length) {
            bytes = Arrays.copyOf(bytes, Math.min(limit, Math.max(length + take, bytes.length * 2)));
        }
        data.getBytes(data.readerIndex(), bytes, length, take);
        length += take;
        return take;
    }

    /** Frees the copy (the entry left the ring); counting goes on. */
    void drop() {
        dropped = true;
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
        return total;
    }

    /** True when bytes were counted that are not in {@link #captured()}. */
    boolean truncated() {
        return total > length;
    }
}
