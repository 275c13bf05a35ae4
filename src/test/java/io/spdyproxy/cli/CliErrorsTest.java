package io.spdyproxy.cli;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.joran.JoranConfigurator;
import ch.qos.logback.classic.spi.LoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import io.spdyproxy.origin.OriginClient;
import io.spdyproxy.origin.OriginConfig;
import io.spdyproxy.origin.files.FileServerConfig;
import io.spdyproxy.origin.files.StaticFileHandler;
import io.spdyproxy.proxy.ProxyConfig;
import io.spdyproxy.proxy.ProxyIdentity;
import io.spdyproxy.proxy.ProxyServer;
import io.spdyproxy.tls.TlsContexts;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import picocli.CommandLine;

/**
 * Every mistake gets a clear message: the executable, run in-process as {@code main} runs it,
 * answers a wrong certificate pin, a port in use, a missing directory or a malformed address with
 * one line that names the flag and says what to do, and exits; the banner prints URLs one can
 * open and an origin command one can paste. Written against the command line only, so each test
 * also shows what the code before these changes did (it hung, retried or named internal fields).
 */
@Timeout(120)
class CliErrorsTest {
    @TempDir
    Path tmp;

    /** What a command printed and returned. */
    private record Run(int code, String out, String err) {}

    /**
     * Runs {@code spdy-proxy args...} and waits for its exit; a command that never gives up (the
     * old origin, redialling forever) fails the test after 20 s instead of hanging it.
     */
    private static Run run(String... args) throws Exception {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cl = Main.commandLine().setOut(new PrintWriter(out, true)).setErr(new PrintWriter(err, true));
        CompletableFuture<Integer> code = new CompletableFuture<>();
        Thread t = new Thread(() -> code.complete(cl.execute(args)), "cli");
        t.setDaemon(true);
        t.start();
        int exit = code.get(20, TimeUnit.SECONDS);
        return new Run(exit, out.toString(), err.toString());
    }

    private Path dir() throws Exception {
        Path d = Files.createDirectories(tmp.resolve("www"));
        Files.writeString(d.resolve("hello.txt"), "hello\n");
        return d;
    }

    private ProxyConfig proxyConfig(String bind) {
        return ProxyConfig.defaults(tmp.resolve("data")).withBind(bind).withPorts(0, 0, -1, -1);
    }

    private static int freePort() throws Exception {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    // ---- item 1: certificates -----------------------------------------------------------------

    @Test
    void originWithAWrongFingerprintExitsSayingWhatTheProxyPresented() throws Exception {
        try (ProxyServer p = ProxyServer.start(proxyConfig("127.0.0.1").withAuth(false, Map.of()))) {
            String actual = p.identity().fingerprint();
            String wrong = "0123456789abcdef".repeat(4);

            Run r = run("origin", "--proxy", "127.0.0.1:" + p.tunnelPort(), "--fingerprint", wrong,
                    "--root", dir().toString());

            assertThat(r.code()).as(r.err()).isEqualTo(2);
            assertThat(r.err()).contains("presented a certificate with fingerprint " + actual)
                    .contains("--fingerprint expects " + wrong)
                    .contains("use --fingerprint " + actual)
                    .doesNotContain("closed during the handshake");
            assertThat(p.tunnels()).isEmpty();
        }
    }

    @Test
    void originWithoutAPinAgainstASelfSignedProxyExitsAskingForOne() throws Exception {
        try (ProxyServer p = ProxyServer.start(proxyConfig("127.0.0.1").withAuth(false, Map.of()))) {
            Run r = run("origin", "--proxy", "127.0.0.1:" + p.tunnelPort(), "--root", dir().toString());

            assertThat(r.code()).as(r.err()).isEqualTo(2);
            assertThat(r.err()).contains("self-signed and not trusted")
                    .contains("--fingerprint " + p.identity().fingerprint()).contains("--ca FILE");
        }
    }

    @Test
    void originPointedAtTheHttpsPortIsToldItIsNotTheTunnelPort() throws Exception {
        try (ProxyServer p = ProxyServer.start(proxyConfig("127.0.0.1").withPorts(0, 0, 0, -1)
                .withAuth(false, Map.of()))) {
            Run r = run("origin", "--proxy", "127.0.0.1:" + p.httpsPort(), "--fingerprint", p.identity().fingerprint(),
                    "--root", dir().toString());

            assertThat(r.code()).as(r.err()).isEqualTo(2);
            assertThat(r.err()).contains("127.0.0.1:" + p.httpsPort() + " is not a tunnel port")
                    .contains("--https-port").contains("--tunnel-port");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"xyz", "abcdef", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeg"})
    void malformedFingerprintIsRefusedAtStart(String bad) throws Exception {
        Run r = run("origin", "--proxy", "127.0.0.1:" + freePort(), "--fingerprint", bad, "--root", dir().toString());

        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err()).contains("--fingerprint " + bad).contains("64 hex digits");
    }

    // ---- item 2: startup errors name the flag -------------------------------------------------

    @Test
    void aPortInUseNamesThePortAndTheFlag() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            int port = taken.getLocalPort();

            Run http = run("proxy", "--bind", "127.0.0.1", "--port", String.valueOf(port), "--tunnel-port", "0",
                    "--data-dir", tmp.resolve("d").toString());
            Run tunnel = run("proxy", "--bind", "127.0.0.1", "--port", "0", "--tunnel-port", String.valueOf(port),
                    "--data-dir", tmp.resolve("d").toString());

            assertThat(http.code()).isEqualTo(1);
            assertThat(http.err()).contains("--port " + port + ": address already in use")
                    .contains("pick another port with --port");
            assertThat(tunnel.code()).isEqualTo(1);
            assertThat(tunnel.err()).contains("--tunnel-port " + port + ": address already in use")
                    .contains("pick another port with --tunnel-port");
        }
    }

