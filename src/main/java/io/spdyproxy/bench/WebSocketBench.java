package io.spdyproxy.bench;

import io.netty.channel.EventLoopGroup;
import io.spdyproxy.transport.Transport;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The benchmark's {@code websocket} scenario (issue 10): the same {@link WebSocketApp}, in this
 * process, reached directly and through the proxy and an origin with {@code --upstream} (separate
 * JVMs, as users run them). Measures echo round trips at low load (one connection, p50/p99),
 * one-way throughput each way, and the proxy's heap per idle WebSocket (after a forced GC,
 * through {@code jcmd}). Every figure is printed as tunnel / direct. When the tunnel half fails
 * (no upgrade pass-through yet) the scenario says so and still reports the direct figures.
 *
 * <p>Threading: runs on the calling thread; clients run on their own event loop.
 */
public final class WebSocketBench {
    /**
     * What the scenario needs from the benchmark that started the proxy.
     *
     * @param proxyHttpPort the proxy's plain front end
     * @param proxyPid the proxy's process id, for jcmd
     * @param origins starts an origin process with extra arguments and waits for its tunnel
     */
    public record Bed(int proxyHttpPort, LongSupplier proxyPid, OriginStarter origins) {}

    /** Starts origin process {@code name} with these extra arguments and returns once its tunnel is up. */
    @FunctionalInterface
    public interface OriginStarter {
        void start(String name, String... args) throws Exception;
    }

    /** The tunnel name the scenario's origin uses; the proxy needs a token for it. */
    public static final String TUNNEL = "ws";

    private static final Pattern HEAP_USED = Pattern.compile("(?:generation|heap)\\s+total \\d+K, used (\\d+)K");
    private static final int ECHO_SIZE = 32;

    private final Bed bed;
    private final boolean quick;
    private final PrintStream out;
    private final String host;

    private WebSocketBench(Bed bed, boolean quick, PrintStream out, String domain) {
        this.bed = bed;
        this.quick = quick;
        this.out = out;
        this.host = TUNNEL + "." + domain;
    }

