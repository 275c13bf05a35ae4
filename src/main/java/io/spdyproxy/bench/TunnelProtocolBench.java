package io.spdyproxy.bench;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The benchmark's {@code tunnels} scenario (issue 11): the SPDY/3.1 tunnel against the HTTP/2
 * tunnel on the same work. A second file-server origin with {@code --tunnel-protocol h2} serves
 * the same data set beside the run's SPDY one, and the small-response (wrk) and transfer (curl)
 * measurements of {@link TunnelBench} run against both. Rows: SPDY in the file-server column,
 * HTTP/2 in the upstream column, ratio HTTP/2 / SPDY. Skipped, saying why, when the origin has no
 * {@code --tunnel-protocol} flag.
 *
 * <p>Threading: runs on the calling thread.
 */
public final class TunnelProtocolBench {
    /** The tunnel name of the HTTP/2-tunnel origin; the proxy needs a token for it. */
    public static final String TUNNEL = "filesh2";

    private TunnelProtocolBench() {}

    /** Runs the scenario; figures under {@code "tunnels"} in {@code results}, rows in {@code table}. */
    public static void run(ScenarioBed bed, PrintStream out, Map<String, Object> results, List<String[]> table)
            throws Exception {
        String help = ScenarioBed.exec(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-jar", bed.jar().toString(), "origin", "--help"), 60);
        if (!help.contains("--tunnel-protocol")) {
            out.println("  tunnels: skipped (this origin has no --tunnel-protocol: HTTP/2 tunnels not built in)");
            table.add(new String[] {"SPDY vs HTTP/2 tunnel: skipped, the origin has no --tunnel-protocol", "", "",
                    "", ""});
            return;
        }
        bed.origins().start(TUNNEL, "--root", bed.data().toString(), "--tunnel-protocol", "h2");
        ScenarioBed.Load load = bed.load();
        String url = "http://127.0.0.1:" + bed.proxyHttpPort();
        String spdy = "files." + bed.domain();
        String h2 = TUNNEL + "." + bed.domain();
        if (!bed.quick()) {
            load.wrk(100, url + "/small.bin", h2); // warm-up of the HTTP/2 tunnel's code in both JVMs
        }
        Map<String, Object> figures = new LinkedHashMap<>();
        String cols = " (SPDY tunnel vs HTTP/2 tunnel)";
        for (int c : bed.quick() ? new int[] {10} : new int[] {1, 10, 100}) {
            Map<String, String> s = load.wrk(c, url + "/small.bin", spdy);
            Map<String, String> h = load.wrk(c, url + "/small.bin", h2);
            figures.put("small_c" + c, Map.of("spdy", s, "h2", h));
            table.add(new String[] {"1 KiB responses, " + c + " conn" + cols + ": requests/s", "", s.get("rps"),
                    h.get("rps"), ScenarioBed.ratio(h.get("rps"), s.get("rps"))});
            table.add(new String[] {"1 KiB responses, " + c + " conn" + cols + ": latency p99 (µs)", "",
                    s.get("p99"), h.get("p99"), ScenarioBed.ratio(h.get("p99"), s.get("p99"))});
        }
        long mib = load.bigBytes() >> 20;
        for (int n : new int[] {1, 8}) {
            double s = load.curl(n, url + "/big.bin", spdy, false);
            double h = load.curl(n, url + "/big.bin", h2, false);
            figures.put("download_x" + n, Map.of("spdy_MBps", s, "h2_MBps", h));
            table.add(new String[] {mib + " MiB download x" + n + cols + ": MB/s", "", ScenarioBed.fmt(s),
                    ScenarioBed.fmt(h), ScenarioBed.ratio(h, s)});
        }
        // The file server drains an upload to a file path (as TunnelBench's upload to files does).
        double s = load.curl(1, url + "/small.bin", spdy, true);
        double h = load.curl(1, url + "/small.bin", h2, true);
        figures.put("upload_x1", Map.of("spdy_MBps", s, "h2_MBps", h));
        table.add(new String[] {mib + " MiB upload x1" + cols + ": MB/s", "", ScenarioBed.fmt(s), ScenarioBed.fmt(h),
                ScenarioBed.ratio(h, s)});
        results.put("tunnels", figures);
    }
}
