package io.spdyproxy.testing;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.yaml.snakeyaml.Yaml;

/**
 * A node.js script of {@code src/test/node} run as a peer process, for any test package (the npm
 * spdy interop tests, the WebSocket tests). It talks on stdout in JSON lines (one object per line,
 * parsed with SnakeYAML: JSON is a subset of YAML); its stderr is kept for failure messages;
 * closing its stdin tells it to finish. Tests skip when node or the npm packages
 * ({@code npm ci --prefix src/test/node}) are missing.
 *
 * <p>Threading: driven by one test thread; stdout and stderr are drained by two daemon threads.
 */
public final class NodeScript implements AutoCloseable {
    public static final Path DIR = Path.of(System.getProperty("basedir", "."), "src", "test", "node");
    private static final String EOF = "\u0000eof";
    private static final int STDERR_KEPT = 16 * 1024;

    private final Process process;
    private final String name;
    private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();
    private final StringBuilder stderr = new StringBuilder();
    private final Thread stderrReader;

    private NodeScript(Process process, String name) {
        this.process = process;
        this.name = name;
        drain(process.getInputStream(), name + "-stdout", line -> lines.add(line), () -> lines.add(EOF));
        stderrReader = drain(process.getErrorStream(), name + "-stderr", this::keepStderr, () -> {});
    }

    /**
     * Skips the calling test, saying why, unless node and the pinned npm package {@code pkg} are
     * installed.
     */
    public static void assumeInstalled(String pkg) {
        assumeTrue(node().isPresent(), "node is not on the PATH: install nodejs and npm "
                + "(.ci/run does) to run the tests with npm " + pkg);
        installPackages(pkg);
        assumeTrue(Files.isRegularFile(DIR.resolve("node_modules/" + pkg + "/package.json")),
                "the npm " + pkg + " package is not installed: run npm ci --prefix src/test/node");
    }

    /**
     * Installs the pinned packages once when npm is there and they are not, so that the README's
     * one test command runs these tests on a fresh machine too.
     */
    private static synchronized void installPackages(String pkg) {
        if (Files.isRegularFile(DIR.resolve("node_modules/" + pkg + "/package.json"))) {
            return;
        }
        try {
            Process p = new ProcessBuilder("npm", "ci", "--prefix", DIR.toString(), "--no-audit", "--no-fund")
                    .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            if (!p.waitFor(180, TimeUnit.SECONDS)) {
                p.destroyForcibly();
            }
        } catch (IOException e) {
            // no npm: the assumption below says what to install
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Starts {@code node <script> <args...>} in {@link #DIR}. */
    public static NodeScript start(String script, Object... args) throws IOException {
        List<String> command = new ArrayList<>(List.of(node().orElseThrow().toString(),
                "--no-deprecation", script));
        for (Object a : args) {
            command.add(String.valueOf(a));
        }
        Process p = new ProcessBuilder(command).directory(DIR.toFile()).start();
        return new NodeScript(p, script);
    }

    /** The next JSON object the script printed; fails if none comes within {@code guard}. */
    @SuppressWarnings("unchecked")
    public Map<String, Object> nextJson(Duration guard) throws InterruptedException {
        String line = lines.poll(guard.toMillis(), TimeUnit.MILLISECONDS);
        if (line == null) {
            throw new AssertionError(name + " printed nothing within " + guard + diagnostics());
        }
        if (line.equals(EOF)) {
            lines.add(EOF);
            // It is exiting: let it finish, so that its last words on stderr are in the message.
            process.waitFor(guard.toMillis(), TimeUnit.MILLISECONDS);
            stderrReader.join(guard.toMillis());
            throw new AssertionError(name + " ended its output without a report (exit code "
                    + (process.isAlive() ? "none yet" : process.exitValue()) + ")" + diagnostics());
        }
        try {
            return (Map<String, Object>) new Yaml().load(line);
        } catch (RuntimeException e) {
            throw new AssertionError(name + " printed a line that is not a JSON object: " + line
                    + diagnostics(), e);
        }
    }

    /** Writes {@code line} and a newline to the script's stdin (a command, for scripts that take them). */
    public void sendLine(String line) throws IOException {
        process.getOutputStream().write((line + "\n").getBytes(StandardCharsets.UTF_8));
        process.getOutputStream().flush();
    }

    /** Closes the script's stdin: the scripts take that as "finish and exit". */
    public void closeStdin() throws IOException {
        process.getOutputStream().close();
    }

    /** Waits for the script to exit and returns its exit code; fails past {@code guard}. */
    public int waitForExit(Duration guard) throws InterruptedException {
        if (!process.waitFor(guard.toMillis(), TimeUnit.MILLISECONDS)) {
            throw new AssertionError(name + " did not exit within " + guard + diagnostics());
        }
        return process.exitValue();
    }

    /** What the script wrote to stderr (the last {@value #STDERR_KEPT} characters), for messages. */
    public String diagnostics() {
        synchronized (stderr) {
            return stderr.isEmpty() ? "" : "\n" + name + " stderr:\n" + stderr;
        }
    }

    @Override
    public void close() {
        process.destroyForcibly();
    }

    private void keepStderr(String line) {
        synchronized (stderr) {
            stderr.append(line).append('\n');
            if (stderr.length() > STDERR_KEPT) {
                stderr.delete(0, stderr.length() - STDERR_KEPT);
            }
        }
    }

    private static Thread drain(InputStream in, String threadName, Consumer<String> each,
            Runnable atEnd) {
        Thread t = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; ) {
                    each.accept(line);
                }
            } catch (IOException e) {
                each.accept("(" + threadName + " failed: " + e + ")");
            } finally {
                atEnd.run();
            }
        }, threadName);
        t.setDaemon(true);
        t.start();
        return t;
    }

    private static Optional<Path> node() {
        String path = System.getenv("PATH");
        if (path == null) {
            return Optional.empty();
        }
        for (String dir : path.split(File.pathSeparator)) {
            Path candidate = Path.of(dir, "node");
            if (Files.isExecutable(candidate)) {
                return Optional.of(candidate);
            }
        }
        return Optional.empty();
    }
}
