package io.spdyproxy.cli;

import io.spdyproxy.bench.SessionBench;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Runs the SPDY session benchmark over loopback and prints its figures. */
@Command(name = "bench-session", mixinStandardHelpOptions = true,
        description = "Benchmark one SPDY session over loopback TLS: 1 and 100 concurrent streams.")
final class BenchCommand implements Callable<Integer> {

    @Option(names = "--bytes", defaultValue = "1073741824",
            description = "Bytes moved per scenario (default: ${DEFAULT-VALUE}).")
    long bytes;

    @Option(names = "--requests", defaultValue = "20000",
            description = "Small requests for the request-rate scenario (default: ${DEFAULT-VALUE}).")
    int requests;

    @Override
    public Integer call() throws Exception {
        SessionBench.run(bytes, requests, System.out);
        return 0;
    }
}
