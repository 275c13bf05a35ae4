package io.spdyproxy.observe.metrics;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmInfoMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.netty4.NettyAllocatorMetrics;
import io.micrometer.core.instrument.binder.netty4.NettyEventExecutorMetrics;
import io.micrometer.core.instrument.binder.system.FileDescriptorMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufAllocatorMetricProvider;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.internal.PlatformDependent;

/**
 * What every process exposes, proxy or origin: Micrometer's JVM binders (memory, GC, threads,
 * class loading, uptime, CPU, file descriptors), Netty's event loops (pending tasks per loop) and
 * allocator, and the direct memory Netty counts.
 *
 * <p>Threading: bind once; {@link #close} once. The meters themselves are read at scrape time.
 */
final class ProcessMetrics implements AutoCloseable {
    private final JvmGcMetrics gc = new JvmGcMetrics();

    private final MeterRegistry registry;

    ProcessMetrics(MeterRegistry registry, Iterable<EventExecutor> loops) {
        this.registry = registry;
        new ClassLoaderMetrics().bindTo(registry);
        new JvmMemoryMetrics().bindTo(registry);
        gc.bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new JvmInfoMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new UptimeMetrics().bindTo(registry);
        new FileDescriptorMetrics().bindTo(registry);
        if (loops != null) {
            eventLoops(loops);
        }
        if (ByteBufAllocator.DEFAULT instanceof ByteBufAllocatorMetricProvider p) {
            new NettyAllocatorMetrics(p).bindTo(registry);
        }
        // Netty's own count of the direct memory it allocated (-1 when it does not count: then
        // the JVM's buffer pools, jvm_buffer_memory_used_bytes{id="direct"}, tell).
        Gauge.builder("spdyproxy.direct.memory.used", PlatformDependent::usedDirectMemory).baseUnit("bytes")
                .description("Direct memory Netty has allocated (-1: not counted)").register(registry);
        Gauge.builder("spdyproxy.direct.memory.max", PlatformDependent::maxDirectMemory).baseUnit("bytes")
                .description("The most direct memory Netty may allocate").register(registry);
    }

    /** Pending tasks of each of {@code loops}. */
    void eventLoops(Iterable<EventExecutor> loops) {
        new NettyEventExecutorMetrics(loops).bindTo(registry);
    }

    @Override
    public void close() {
        gc.close();
    }
}
