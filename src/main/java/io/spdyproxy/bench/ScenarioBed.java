package io.spdyproxy.bench;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * What the HTTP/2 scenarios of issue 11 ({@link H2LoadBench}, {@link GrpcBench}, {@link
 * TunnelProtocolBench}) need from the {@link TunnelBench} run that started nginx, the proxy and
 * the file-server origin, plus the small helpers they share. Rows of the table are {@code name,
 * direct, tunnel (file server), tunnel (upstream), ratio}, as in TunnelBench.
 *
 * @param jar the product jar (for more origin processes)
 * @param work the run's scratch directory
 * @param data the generated data set ({@code small.bin}, {@code big.bin})
 * @param proxyHttpPort the proxy's plain front end
 * @param proxyHttpsPort the proxy's TLS front end
 * @param domain the proxy's domain: tunnel {@code name} serves {@code name.<domain>}
 * @param seconds how long each measurement runs
 * @param quick a smoke run: short and small
 * @param origins starts an origin process and waits for its tunnel
 * @param load TunnelBench's wrk and curl runs
 */
public record ScenarioBed(Path jar, Path work, Path data, int proxyHttpPort, int proxyHttpsPort, String domain,
        int seconds, boolean quick, WebSocketBench.OriginStarter origins, Load load) {

    /** TunnelBench's load tools, so the tunnel comparison measures exactly as the other scenarios do. */
    public interface Load {
        /** wrk for the run's seconds: rps, p50, p99, p999 (µs), errors, requests. */
        Map<String, String> wrk(int connections, String url, String host) throws Exception;

        /** n curl processes at once, downloading or uploading the big file; aggregate MB/s. */
        double curl(int n, String url, String host, boolean upload) throws Exception;

        /** The big file's size in bytes. */
        long bigBytes();
    }

    static boolean onPath(String tool) {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, tool))) {
                return true;
            }
        }
        return Files.isExecutable(Path.of("/usr/sbin", tool));
    }

    static String exec(List<String> cmd, long timeoutSeconds) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        CompletableFuture<String> text = CompletableFuture.supplyAsync(() -> {
            try {
                return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            } catch (IOException e) {
                return "";
            }
        });
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException(cmd.get(0) + " timed out");
        }
        return text.get(10, TimeUnit.SECONDS);
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    static String fmt(double d) {
        return String.format(Locale.ROOT, d >= 100 ? "%.0f" : "%.2f", d);
    }

    static String ratio(double a, double b) {
        return b <= 0 || a < 0 ? "-" : String.format(Locale.ROOT, "%.2f", a / b);
    }

    static String ratio(String a, String b) {
        try {
            return ratio(Double.parseDouble(a), Double.parseDouble(b));
        } catch (RuntimeException e) {
            return "-";
        }
    }
}
