package io.spdyproxy.bench;

import io.spdyproxy.tls.PemFiles;
import io.spdyproxy.tls.SelfSignedCertificate;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The benchmark's {@code h2} scenario (issue 11): {@code h2load} fetching the 1 KiB file over
 * HTTPS with HTTP/2 (ALPN h2), from nginx serving the data set over HTTPS/h2 directly, and from the
 * proxy's TLS front end through the tunnel to the file-server origin. Reported as requests/s and
 * mean latency, tunnel / direct (target of the issue: at least 0.5 of direct requests/s).
 *
 * <p>Threading: runs on the calling thread.
 */
public final class H2LoadBench {
    private static final Pattern FINISHED = Pattern.compile("finished in [0-9.]+m?s, ([0-9.]+) req/s");
    private static final Pattern REQUESTS = Pattern.compile(
            "requests: (\\d+) total, \\d+ started, (\\d+) done, (\\d+) succeeded, (\\d+) failed, (\\d+) errored");
    private static final Pattern PROTOCOL = Pattern.compile("Application protocol: (\\S+)");
    private static final Pattern MEAN = Pattern.compile(
            "time for request:\\s+\\S+\\s+\\S+\\s+([0-9.]+)(us|ms|s)\\b");

    private final ScenarioBed bed;
    private final PrintStream out;

    private H2LoadBench(ScenarioBed bed, PrintStream out) {
        this.bed = bed;
        this.out = out;
    }

    /** Runs the scenario; figures under {@code "h2"} in {@code results}, rows in {@code table}. */
    public static void run(ScenarioBed bed, PrintStream out, Map<String, Object> results, List<String[]> table)
            throws Exception {
        if (!ScenarioBed.onPath("h2load") || !ScenarioBed.onPath("nginx")) {
            out.println("  h2: skipped (needs h2load from nghttp2-client, and nginx)");
            table.add(new String[] {"HTTP/2 (h2load): skipped, h2load or nginx missing", "", "", "", ""});
            return;
        }
        new H2LoadBench(bed, out).measure(results, table);
    }

    private void measure(Map<String, Object> results, List<String[]> table) throws Exception {
        int nginxPort = ScenarioBed.freePort();
        Process nginx = startNginx(nginxPort);
        try {
            String direct = "https://127.0.0.1:" + nginxPort + "/small.bin";
            // 127.0.0.1 is outside the proxy's domain: the default tunnel, the file server.
            String tunnel = "https://127.0.0.1:" + bed.proxyHttpsPort() + "/small.bin";
            // Warm-up: the proxy's HTTP/2 front end and the origin compile on first use.
            if (!bed.quick()) {
                h2load(tunnel, 10, 10, bed.seconds());
                h2load(direct, 10, 10, 1);
            }
            Map<String, Object> figures = new LinkedHashMap<>();
            int[][] shapes = bed.quick() ? new int[][] {{10, 10}} : new int[][] {{1, 1}, {10, 10}, {100, 1}};
            for (int[] s : shapes) {
                Map<String, Double> d = h2load(direct, s[0], s[1], bed.seconds());
                Map<String, Double> t = h2load(tunnel, s[0], s[1], bed.seconds());
                String name = "HTTP/2 1 KiB responses (h2load over TLS, direct: nginx h2), " + s[0] + " conn x "
                        + s[1] + " streams";
                figures.put("c" + s[0] + "_m" + s[1], Map.of("direct", d, "tunnel", t));
                table.add(new String[] {name + ": requests/s", ScenarioBed.fmt(d.get("rps")),
                        t.get("rps") == 0 ? "failed (no h2?)" : ScenarioBed.fmt(t.get("rps")), "",
                        t.get("rps") == 0 ? "-" : ScenarioBed.ratio(t.get("rps"), d.get("rps"))});
                table.add(new String[] {name + ": mean latency (µs)", ScenarioBed.fmt(d.get("mean_us")),
                        t.get("mean_us") < 0 ? "failed" : ScenarioBed.fmt(t.get("mean_us")), "",
                        ScenarioBed.ratio(t.get("mean_us"), d.get("mean_us"))});
            }
            results.put("h2", figures);
        } finally {
            nginx.destroy();
            if (!nginx.waitFor(15, TimeUnit.SECONDS)) {
                nginx.destroyForcibly();
            }
        }
    }

