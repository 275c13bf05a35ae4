package io.spdyproxy.observe.dashboard;

import io.netty.util.internal.PlatformDependent;
import io.spdyproxy.observe.RequestRecord;
import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryUsage;
import java.util.List;

/**
 * Writes what the page shows as JSON: the process's health and its tunnels (one sample), then the
 * recent requests. The shape is in the README ("Dashboard"); the page reads it with
 * {@code JSON.parse} only.
 *
 * <p>Threading: stateless apart from constants; callable from any thread.
 */
final class SnapshotWriter {
    private static final String VERSION = version();

    private SnapshotWriter() {}

    /**
     * The snapshot up to, not including, its {@code requests} member: {@code {"time":...,
     * "health":{...},"tunnels":[...]}} without its closing brace.
     */
    static String head(long nowMillis, DashboardSource src, List<TunnelTraffic.Rates> tunnels) {
        Json j = new Json(1024 + 256 * tunnels.size());
        j.beginObject().field("time", nowMillis);
        MemoryUsage heap = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage();
        j.raw("health", new Json(512).beginObject()
                .field("version", VERSION)
                .field("uptimeMillis", ManagementFactory.getRuntimeMXBean().getUptime())
                .field("heapUsed", heap.getUsed())
                .field("heapMax", heap.getMax())
                .field("directUsed", directUsed())
                .field("directMax", PlatformDependent.maxDirectMemory())
                .field("clientConnections", src.clientConnections())
                .field("tunnels", tunnels.size())
                .field("requestsInFlight", src.requestsInFlight())
                .field("requestsTotal", src.requestsTotal())
                .endObject().toString());
        j.beginArray("tunnels");
        for (TunnelTraffic.Rates r : tunnels) {
            DashboardSource.TunnelFigures t = r.tunnel();
            j.beginObject()
                    .field("name", t.name())
                    .field("remote", t.remote())
                    .field("protocol", t.protocol())
                    .field("state", t.state())
                    .field("connectedAt", t.connectedAt().toEpochMilli())
                    .field("streams", t.streams())
                    .field("requestsPerSec", r.requestsPerSec())
                    .field("toOriginPerSec", r.toOriginPerSec())
                    .field("fromOriginPerSec", r.fromOriginPerSec())
                    .field("toOriginBytes", t.bytesToOrigin())
                    .field("fromOriginBytes", t.bytesFromOrigin())
                    .field("requests", r.requests())
                    .field("errors", r.errors())
                    .endObject();
        }
        return j.endArray().toString();
    }

    /** {@code head} with {@code requests} (newest first) and the closing brace. */
    static String complete(String head, List<RecentRequests.Entry> requests) {
        Json j = new Json(head.length() + 64 + 400 * requests.size());
        j.raw(null, head);
        j.beginArray("requests");
        for (RecentRequests.Entry e : requests) {
            request(j, e);
        }
        return j.endArray().endObject().toString();
    }

    private static void request(Json j, RecentRequests.Entry e) {
        RequestRecord r = e.record();
        j.beginObject()
                .field("seq", e.seq())
                .field("time", r.startMillis())
                .field("client", r.client())
                .field("tunnel", r.tunnel())
                .field("protocol", r.protocol())
                .field("method", r.method())
                .field("host", r.host())
                .field("path", r.target())
                .field("status", r.status())
                .field("bytesIn", r.bytesIn())
                .field("bytesOut", r.bytesOut())
                .field("firstByteMillis", r.firstByteNanos() < 0 ? -1 : r.firstByteNanos() / 1_000_000.0)
                .field("durationMillis", r.durationNanos() / 1_000_000.0)
                .field("outcome", r.outcome().label())
                .endObject();
    }

    /** Direct memory in use: Netty's own count when it keeps one, else the JDK's direct buffer pool. */
    private static long directUsed() {
        long netty = PlatformDependent.usedDirectMemory();
        if (netty >= 0) {
            return netty;
        }
        for (BufferPoolMXBean pool : ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class)) {
            if (pool.getName().equals("direct")) {
                return pool.getMemoryUsed();
            }
        }
        return -1;
    }

    private static String version() {
        String v = SnapshotWriter.class.getPackage().getImplementationVersion();
        return "spdy-proxy " + (v != null ? v : "(development build)") + ", Java "
                + Runtime.version() + ", Netty " + nettyVersion();
    }

    private static String nettyVersion() {
        var versions = io.netty.util.Version.identify();
        var common = versions.get("netty-common");
        return common != null ? common.artifactVersion() : "unknown";
    }
}