    @Test
    void twoListenersOnOnePortAreNamed() throws Exception {
        int port = freePort();

        Run r = run("proxy", "--bind", "127.0.0.1", "--port", String.valueOf(port), "--tunnel-port",
                String.valueOf(port), "--data-dir", tmp.resolve("d").toString());

        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err()).contains("--tunnel-port " + port + " and --port " + port + ": the same port");
    }

    @Test
    void aMissingRootNamesTheFlag() throws Exception {
        Path missing = tmp.resolve("no-such-dir");

        Run r = run("origin", "--proxy", "127.0.0.1:" + freePort(), "--root", missing.toString());

        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err()).contains("--root " + missing + ": no such directory");
    }

    @ParameterizedTest
    @ValueSource(strings = {"proxy.example.net:abc", "proxy.example.net", "proxy.example.net:", ":1444",
        "proxy.example.net:99999", "::1:1444"})
    void aMalformedProxyAddressNamesTheFlag(String address) throws Exception {
        Run r = run("origin", "--proxy", address, "--root", dir().toString());

        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err()).contains("--proxy " + address + ": ").contains("HOST:PORT");
    }

    @Test
    void aMalformedUpstreamNamesTheFlag() throws Exception {
        Run r = run("origin", "--proxy", "127.0.0.1:" + freePort(), "--upstream", "http://127.0.0.1:abc");

        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err()).contains("--upstream http://127.0.0.1:abc: ");
    }

    /** The config records say "idleTimeout:" and "certFile"; the user typed flags. */
    @Test
    void messagesUseFlagNamesNotInternalFieldNames() throws Exception {
        Path data = tmp.resolve("d");
        Run idle = run("proxy", "--idle-timeout", "0", "--data-dir", data.toString());
        Run certOnly = run("proxy", "--cert", dir().resolve("hello.txt").toString(), "--data-dir", data.toString());
        Run connections = run("origin", "--proxy", "127.0.0.1:" + freePort(), "--connections", "0",
                "--root", dir().toString());
        Run auth = run("proxy", "--auth", "maybe", "--data-dir", data.toString());

        assertThat(idle.code()).isEqualTo(1);
        assertThat(idle.err()).contains("--idle-timeout").doesNotContain("idleTimeout");
        assertThat(certOnly.code()).isEqualTo(1);
        assertThat(certOnly.err()).contains("--cert needs --key").doesNotContain("certFile");
        assertThat(connections.code()).isEqualTo(1);
        assertThat(connections.err()).contains("--connections: 0 (expected: > 0)");
        assertThat(auth.err()).contains("--auth: maybe (expected: token or none)");
    }

    // ---- item 4: --root with --upstream, tokens from both places, URLs one can open ------------

    @Test
    void rootAndUpstreamTogetherAreRefused() throws Exception {
        Run r = run("origin", "--proxy", "127.0.0.1:" + freePort(), "--root", dir().toString(),
                "--upstream", "http://127.0.0.1:8080");

        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err()).contains("--root and --upstream exclude each other");
    }

    /**
     * The token generated at the first start (in the data directory) keeps working when tokens
     * are also given with {@code --token}: both apply, and the banner says where each comes from.
     */
    @Test
    void aGeneratedTokenAndATokenFlagBothApply() throws Exception {
        Path data = tmp.resolve("data");
        ProxyConfig first = proxyConfig("127.0.0.1");
        String generated;
        try (ProxyServer p = ProxyServer.start(first)) {
            generated = p.identity().newToken();
        }
        ProxyConfig later = withTokenFlag(data);

        ProxyIdentity id = ProxyIdentity.load(later);
        assertThat(id.tokenHashes()).containsOnly(
                Map.entry("default", ProxyConfig.hashToken(generated)),
                Map.entry("alpha", ProxyConfig.hashToken("alpha-secret")));

        try (ProxyServer p = ProxyServer.start(later);
                StaticFileHandler files = new StaticFileHandler(FileServerConfig.of(dir()))) {
            String banner = banner(later, p);
            assertThat(banner).contains("origins authenticate with tokens for: [alpha, default]")
                    .contains("[default] from " + data.resolve("tokens"))
                    .contains("[alpha] from --token");
            OriginClient byFile = origin(p, "default", generated, files);
            OriginClient byFlag = origin(p, "alpha", "alpha-secret", files);
            try {
                awaitTunnels(p, 2);
            } finally {
                byFile.close();
                byFlag.close();
            }
        }
    }

    private static ProxyConfig withTokenFlag(Path data) throws Exception {
        CommandLine.ParseResult r = new CommandLine(new Main()).parseArgs("proxy", "--bind", "127.0.0.1",
                "--port", "0", "--tunnel-port", "0", "--data-dir", data.toString(), "--token", "alpha=alpha-secret");
        return ((ProxyCommand) r.subcommand().commandSpec().userObject()).config();
    }

    private static OriginClient origin(ProxyServer p, String name, String token, StaticFileHandler files) {
        return new OriginClient(OriginConfig.of("127.0.0.1", p.tunnelPort()).withCredentials(name, token)
                .withBackoff(Duration.ofMillis(50), Duration.ofSeconds(1)),
                TlsContexts.clientPinned(p.identity().fingerprint()), files, null).start();
    }

    private static void awaitTunnels(ProxyServer p, int n) throws InterruptedException {
        CountDownLatch never = new CountDownLatch(1);
        for (int i = 0; i < 500 && p.tunnels().size() < n; i++) {
            never.await(20, TimeUnit.MILLISECONDS);
        }
        assertThat(p.tunnels()).hasSize(n);
    }

    @Test
    void theBannerPrintsUrlsOneCanOpen() throws Exception {
        try (ProxyServer p = ProxyServer.start(proxyConfig("0.0.0.0").withPorts(0, 0, 0, 0))) {
            String banner = banner(proxyConfig("0.0.0.0"), p);

            assertThat(banner).doesNotContain("0.0.0.0")
                    .contains("http://localhost:" + p.httpPort() + "/")
                    .contains("https://localhost:" + p.httpsPort() + "/");
        }
    }

    // ---- item 3: the printed origin command ---------------------------------------------------

    @Test
    void thePrintedOriginCommandIsAJavaCommandWithTheProxysAddress() throws Exception {
        try (ProxyServer p = ProxyServer.start(proxyConfig("127.0.0.1"))) {
            String banner = banner(proxyConfig("127.0.0.1"), p);

            String command = banner.lines().filter(l -> l.contains(" origin --proxy ")).findFirst().orElse("").trim();
            assertThat(command).startsWith("java -jar ")
                    .contains(" origin --proxy 127.0.0.1:" + p.tunnelPort() + " ")
                    .contains("--token " + p.identity().newToken())
                    .contains("--fingerprint " + p.identity().fingerprint())
                    .endsWith("--root <DIR>");
        }
    }

    // ---- item 5: dated log lines ----------------------------------------------------------------

    @Test
    void logLinesCarryTheDate() throws Exception {
        URL config = CliErrorsTest.class.getClassLoader().getResource("logback.xml");
        assertThat(config).as("the product's logback.xml").isNotNull();
        LoggerContext ctx = new LoggerContext();
        JoranConfigurator j = new JoranConfigurator();
        j.setContext(ctx);
        j.doConfigure(config);
        ch.qos.logback.classic.Logger root = ctx.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        @SuppressWarnings("unchecked")
        ConsoleAppender<ch.qos.logback.classic.spi.ILoggingEvent> appender =
                (ConsoleAppender<ch.qos.logback.classic.spi.ILoggingEvent>) root.getAppender("STDERR");
        PatternLayoutEncoder encoder = (PatternLayoutEncoder) appender.getEncoder();
        LoggingEvent e = new LoggingEvent("x", root, Level.INFO, "tunnel up", null, null);

        String line = encoder.getLayout().doLayout(e);
        ctx.stop();

        assertThat(line).matches("(?s)\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{3}(Z|[+-]\\d{2}:\\d{2}) INFO .*"
                + "tunnel up.*");
    }

    private static String banner(ProxyConfig config, ProxyServer p) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PrintStream original = System.out;
        System.setOut(new PrintStream(out, true, UTF_8));
        try {
            ProxyCommand.printBanner(config, p);
        } finally {
            System.setOut(original);
        }
        return out.toString(UTF_8);
    }
}
