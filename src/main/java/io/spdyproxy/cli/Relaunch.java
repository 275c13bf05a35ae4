package io.spdyproxy.cli;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * Runs the long-lived commands ({@code proxy}, {@code origin}, {@code demo}) in a second JVM with
 * flags chosen for a small footprint, when the user started {@code java -jar spdy-proxy.jar}
 * without JVM flags of their own. Measured under the benchmark's 1,000-slow-client storm, the
 * settings that can be made from inside a running JVM ({@link ProcessDefaults}) leave the proxy at
 * about 430 MiB resident against 17 MiB of live heap: with the default maximum heap (a quarter of
 * RAM) G1 grows the heap after young collections however small the live data, and glibc keeps
 * freed direct-buffer chunks in its per-thread arenas. Neither can be changed after start.
 *
 * <ul>
 *   <li>{@code -XX:+UseSerialGC}: the heap grows and shrinks by free ratio alone after each
 *       collection, so it follows the live data; with a small live heap its young pauses are a few
 *       milliseconds. The maximum heap stays the JVM's default.</li>
 *   <li>{@code -Xms16m} and free ratios 20/40: start small, grow on demand, give back.</li>
 *   <li>{@code MALLOC_ARENA_MAX=2}, {@code MALLOC_MMAP_THRESHOLD_=131072}: Netty's direct chunks
 *       (megabytes each) stay in their own mappings and go back to the system when freed, instead
 *       of the dynamic threshold moving them into arenas that never shrink.</li>
 * </ul>
 *
 * The parent waits for the child with the same standard streams, passes SIGTERM/SIGINT on (its
 * shutdown hook stops the child and waits for its graceful shutdown) and exits with the child's
 * exit code; the child exits if the parent dies. Any {@code -X}/{@code -XX} flag or agent given by
 * the user, or {@code -Dspdyproxy.relaunch=false}, keeps everything in one JVM.
 *
 * <p>Threading: used once from {@code main}; the shutdown hook only touches the child process.
 */
final class Relaunch {
    /** Set in the child's environment: never relaunch twice. */
    static final String MARKER = "SPDYPROXY_RELAUNCHED";

    /**
     * A young generation of up to 32 MiB: with only -Xms16m the young generation was a few MiB,
     * collected every few hundred requests, and small responses at 100 connections fell from 0.57
     * to 0.44 of nginx direct (bench/results/run-2026-12-03-issue10*); with it they stay at 0.57.
     * That was measured with {@code -Xmn32m}, which the JVM cuts down to the 16 MiB initial heap
     * less the old generation's 64 KiB, printing a warning at every start. NewSize=16320k with
     * MaxNewSize=32m is exactly what it made of it ({@code -XX:+PrintFlagsFinal} shows the same
     * values), without the warning.
     */
    static final List<String> JVM_FLAGS = List.of("-XX:+UseSerialGC", "-Xms16m", "-XX:NewSize=16320k",
            "-XX:MaxNewSize=32m", "-XX:MinHeapFreeRatio=20", "-XX:MaxHeapFreeRatio=40");

    static final Map<String, String> ENV = Map.of("MALLOC_ARENA_MAX", "2", "MALLOC_MMAP_THRESHOLD_", "131072");

    private static final Set<String> COMMANDS = Set.of("proxy", "origin", "demo");

    private Relaunch() {}

    /**
     * Whether to run {@code args} in a child JVM: a long-lived command, started from a jar, with
     * no JVM option of the user's other than {@code -D} properties, and not already relaunched.
     */
    static boolean wanted(String[] args, List<String> jvmArgs, Map<String, String> env, Properties props,
            String classPath) {
        if (env.containsKey(MARKER) || "false".equals(props.getProperty("spdyproxy.relaunch"))) {
            return false;
        }
        if (args.length == 0 || !COMMANDS.contains(args[0])) {
            return false;
        }
        for (String a : jvmArgs) {
            if (!a.startsWith("-D")) {
                return false; // heap, GC or agent flags: the user's choice stands as given
            }
        }
        return classPath != null && classPath.endsWith(".jar") && !classPath.contains(java.io.File.pathSeparator);
    }

    /** The child's command line: our flags, then the user's {@code -D} properties, then Main. */
    static List<String> command(Path javaHome, List<String> jvmArgs, String classPath, String[] args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(javaHome.resolve("bin").resolve("java").toString());
        cmd.addAll(JVM_FLAGS);
        cmd.addAll(jvmArgs);
        cmd.addAll(List.of("-cp", classPath, Main.class.getName()));
        cmd.addAll(List.of(args));
        return cmd;
    }

    /** Relaunches this process's command when {@link #wanted} says so; returns its exit code, or -1. */
    static int maybeRun(String[] args) {
        List<String> jvmArgs = ManagementFactory.getRuntimeMXBean().getInputArguments();
        String cp = System.getProperty("java.class.path");
        if (!wanted(args, jvmArgs, System.getenv(), System.getProperties(), cp)
                || !Files.isRegularFile(Path.of(cp))) {
            return -1;
        }
        try {
            return run(command(Path.of(System.getProperty("java.home")), jvmArgs, cp, args), ENV);
        } catch (IOException e) {
            return -1; // no second JVM to be had: run here, with the in-process defaults
        }
    }

    /** Runs {@code cmd} with inherited standard streams until it exits; returns its exit code. */
    static int run(List<String> cmd, Map<String, String> extraEnv) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(cmd).inheritIO();
        Map<String, String> env = pb.environment();
        extraEnv.forEach(env::putIfAbsent); // the user's own malloc settings win
        env.put(MARKER, "1");
        Process child = pb.start();
        int main = cmd.indexOf(Main.class.getName());
        if (main >= 0 && main + 1 < cmd.size() && cmd.get(main + 1).equals("proxy")) {
            // The proxy reloads on SIGHUP (systemd's ExecReload signals the main PID, this one).
            io.spdyproxy.proxy.live.Sighup.install(() -> forwardHangUp(child));
        }
        Thread stop = new Thread(() -> stop(child), "stop-child");
        Runtime.getRuntime().addShutdownHook(stop);
        boolean interrupted = false;
        while (true) {
            try {
                int code = child.waitFor();
                try {
                    Runtime.getRuntime().removeShutdownHook(stop);
                } catch (IllegalStateException e) {
                    // already shutting down: the hook is running or ran
                }
                if (interrupted) {
                    Thread.currentThread().interrupt();
                }
                return code;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
    }

    /** Passes SIGHUP on to the child (Java can send only SIGTERM/SIGKILL itself, so {@code kill}). */
    private static void forwardHangUp(Process child) {
        try {
            new ProcessBuilder("kill", "-HUP", Long.toString(child.pid())).inheritIO().start();
        } catch (IOException e) {
            System.err.println("spdy-proxy: cannot pass SIGHUP on to the proxy (pid " + child.pid() + "): " + e);
        }
    }

    /** The parent got a signal: the child gets SIGTERM and time for its graceful shutdown. */
    private static void stop(Process child) {
        child.destroy();
        try {
            if (!child.waitFor(60, TimeUnit.SECONDS)) {
                child.destroyForcibly();
            }
        } catch (InterruptedException e) {
            child.destroyForcibly();
        }
    }

    /** In the child: exit when the parent is gone (killed with SIGKILL, say), never linger. */
    static void exitWithParent() {
        if (System.getenv(MARKER) == null) {
            return;
        }
        ProcessHandle.current().parent().ifPresent(p -> p.onExit().thenRun(() -> System.exit(143)));
    }
}