    /**
     * Runs the scenario; adds its figures to {@code results} (under {@code "websocket"}) and its
     * rows to {@code table} ({@code name, direct, "", tunnel, tunnel / direct}).
     */
    public static void run(Bed bed, String domain, boolean quick, PrintStream out, Map<String, Object> results,
            List<String[]> table) throws Exception {
        // The clients and the app on loops of their own: one thread each, as on two machines.
        EventLoopGroup group = Transport.newGroup(1, "ws-bench");
        try (WebSocketApp app = WebSocketApp.start("127.0.0.1", BenchWebSocket.ALLOC)) {
            new WebSocketBench(bed, quick, out, domain).measure(app, group, results, table);
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    private void measure(WebSocketApp app, EventLoopGroup group, Map<String, Object> results, List<String[]> table)
            throws Exception {
        bed.origins().start(TUNNEL, "--upstream", "http://127.0.0.1:" + app.port());
        URI direct = URI.create("ws://127.0.0.1:" + app.port());
        URI tunnel = URI.create("ws://127.0.0.1:" + bed.proxyHttpPort());
        int trips = quick ? 200 : 20_000;
        long bytes = quick ? 8L << 20 : 1L << 30;
        int idle = quick ? 200 : 2_000;

        // Warm-up of this JVM's client and app code (the proxy and origin warm up in their own
        // first round, which figures() discards for round trips; throughput runs are long).
        out.println("  websocket warm-up, direct:");
        figures(group, direct, null, trips, bytes / 4);
        Map<String, Object> d = figures(group, direct, null, trips, bytes);
        Map<String, Object> t;
        String failure = null;
        try {
            t = figures(group, tunnel, host, trips, bytes);
            t.put("proxy_heap_per_idle_websocket_bytes", heapPerIdle(group, tunnel, idle));
        } catch (Exception e) {
            failure = String.valueOf(e.getMessage());
            out.println("  websocket through the tunnel FAILED (upgrade pass-through missing?): " + failure);
            t = new LinkedHashMap<>();
            t.put("error", failure);
        }
        results.put("websocket", Map.of("direct", d, "tunnel", t));
        String fail = failure == null ? null : "failed";
        String rtt = "WebSocket echo round trip, 1 conn, " + ECHO_SIZE + " B";
        row(table, rtt + " (direct: the app): p50 (µs)", d, t, "rtt_p50_us", fail);
        row(table, rtt + ": p99 (µs)", d, t, "rtt_p99_us", fail);
        row(table, "WebSocket " + (bytes >> 20) + " MiB app → client: MB/s", d, t, "download_MBps", fail);
        row(table, "WebSocket " + (bytes >> 20) + " MiB client → app: MB/s", d, t, "upload_MBps", fail);
        Object perIdle = t.get("proxy_heap_per_idle_websocket_bytes");
        table.add(new String[] {idle + " idle WebSockets: proxy heap per WebSocket (KiB)", "", "",
                perIdle == null ? "failed" : fmt(((Number) perIdle).doubleValue() / 1024), ""});
    }

    /** Round trips, then download and upload throughput, each on a fresh connection. */
    private Map<String, Object> figures(EventLoopGroup group, URI base, String hostHeader, int trips, long bytes)
            throws Exception {
        String where = hostHeader == null ? "direct" : "tunnel";
        Map<String, Object> m = new LinkedHashMap<>();
        BenchWebSocket echo = open(group, base.resolve("/echo"), hostHeader);
        try {
            await(echo.roundTrips(trips, ECHO_SIZE), 120); // warm-up: the JIT of all three JVMs
            long[] nanos = await(echo.roundTrips(trips, ECHO_SIZE), 120);
            Arrays.sort(nanos);
            m.put("rtt_p50_us", nanos[nanos.length / 2] / 1e3);
            m.put("rtt_p99_us", nanos[(int) (nanos.length * 0.99)] / 1e3);
        } finally {
            echo.close();
        }
        BenchWebSocket down = open(group, base.resolve("/flood"), hostHeader);
        long[] cpu = cpuNanos();
        m.put("download_MBps", bytes / (await(down.download(bytes), 600) / 1e9) / 1e6);
        putCpu(m, "download", cpu, bytes);
        BenchWebSocket up = open(group, base.resolve("/sink"), hostHeader);
        try {
            cpu = cpuNanos();
            m.put("upload_MBps", bytes / (await(up.upload(bytes), 600) / 1e9) / 1e6);
            putCpu(m, "upload", cpu, bytes);
        } finally {
            up.close();
        }
        out.println("  websocket " + where + ": " + m);
        return m;
    }

    /**
     * Opens {@code n} WebSockets through the tunnel, each confirmed by one echo, and divides the
     * growth of the proxy's heap after a full GC by {@code n}.
     */
    private double heapPerIdle(EventLoopGroup group, URI tunnel, int n) throws Exception {
        long before = proxyHeapAfterGc();
        List<BenchWebSocket> open = new ArrayList<>();
        try {
            List<CompletableFuture<BenchWebSocket>> opening = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                opening.add(BenchWebSocket.open(group, tunnel.resolve("/echo"), host));
            }
            for (CompletableFuture<BenchWebSocket> f : opening) {
                open.add(await(f, 60));
            }
            for (BenchWebSocket s : open) {
                await(s.roundTrips(1, ECHO_SIZE), 60);
            }
            long after = proxyHeapAfterGc();
            double per = (after - before) / (double) n;
            out.printf(Locale.ROOT, "  websocket: %d idle through the tunnel, proxy heap %d → %d KiB: "
                    + "%.1f KiB each%n", n, before >> 10, after >> 10, per / 1024);
            return per;
        } finally {
            open.forEach(BenchWebSocket::close);
        }
    }

    /**
     * The proxy's heap in use after a full collection. The jar relaunches itself (see the cli's
     * Relaunch), so the JVM that holds the connections is the launcher's java descendant, when
     * it has one. Serial GC reports two generations, G1 one heap: their "used" figures are summed.
     */
    private long proxyHeapAfterGc() throws Exception {
        long root = bed.proxyPid().getAsLong();
        String pid = String.valueOf(ProcessHandle.of(root).flatMap(h -> h.descendants()
                .filter(d -> d.info().command().map(c -> c.endsWith("java")).orElse(false)).findFirst())
                .map(ProcessHandle::pid).orElse(root));
        jcmd(pid, "GC.run");
        String info = jcmd(pid, "GC.heap_info");
        Matcher m = HEAP_USED.matcher(info);
        long used = 0;
        boolean found = false;
        while (m.find()) {
            used += Long.parseLong(m.group(1));
            found = true;
        }
        if (!found) {
            throw new IOException("no heap figure in jcmd GC.heap_info: " + info);
        }
        return used * 1024;
    }

    /**
     * CPU time used so far by this JVM (the clients and the app), the proxy and the WebSocket
     * origin (each process tree summed: the jar relaunches itself). On two shared cores the four
     * loops compete, so CPU per GiB tells where a transfer's time goes better than its rate.
     */
    private long[] cpuNanos() {
        ProcessHandle self = ProcessHandle.current();
        long proxy = bed.proxyPid().getAsLong();
        long[] t = new long[3];
        t[0] = cpuOf(self);
        t[1] = ProcessHandle.of(proxy).map(WebSocketBench::treeCpu).orElse(0L);
        t[2] = self.children().filter(h -> h.pid() != proxy && h.info().arguments()
                .map(a -> Arrays.asList(a).contains("origin") && Arrays.asList(a).contains(TUNNEL)).orElse(false))
                .mapToLong(WebSocketBench::treeCpu).sum();
        return t;
    }

    private static long treeCpu(ProcessHandle h) {
        return cpuOf(h) + h.descendants().mapToLong(WebSocketBench::cpuOf).sum();
    }

    private static long cpuOf(ProcessHandle h) {
        return h.info().totalCpuDuration().map(java.time.Duration::toNanos).orElse(0L);
    }

    /** CPU seconds per GiB moved since {@code before}: bench JVM (client and app), proxy, origin. */
    private void putCpu(Map<String, Object> m, String what, long[] before, long bytes) {
        long[] now = cpuNanos();
        String[] who = {"bench", "proxy", "origin"};
        double gib = bytes / (double) (1L << 30);
        for (int i = 0; i < who.length; i++) {
            m.put(what + "_cpu_s_per_GiB_" + who[i], Math.round((now[i] - before[i]) / 1e9 / gib * 100) / 100.0);
        }
    }

    private static String jcmd(String pid, String command) throws Exception {
        Path jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd");
        Process p = new ProcessBuilder(jcmd.toString(), pid, command).redirectErrorStream(true).start();
        String text = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IOException("jcmd " + pid + " " + command + " failed: " + text);
        }
        return text;
    }

    private static BenchWebSocket open(EventLoopGroup group, URI uri, String host) throws Exception {
        return await(BenchWebSocket.open(group, uri, host), 30);
    }

    private static <T> T await(CompletableFuture<T> f, int seconds) throws Exception {
        try {
            return f.get(seconds, TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException e) {
            throw e.getCause() instanceof Exception c ? c : e;
        }
    }

    private static void row(List<String[]> table, String name, Map<String, Object> d, Map<String, Object> t,
            String key, String fail) {
        Object dv = d.get(key);
        Object tv = t.get(key);
        String ratio = dv instanceof Double x && tv instanceof Double y && x != 0 ? fmt(y / x) : "";
        table.add(new String[] {name, fmt((Double) dv), "", fail != null ? fail : fmt((Double) tv), ratio});
    }

    private static String fmt(double v) {
        return String.format(Locale.ROOT, v >= 100 ? "%.0f" : "%.2f", v);
    }
}
