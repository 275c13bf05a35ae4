package io.spdyproxy.testing;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.util.ResourceLeakDetector;
import io.netty.util.ResourceLeakDetectorFactory;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Fails a test class when Netty's leak detector reports a ByteBuf that was garbage-collected
 * without being released. Registered for every test through JUnit's extension auto-detection;
 * the suite runs with {@code -Dio.netty.leakDetection.level=paranoid}, so every buffer is tracked.
 */
public final class LeakCheckExtension implements AfterAllCallback {
    private static final List<String> LEAKS = new ArrayList<>();

    static {
        ResourceLeakDetectorFactory.setResourceLeakDetectorFactory(new ResourceLeakDetectorFactory() {
            @Override
            @SuppressWarnings("deprecation")
            public <T> ResourceLeakDetector<T> newResourceLeakDetector(Class<T> resource,
                    int samplingInterval, long maxActive) {
                return new RecordingDetector<>(resource, samplingInterval);
            }
        });
    }

    private static final class RecordingDetector<T> extends ResourceLeakDetector<T> {
        RecordingDetector(Class<T> type, int samplingInterval) {
            super(type, samplingInterval);
        }

        @Override
        protected void reportTracedLeak(String resourceType, String records) {
            record(resourceType + records);
            super.reportTracedLeak(resourceType, records);
        }

        @Override
        protected void reportUntracedLeak(String resourceType) {
            record(resourceType);
            super.reportUntracedLeak(resourceType);
        }

        @Override
        protected boolean needReport() {
            return true;
        }
    }

    private static void record(String leak) {
        synchronized (LEAKS) {
            LEAKS.add(leak);
        }
    }

    @Override
    public void afterAll(ExtensionContext context) throws Exception {
        // Collect garbage, then allocate: tracking a new buffer is what polls for dead ones.
        for (int i = 0; i < 3; i++) {
            System.gc();
            Thread.onSpinWait();
            ByteBuf a = PooledByteBufAllocator.DEFAULT.directBuffer(16);
            ByteBuf b = PooledByteBufAllocator.DEFAULT.heapBuffer(16);
            ByteBuf c = Unpooled.directBuffer(16);
            a.release();
            b.release();
            c.release();
        }
        List<String> found;
        synchronized (LEAKS) {
            found = new ArrayList<>(LEAKS);
            LEAKS.clear();
        }
        if (!found.isEmpty()) {
            throw new AssertionError(found.size() + " ByteBuf leak(s) detected during or before "
                    + context.getDisplayName() + ":\n" + String.join("\n----\n", found));
        }
    }
}
