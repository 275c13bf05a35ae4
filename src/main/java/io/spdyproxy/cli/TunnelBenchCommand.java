package io.spdyproxy.cli;

import io.spdyproxy.bench.TunnelBench;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code spdy-proxy bench}: the tunnel-versus-direct benchmark (see bench/run.sh). */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Benchmark the tunnel against nginx direct (needs nginx, wrk, curl, gnuplot; bench/run.sh installs them).")
final class TunnelBenchCommand implements Callable<Integer> {

    @Option(names = "--quick", description = "A short smoke run with small sizes.")
    boolean quick;

    @Option(names = "--only", split = ",", paramLabel = "SCENARIO",
            description = "Run only these scenarios (comma-separated): small, transfers, storm, idle, websocket, h2, grpc, tunnels, ops, origins.")
    java.util.Set<String> only;

    @Option(names = "--results", defaultValue = "bench/results", description = "Where results go (default: ${DEFAULT-VALUE}).")
    Path results;

    @Option(names = "--work", description = "Scratch directory (default: a new temporary one).")
    Path work;

    @Override
    public Integer call() throws Exception {
        Path jar = Path.of(TunnelBench.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        Path dir = work != null ? work : Files.createTempDirectory("spdy-proxy-bench");
        TunnelBench.Options o = quick ? TunnelBench.Options.quick(jar, dir, results)
                : TunnelBench.Options.full(jar, dir, results);
        if (only != null && !only.isEmpty()) {
            for (String name : only) {
                if (!TunnelBench.Options.SCENARIOS.contains(name)) {
                    throw new picocli.CommandLine.ParameterException(new picocli.CommandLine(this),
                            "unknown scenario '" + name + "'; known: " + TunnelBench.Options.SCENARIOS);
                }
            }
            o = o.withOnly(only);
        }
        String table;
        try {
            table = TunnelBench.run(o, System.out);
        } finally {
            if (work == null) {
                try (var files = Files.walk(dir)) {
                    files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
                }
            }
        }
        System.out.println();
        System.out.print(table);
        System.out.println("\nresults: " + results.resolve("latest.md") + ", " + results.resolve("latest.json")
                + ", " + results.resolve("latest.png"));
        return 0;
    }
}
