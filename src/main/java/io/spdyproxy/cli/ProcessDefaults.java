package io.spdyproxy.cli;

import com.sun.management.HotSpotDiagnosticMXBean;
import com.sun.management.VMOption;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Process defaults that make resident memory follow the live data, for the jar as users run it
 * ({@code java -jar spdy-proxy.jar proxy}, no flags): the JVM's own sizing commits a quarter of
 * the machine's memory for the heap and keeps whatever it once touched. Everything here is a
 * default: a {@code -D} property or {@code -XX} flag the user gave always wins.
 *
 * <ul>
 *   <li>Heap: G1 gives memory back only when a full collection or the remark of a concurrent
 *       cycle finds more than {@code MaxHeapFreeRatio} free. A proxy's live heap is small (17 MiB
 *       under 1,000 slow clients) while its allocation rate is high, so by default the young
 *       generation grows into the initial heap (1/64 of RAM) and stays there. Lower free ratios
 *       (manageable flags, so they can be set from inside) let the heap shrink to the live data
 *       plus headroom; one collection before the servers start drops the initial heap, and G1's
 *       periodic collection returns memory once the process is idle. G1 still grows the heap
 *       when collections take more than its time share ({@code GCTimeRatio}).</li>
 *   <li>Netty's buffers: these are read before any Netty class initialises, so they must be set
 *       first thing in {@code main}.</li>
 * </ul>
 *
 * <p>Threading: {@link #apply()} runs once on the main thread before any other thread starts.
 */
final class ProcessDefaults {

    /** HotSpot manageable flags and their defaults (applied only while at the JVM's default). */
    static final Map<String, String> VM_FLAGS = vmFlags();

    private ProcessDefaults() {}

    private static Map<String, String> vmFlags() {
        Map<String, String> m = new LinkedHashMap<>();
        // The order matters: MinHeapFreeRatio may not exceed MaxHeapFreeRatio at any step.
        m.put("MinHeapFreeRatio", "10");
        m.put("MaxHeapFreeRatio", "30");
        // An idle process (no collection for this long) runs a concurrent cycle, whose remark
        // gives back what the last burst of load left committed.
        m.put("G1PeriodicGCInterval", "30000");
        return m;
    }

    /** The flags of the running JVM that {@link #apply(VmFlags)} may change. */
    interface VmFlags {
        /** Whether the flag is still at the JVM's (or its ergonomics') choice. */
        boolean isDefault(String name);

        void set(String name, String value);

        /** Collects the heap so that the lowered free ratios take effect now. */
        void collect();
    }

    /** Applies the defaults to this process; returns what was set, for the debug log. */
    static List<String> apply() {
        return apply(hotSpot());
    }

    /**
     * Sets each flag of {@link #VM_FLAGS} still at its default ({@code vm} may be null: not
     * HotSpot). Returns the names set.
     */
    static List<String> apply(VmFlags vm) {
        List<String> applied = new ArrayList<>();
        if (vm == null || !vm.isDefault("MaxHeapSize") || !vm.isDefault("InitialHeapSize")) {
            return applied; // the user sized the heap: the heap is theirs
        }
        boolean ratios = false;
        for (var e : VM_FLAGS.entrySet()) {
            if (vm.isDefault(e.getKey())) {
                try {
                    vm.set(e.getKey(), e.getValue());
                    applied.add(e.getKey());
                    ratios |= e.getKey().endsWith("HeapFreeRatio");
                } catch (IllegalArgumentException ex) {
                    // Not this collector's flag, or out of range next to a flag the user set.
                }
            }
        }
        if (ratios) {
            vm.collect();
        }
        return applied;
    }

    private static VmFlags hotSpot() {
        HotSpotDiagnosticMXBean bean;
        try {
            bean = ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class);
        } catch (RuntimeException | LinkageError e) {
            return null;
        }
        if (bean == null) {
            return null;
        }
        return new VmFlags() {
            @Override
            public boolean isDefault(String name) {
                try {
                    VMOption o = bean.getVMOption(name);
                    return o.getOrigin() == VMOption.Origin.DEFAULT || o.getOrigin() == VMOption.Origin.ERGONOMIC;
                } catch (IllegalArgumentException e) {
                    return false; // no such flag in this JVM
                }
            }

            @Override
            public void set(String name, String value) {
                bean.setVMOption(name, value);
            }

            @Override
            public void collect() {
                if (isDefault("DisableExplicitGC")) {
                    System.gc();
                }
            }
        };
    }
}
