package io.spdyproxy.bench;

import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The benchmark's {@code ops} scenario (issue 12): what metrics and the access log cost. Two
 * proxies run side by side on the same machine, each with a file-server origin of its own: one
 * bare (no admin listener, so no metrics; no access log), one with {@code --admin-port} (metrics)
 * and {@code --access-log FILE}. wrk measures the small-response rate of both in alternating
 * rounds (so a neighbour's load hits both alike), and the row gives the ratio on / off of the
 * median round. Skipped in the smoke run: four more JVMs cost more than the smoke run may take.
 *
 * <p>Threading: runs on the calling thread.
 */
public final class OpsBench {
    private OpsBench() {}

    /** Runs the scenario; figures under {@code "ops"} in {@code results}, rows in {@code table}. */
    public static void run(ScenarioBed bed, PrintStream out, Map<String, Object> results, List<String[]> table)
            throws Exception {
        if (bed.quick()) {
            out.println("  ops: skipped in the smoke run (four more JVMs)");
            return;
        }
        List<Process> processes = new ArrayList<>();
        try {
            Path log = bed.work().resolve("ops-access.log");
            Files.deleteIfExists(log);
            int off = start(bed, processes, "off");
            int admin = ScenarioBed.freePort();
            // -Dbench.opsParts=metrics or =log measures one part alone (default: both)
            String parts = System.getProperty("bench.opsParts", "metrics,log");
            List<String> flags = new ArrayList<>();
            if (parts.contains("metrics")) {
                flags.addAll(List.of("--admin-port", String.valueOf(admin)));
            }
            if (parts.contains("log")) {
                flags.addAll(List.of("--access-log", log.toString()));
            }
            int on = start(bed, processes, "on", flags.toArray(String[]::new));
            String offUrl = "http://127.0.0.1:" + off + "/small.bin";
            String onUrl = "http://127.0.0.1:" + on + "/small.bin";
            bed.load().wrk(50, offUrl, "files"); // warm-up of both JVM pairs
            bed.load().wrk(50, onUrl, "files");
            Map<String, Object> figures = new LinkedHashMap<>();
            for (int c : new int[] {10, 100}) {
                int rounds = Integer.getInteger("bench.opsRounds", 5);
                double[] offRps = new double[rounds];
                double[] onRps = new double[rounds];
                double[] offP99 = new double[rounds];
                double[] onP99 = new double[rounds];
                // The proxy's CPU time per request: steadier than requests/s on a machine whose
                // neighbours come and go (rounds of one setting vary by more than the 5% sought).
                double[] offCpu = new double[rounds];
                double[] onCpu = new double[rounds];
                Process offProxy = processes.get(0);
                Process onProxy = processes.get(2);
                for (int r = 0; r < rounds; r++) {
                    boolean onFirst = r % 2 == 1; // alternate which goes first
                    long cpu0 = cpuNanos(onFirst ? onProxy : offProxy);
                    Map<String, String> a = bed.load().wrk(c, onFirst ? onUrl : offUrl, "files");
                    long cpuA = cpuNanos(onFirst ? onProxy : offProxy) - cpu0;
                    long cpu1 = cpuNanos(onFirst ? offProxy : onProxy);
                    Map<String, String> b = bed.load().wrk(c, onFirst ? offUrl : onUrl, "files");
                    long cpuB = cpuNanos(onFirst ? offProxy : onProxy) - cpu1;
                    Map<String, String> fOn = onFirst ? a : b;
                    Map<String, String> fOff = onFirst ? b : a;
                    onCpu[r] = (onFirst ? cpuA : cpuB) / 1000.0 / Double.parseDouble(fOn.get("requests"));
                    offCpu[r] = (onFirst ? cpuB : cpuA) / 1000.0 / Double.parseDouble(fOff.get("requests"));
                    offRps[r] = Double.parseDouble(fOff.get("rps"));
                    onRps[r] = Double.parseDouble(fOn.get("rps"));
                    offP99[r] = Double.parseDouble(fOff.get("p99"));
                    onP99[r] = Double.parseDouble(fOn.get("p99"));
                }
                double rOff = median(offRps);
                double rOn = median(onRps);
                double pOff = median(offP99);
                double pOn = median(onP99);
                double cOff = median(offCpu);
                double cOn = median(onCpu);
                figures.put("small_c" + c, Map.of("off_rps", rOff, "on_rps", rOn, "off_p99_us", pOff, "on_p99_us", pOn,
                        "rounds_off_rps", Arrays.toString(offRps), "rounds_on_rps", Arrays.toString(onRps),
                        "off_proxy_cpu_us_per_request", cOff, "on_proxy_cpu_us_per_request", cOn,
                        "rounds_off_cpu_us", Arrays.toString(offCpu), "rounds_on_cpu_us", Arrays.toString(onCpu)));
                out.printf("  ops c%d: proxy CPU per request off %.1f µs, on %.1f µs (on/off %s)%n", c, cOff, cOn,
                        ScenarioBed.ratio(cOn, cOff));
                out.printf("  ops c%d: requests/s off %.0f, on %.0f (on/off %s); p99 µs off %.0f, on %.0f%n", c, rOff,
                        rOn, ScenarioBed.ratio(rOn, rOff), pOff, pOn);
                table.add(new String[] {"1 KiB responses, " + c + " conn, metrics + access log off vs on (median of "
                        + rounds + " alternating rounds): requests/s", "", ScenarioBed.fmt(rOff), ScenarioBed.fmt(rOn),
                        ScenarioBed.ratio(rOn, rOff)});
                table.add(new String[] {"same: latency p99 (µs)", "", ScenarioBed.fmt(pOff), ScenarioBed.fmt(pOn),
                        ScenarioBed.ratio(pOn, pOff)});
                table.add(new String[] {"same: proxy CPU per request (µs, process and its relaunched JVM)", "",
                        String.format("%.1f", cOff), String.format("%.1f", cOn), ScenarioBed.ratio(cOn, cOff)});
            }
            if (parts.contains("metrics") && parts.contains("log")) {
                long lines;
                try (var s = Files.lines(log)) {
                    lines = s.count();
                }
                String metrics = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + admin + "/metrics")).build(),
                        HttpResponse.BodyHandlers.ofString()).body();
                String dropped = metrics.lines().filter(l -> l.startsWith("spdyproxy_access_log_dropped_total"))
                        .findFirst().orElse("spdyproxy_access_log_dropped_total ?");
                out.println("  ops: access log " + lines + " lines, " + dropped);
                figures.put("access_log_lines", lines);
                figures.put("access_log_dropped", dropped.substring(dropped.indexOf(' ') + 1));
            }
            results.put("ops", figures);
        } finally {
            for (Process p : processes) {
                p.destroy();
            }
            for (Process p : processes) {
                if (!p.waitFor(15, TimeUnit.SECONDS)) {
                    p.destroyForcibly();
                }
            }
        }
    }

    /** A proxy with {@code proxyFlags} and a file-server origin on it; returns its HTTP port once it serves. */
    private static int start(ScenarioBed bed, List<Process> processes, String name, String... proxyFlags)
            throws Exception {
        int http = ScenarioBed.freePort();
        int tunnel = ScenarioBed.freePort();
        List<String> proxy = new ArrayList<>(java(bed, "proxy", "--bind", "127.0.0.1", "--port", String.valueOf(http),
                "--tunnel-port", String.valueOf(tunnel), "--auth", "none", "--default-tunnel", "files",
                "--data-dir", bed.work().resolve("ops-" + name).toString()));
        proxy.addAll(List.of(proxyFlags));
        processes.add(new ProcessBuilder(proxy).redirectErrorStream(true)
                .redirectOutput(bed.work().resolve("ops-proxy-" + name + ".log").toFile()).start());
        processes.add(new ProcessBuilder(java(bed, "origin", "--proxy", "127.0.0.1:" + tunnel, "--name", "files",
                "--insecure", "--root", bed.data().toString())).redirectErrorStream(true)
                .redirectOutput(bed.work().resolve("ops-origin-" + name + ".log").toFile()).start());
        HttpClient client = HttpClient.newHttpClient();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline) { // a benchmark harness: polling a process's readiness is fine
            try {
                if (client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + http + "/small.bin")).build(),
                        HttpResponse.BodyHandlers.discarding()).statusCode() == 200) {
                    return http;
                }
            } catch (IOException e) {
                // not listening yet
            }
            Thread.sleep(200);
        }
        throw new IOException("ops: the '" + name + "' proxy and origin did not serve within 60 s");
    }

    private static List<String> java(ScenarioBed bed, String... args) {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-jar", bed.jar().toString()));
        cmd.addAll(List.of(args));
        return cmd;
    }

    /** CPU time of {@code p} and its descendants (the relaunched JVM), as the OS counts it. */
    private static long cpuNanos(Process p) {
        long sum = p.toHandle().info().totalCpuDuration().map(java.time.Duration::toNanos).orElse(0L);
        for (ProcessHandle h : (Iterable<ProcessHandle>) p.descendants()::iterator) {
            sum += h.info().totalCpuDuration().map(java.time.Duration::toNanos).orElse(0L);
        }
        return sum;
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }
}
