package io.spdyproxy.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The benchmark's {@code grpc} scenario (issue 11): unary gRPC calls per second from N concurrent
 * callers, straight to a grpc-java server and through the proxy's h2c front end, the tunnel and
 * an origin with {@code --upstream h2c://} (target: at least 0.5 of direct).
 *
 * <p>grpc-java is a test dependency, kept out of the product jar: the server and the load
 * generator ({@code io.spdyproxy.grpc.GrpcBenchTool}, in the test sources) run as JVMs of their
 * own on the test classpath, taken from {@code -Dbench.grpcClasspath}, else from the test JVM
 * that runs the benchmark (the smoke test), else from Maven in the source checkout ({@code mvn
 * test-compile dependency:build-classpath}). Without any, the scenario is skipped and says why.
 *
 * <p>Threading: runs on the calling thread.
 */
public final class GrpcBench {
    /** The tunnel name of the scenario's origin; the proxy needs a token for it. */
    public static final String TUNNEL = "grpc";
    private static final String TOOL = "io.spdyproxy.grpc.GrpcBenchTool";
    private static final Pattern PORT = Pattern.compile("port: (\\d+)");
    private static final Pattern FIELD = Pattern.compile("\"(\\w+)\":([0-9.]+)");

    private final ScenarioBed bed;
    private final PrintStream out;
    private final String classpath;

    private GrpcBench(ScenarioBed bed, PrintStream out, String classpath) {
        this.bed = bed;
        this.out = out;
        this.classpath = classpath;
    }

    /** Runs the scenario; figures under {@code "grpc"} in {@code results}, rows in {@code table}. */
    public static void run(ScenarioBed bed, PrintStream out, Map<String, Object> results, List<String[]> table)
            throws Exception {
        String cp = classpath(bed, out);
        if (cp == null) {
            out.println("  grpc: skipped (no test classpath with grpc-java: pass -Dbench.grpcClasspath=...)");
            table.add(new String[] {"gRPC unary: skipped, no grpc-java classpath (-Dbench.grpcClasspath)", "", "",
                    "", ""});
            return;
        }
        new GrpcBench(bed, out, cp).measure(results, table);
    }

    private void measure(Map<String, Object> results, List<String[]> table) throws Exception {
        Process server = new ProcessBuilder(java(List.of("server"))).redirectErrorStream(true).start();
        try {
            int port = serverPort(server);
            try {
                bed.origins().start(TUNNEL, "--upstream", "h2c://127.0.0.1:" + port);
            } catch (Exception e) { // an origin without h2c:// upstreams: still report the direct figures
                out.println("  grpc: the origin with --upstream h2c:// did not come up: " + e.getMessage());
            }
            String authority = TUNNEL + "." + bed.domain();
            Map<String, Object> figures = new LinkedHashMap<>();
            for (int callers : bed.quick() ? new int[] {50} : new int[] {1, 50}) {
                Map<String, Double> d = load("127.0.0.1:" + port, "127.0.0.1", callers);
                Map<String, Double> t = load("127.0.0.1:" + bed.proxyHttpPort(), authority, callers);
                figures.put("callers_" + callers, Map.of("direct", d, "tunnel", t));
                String name = "gRPC unary (grpc-java, 100 B, h2c front end), " + callers + " callers";
                boolean failed = t.getOrDefault("calls", 0.0) == 0;
                table.add(row(name + ": calls/s", d.get("cps"), failed ? -1 : t.get("cps")));
                table.add(row(name + ": p50 (µs)", d.get("p50"), failed ? -1 : t.get("p50")));
                table.add(row(name + ": p99 (µs)", d.get("p99"), failed ? -1 : t.get("p99")));
            }
            results.put("grpc", figures);
        } finally {
            server.getOutputStream().close(); // the server's signal to stop
            if (!server.waitFor(15, TimeUnit.SECONDS)) {
                server.destroyForcibly();
            }
        }
    }

    private static String[] row(String name, double direct, double tunnel) {
        return new String[] {name, ScenarioBed.fmt(direct), "", tunnel < 0 ? "failed" : ScenarioBed.fmt(tunnel),
                ScenarioBed.ratio(tunnel, direct)};
    }

    private Map<String, Double> load(String target, String authority, int callers) throws Exception {
        int seconds = bed.seconds();
        String text = ScenarioBed.exec(java(List.of("load", target, authority, String.valueOf(callers),
                String.valueOf(seconds), String.valueOf(bed.quick() ? 1 : 5))), seconds + 120);
        Map<String, Double> m = new LinkedHashMap<>();
        String json = text.lines().filter(l -> l.startsWith("{")).reduce((a, b) -> b).orElse("");
        Matcher f = FIELD.matcher(json);
        while (f.find()) {
            m.put(f.group(1), Double.parseDouble(f.group(2)));
        }
        out.println("  grpc load x" + callers + " " + target + " (" + authority + "): " + m);
        if (m.isEmpty()) {
            out.println("  the load generator said:\n" + text.lines().limit(20).map(s -> "    " + s)
                    .reduce("", (a, b) -> a + b + "\n"));
        }
        return m;
    }

    private List<String> java(List<String> args) {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", classpath, TOOL));
        cmd.addAll(args);
        return cmd;
    }

    private static int serverPort(Process server) throws IOException {
        BufferedReader r = new BufferedReader(new InputStreamReader(server.getInputStream(), StandardCharsets.UTF_8));
        String line;
        while ((line = r.readLine()) != null) {
            Matcher m = PORT.matcher(line);
            if (m.find()) {
                Thread drain = new Thread(() -> { // keep the pipe from filling up with the server's logs
                    try {
                        while (r.readLine() != null) {
                            // discard
                        }
                    } catch (IOException e) {
                        // the server ended
                    }
                }, "grpc-server-log");
                drain.setDaemon(true);
                drain.start();
                return Integer.parseInt(m.group(1));
            }
        }
        throw new IOException("the gRPC server did not start");
    }

    /** The test classpath holding grpc-java and the tool, or null. */
    private static String classpath(ScenarioBed bed, PrintStream out) throws Exception {
        String configured = System.getProperty("bench.grpcClasspath");
        if (configured != null && !configured.isBlank()) {
            return configured;
        }
        for (String property : new String[] {"surefire.test.class.path", "java.class.path"}) {
            String cp = System.getProperty(property, "");
            if (cp.contains("grpc-netty-shaded") && cp.contains("test-classes")) {
                return cp; // running inside the test suite (the smoke test)
            }
        }
        Path project = bed.jar().toAbsolutePath().getParent().getParent();
        if (!Files.exists(project.resolve("pom.xml")) || !ScenarioBed.onPath("mvn")) {
            return null;
        }
        Path file = bed.work().resolve("grpc-classpath.txt");
        out.println("  grpc: building the test classpath with Maven in " + project);
        ScenarioBed.exec(List.of("mvn", "-q", "-B", "-f", project.resolve("pom.xml").toString(), "test-compile",
                "dependency:build-classpath", "-Dmdep.includeScope=test", "-Dmdep.outputFile=" + file), 600);
        if (!Files.exists(file)) {
            return null;
        }
        return project.resolve("target/test-classes") + java.io.File.pathSeparator + Files.readString(file).trim();
    }
}
