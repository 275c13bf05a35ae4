package io.spdyproxy.testing;

import io.netty.buffer.AbstractByteBufAllocator;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.UnpooledByteBufAllocator;
import java.util.ArrayList;
import java.util.List;

/**
 * An allocator that remembers every buffer it hands out, for fuzz targets: after each input,
 * {@link #assertAllReleased} fails on any buffer still referenced. Unlike Netty's leak detector,
 * which reports a leak only once the buffer was garbage-collected and some later allocation polled
 * for it, this points at the very input that leaked, so the fuzzer keeps that input as a finding.
 * Set it on a channel ({@code channel.config().setAllocator(...)}): codecs and handlers allocate
 * through {@code ctx.alloc()}.
 *
 * <p>Threading: confined to the test thread (an {@code EmbeddedChannel} runs everything there).
 */
public final class TrackingAllocator extends AbstractByteBufAllocator {
    /** Heap buffers without the leak detector's wrapper: the check below is exact and cheaper. */
    private static final UnpooledByteBufAllocator PLAIN = new UnpooledByteBufAllocator(false, true);

    private final List<ByteBuf> allocated = new ArrayList<>();

    public TrackingAllocator() {
        super(false);
    }

    @Override
    public boolean isDirectBufferPooled() {
        return false;
    }

    @Override
    protected ByteBuf newHeapBuffer(int initialCapacity, int maxCapacity) {
        return track(PLAIN.heapBuffer(initialCapacity, maxCapacity));
    }

    @Override
    protected ByteBuf newDirectBuffer(int initialCapacity, int maxCapacity) {
        return track(PLAIN.directBuffer(initialCapacity, maxCapacity));
    }

    private ByteBuf track(ByteBuf buf) {
        allocated.add(buf);
        return buf;
    }

    /** How many buffers were handed out so far. */
    public int allocations() {
        return allocated.size();
    }

    /**
     * Throws when a buffer handed out is still referenced. Either way the allocator forgets every
     * buffer and releases the live ones, so one failed input does not taint the next.
     */
    public void assertAllReleased(String what) {
        List<String> live = new ArrayList<>();
        for (ByteBuf b : allocated) {
            if (b.refCnt() != 0) {
                live.add(describe(b));
                b.release(b.refCnt());
            }
        }
        allocated.clear();
        if (!live.isEmpty()) {
            throw new AssertionError(live.size() + " buffer(s) not released after " + what + ": " + live);
        }
    }

    private static String describe(ByteBuf b) {
        int n = Math.min(b.capacity(), 32);
        return "refCnt=" + b.refCnt() + " capacity=" + b.capacity() + " head="
                + ByteBufUtil.hexDump(b, 0, n);
    }
}