    /** One h2load run: rps, mean latency (µs), succeeded and failed requests. */
    private Map<String, Double> h2load(String url, int connections, int streams, int seconds) throws Exception {
        List<String> cmd = List.of("h2load", "-c", String.valueOf(connections), "-m", String.valueOf(streams),
                "-t", String.valueOf(Math.min(2, connections)), "-D", String.valueOf(seconds),
                "--warm-up-time=1", url);
        String text = ScenarioBed.exec(cmd, seconds + 60);
        Map<String, Double> m = new LinkedHashMap<>();
        Matcher f = FINISHED.matcher(text);
        Matcher r = REQUESTS.matcher(text);
        Matcher l = MEAN.matcher(text);
        Matcher proto = PROTOCOL.matcher(text);
        String protocol = proto.find() ? proto.group(1) : "none";
        boolean h2 = protocol.equals("h2");
        m.put("rps", f.find() && h2 ? Double.parseDouble(f.group(1)) : 0.0);
        boolean counted = h2 && r.find(); // h2load falls back to HTTP/1.1 when ALPN offers no h2: not this scenario
        m.put("succeeded", counted ? Double.parseDouble(r.group(3)) : 0.0);
        m.put("failed", counted ? Double.parseDouble(r.group(4)) + Double.parseDouble(r.group(5)) : 0.0);
        m.put("mean_us", h2 && l.find() ? Double.parseDouble(l.group(1)) * switch (l.group(2)) {
            case "ms" -> 1_000;
            case "s" -> 1_000_000;
            default -> 1;
        } : -1.0);
        out.println("  h2load -c" + connections + " -m" + streams + " " + url + ": " + m
                + (h2 ? "" : " (protocol: " + protocol + ", not h2)"));
        if (m.get("succeeded") == 0) {
            out.println("  h2load said:\n" + text.lines().limit(15).map(s -> "    " + s)
                    .reduce("", (a, b) -> a + b + "\n"));
        }
        return m;
    }

    private Process startNginx(int port) throws Exception {
        Path dir = Files.createDirectories(bed.work().resolve("nginx-h2"));
        Path tmp = Files.createDirectories(dir.resolve("tmp"));
        for (Path p : new Path[] {dir, tmp}) {
            p.toFile().setReadable(true, false);
            p.toFile().setExecutable(true, false);
            p.toFile().setWritable(true, false);
        }
        // An EC P-256 certificate, as the proxy's: both sides pay for the same TLS.
        PemFiles.write(SelfSignedCertificate.generate("localhost", "127.0.0.1"), dir.resolve("cert.pem"),
                dir.resolve("key.pem"));
        Path conf = dir.resolve("nginx.conf");
        Files.writeString(conf, """
                worker_processes auto;
                daemon off;
                pid %1$s/nginx.pid;
                error_log %1$s/nginx-error.log warn;
                events { worker_connections 20000; }
                http {
                  access_log off;
                  sendfile on;
                  tcp_nopush on;
                  tcp_nodelay on;
                  keepalive_requests 10000000;
                  keepalive_timeout 600s;
                  client_body_temp_path %2$s/body;
                  proxy_temp_path %2$s/proxy;
                  fastcgi_temp_path %2$s/fastcgi;
                  uwsgi_temp_path %2$s/uwsgi;
                  scgi_temp_path %2$s/scgi;
                  default_type application/octet-stream;
                  server {
                    listen 127.0.0.1:%3$d ssl http2 backlog=4096;
                    ssl_certificate %1$s/cert.pem;
                    ssl_certificate_key %1$s/key.pem;
                    ssl_protocols TLSv1.2 TLSv1.3;
                    root %4$s;
                  }
                }
                """.formatted(dir, tmp, port, bed.data()));
        String binary = Files.isExecutable(Path.of("/usr/sbin/nginx")) ? "/usr/sbin/nginx" : "nginx";
        Process p = new ProcessBuilder(binary, "-c", conf.toString(), "-p", dir.toString()).redirectErrorStream(true)
                .redirectOutput(dir.resolve("nginx.out").toFile()).start();
        awaitListening(port, p);
        return p;
    }

    /** Waits (50 ms steps on a latch nobody counts down, as TunnelBench does) until the port accepts. */
    private static void awaitListening(int port, Process p) throws Exception {
        CountDownLatch never = new CountDownLatch(1);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (System.nanoTime() < deadline && p.isAlive()) {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress("127.0.0.1", port), 1_000);
                return;
            } catch (IOException e) {
                never.await(50, TimeUnit.MILLISECONDS);
            }
        }
        throw new IOException("nginx (h2) did not start on port " + port);
    }
}
