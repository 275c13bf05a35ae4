package io.spdyproxy.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A short run of the tunnel benchmark (bench/run.sh --quick), so it cannot silently rot: it starts
 * nginx, the packaged jar's proxy and origins, runs every scenario with small sizes and checks the
 * table has every row with figures. Skipped, with the reason, when nginx, wrk, curl or gnuplot is
 * missing (bench/run.sh and .ci/run install them).
 */
class TunnelBenchSmokeIT {

    @Test
    @Timeout(value = 10, unit = TimeUnit.MINUTES) // every scenario, each starting its own JVMs
    void quickRunProducesEveryFigure(@TempDir Path work) throws Exception {
        for (String tool : new String[] {"nginx", "wrk", "curl", "gnuplot"}) {
            assumeTrue(onPath(tool), tool + " is not installed: bench/run.sh installs it");
        }
        Path jar = Path.of(System.getProperty("bench.jar", "target/spdy-proxy.jar"));
        assumeTrue(Files.exists(jar), "no packaged jar at " + jar + " (run mvn verify)");
        // nginx's workers run unprivileged: they must be able to enter the data directory.
        work.toFile().setReadable(true, false);
        work.toFile().setExecutable(true, false);
        Path results = work.resolve("results");
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        String table = TunnelBench.run(TunnelBench.Options.quick(jar, work.resolve("run"), results),
                new PrintStream(log, true, StandardCharsets.UTF_8));
        assertThat(table).contains("1 KiB responses, 100 conn: requests/s", "download x8: MB/s",
                "upload x1", "slow clients", "open streams on one tunnel", "connected tunnels",
                "proxy restart", "WebSocket echo round trip", "idle WebSockets",
                // issue 11's scenarios: a row each, with figures or saying why they were skipped
                "h2load", "gRPC unary", "HTTP/2 tunnel");
        assertThat(table.lines().filter(l -> l.startsWith("| ")).count()).isGreaterThanOrEqualTo(20);
        assertThat(Files.readString(results.resolve("latest.json"))).contains("\"small_c100\"", "\"many_origins\"");
        assertThat(results.resolve("latest.png")).exists();
    }

    private static boolean onPath(String tool) {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
            if (Files.isExecutable(Path.of(dir, tool))) {
                return true;
            }
        }
        return Files.isExecutable(Path.of("/usr/sbin", tool));
    }
}
