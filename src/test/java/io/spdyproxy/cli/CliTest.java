package io.spdyproxy.cli;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.spdyproxy.proxy.ProxyConfig;
import io.spdyproxy.proxy.ProxyIdentity;
import io.spdyproxy.proxy.ProxyServer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import picocli.CommandLine;

/**
 * The command line: {@code proxy} flags and YAML file through picocli as {@code Main} wires them,
 * durations, the demo end to end (the README's first command), and the proxy's generated identity.
 */
@Timeout(60)
class CliTest {
    private static final String BETA_HEX = "ABCDEF0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789";

    @TempDir
    Path tmp;

    /** Parses {@code proxy args...} the way the executable does and returns the command object. */
    private static ProxyCommand proxy(String... args) {
        List<String> all = new ArrayList<>(List.of("proxy"));
        all.addAll(List.of(args));
        CommandLine.ParseResult r = new CommandLine(new Main()).parseArgs(all.toArray(String[]::new));
        assertThat(r.subcommand()).isNotNull();
        return (ProxyCommand) r.subcommand().commandSpec().userObject();
    }

    private Path yaml(String text) throws IOException {
        return Files.writeString(tmp.resolve("proxy.yaml"), text, UTF_8);
    }

    private Path fullYaml() throws IOException {
        return yaml("""
                tunnelPort: 2444
                port: 2443
                domain: tunnel.test
                auth: token
                tokens:
                  alpha: secret
                  beta: "sha256:%s"
                responseTimeout: 2s
                """.formatted(BETA_HEX));
    }

    // ---- proxy: flags and YAML ---------------------------------------------------------------

    @Test
    void yamlFileSetsTheProxyConfig() throws Exception {
        ProxyConfig c = proxy("--config", fullYaml().toString()).config();

        assertThat(c.tunnelPort()).isEqualTo(2444);
        assertThat(c.httpPort()).isEqualTo(2443);
        assertThat(c.httpsPort()).isEqualTo(-1);
        assertThat(c.adminPort()).isEqualTo(-1);
        assertThat(c.bind()).isEqualTo("0.0.0.0");
        assertThat(c.domain()).isEqualTo("tunnel.test");
        assertThat(c.defaultTunnel()).isEqualTo("default");
        assertThat(c.authRequired()).isTrue();
        assertThat(c.tokenHashes()).containsOnly(
                Map.entry("alpha", ProxyConfig.hashToken("secret")),
                Map.entry("beta", BETA_HEX.toLowerCase(Locale.ROOT)));
        assertThat(c.responseTimeout()).isEqualTo(Duration.ofSeconds(2));
        assertThat(c.shutdownGrace()).isEqualTo(Duration.ofSeconds(10));
        assertThat(c.pingInterval()).isEqualTo(Duration.ofSeconds(15));
        assertThat(c.dataDir()).isEqualTo(Path.of("spdy-proxy-data"));
        assertThat(c.certFile()).isNull();
    }

    @Test
    void withoutAFileTheDefaultsAreTheReadmes() throws Exception {
        ProxyConfig c = proxy().config();

        assertThat(c.tunnelPort()).isEqualTo(1444);
        assertThat(c.httpPort()).isEqualTo(1443);
        assertThat(c.httpsPort()).isEqualTo(-1);
        assertThat(c.adminPort()).isEqualTo(-1);
        assertThat(c.domain()).isNull();
        assertThat(c.authRequired()).isTrue();
        assertThat(c.tokenHashes()).isEmpty();
        assertThat(c.responseTimeout()).isEqualTo(Duration.ofSeconds(60));
        assertThat(c.shutdownGrace()).isEqualTo(Duration.ofSeconds(10));
        assertThat(c.pingInterval()).isEqualTo(Duration.ofSeconds(15));
    }

    @Test
    void flagsOverrideTheYamlFile() throws Exception {
        ProxyConfig c = proxy("--config", fullYaml().toString(), "--port", "8080", "--response-timeout", "500ms",
                "--token", "alpha=other", "--token", "gamma=sha256:" + ProxyConfig.hashToken("g"),
                "--domain", "example.net", "--default-tunnel", "web", "--auth", "none", "--https-port", "8443",
                "--admin-port", "9000", "--bind", "127.0.0.1", "--shutdown-grace", "1m", "--ping-interval", "PT5S",
                "--data-dir", tmp.resolve("d").toString()).config();

        assertThat(c.tunnelPort()).as("from the file").isEqualTo(2444);
        assertThat(c.httpPort()).isEqualTo(8080);
        assertThat(c.httpsPort()).isEqualTo(8443);
        assertThat(c.adminPort()).isEqualTo(9000);
        assertThat(c.bind()).isEqualTo("127.0.0.1");
        assertThat(c.domain()).isEqualTo("example.net");
        assertThat(c.defaultTunnel()).isEqualTo("web");
        assertThat(c.authRequired()).isFalse();
        assertThat(c.tokenHashes()).containsOnly(
                Map.entry("alpha", ProxyConfig.hashToken("other")),
                Map.entry("beta", BETA_HEX.toLowerCase(Locale.ROOT)),
                Map.entry("gamma", ProxyConfig.hashToken("g")));
        assertThat(c.responseTimeout()).isEqualTo(Duration.ofMillis(500));
        assertThat(c.shutdownGrace()).isEqualTo(Duration.ofMinutes(1));
        assertThat(c.pingInterval()).isEqualTo(Duration.ofSeconds(5));
        assertThat(c.dataDir()).isEqualTo(tmp.resolve("d"));
    }

    @Test
    void unknownYamlKeyIsRejectedNamingTheKeyAndTheFile() throws Exception {
        Path f = yaml("port: 2443\ntunelPort: 2444\n");

        assertThatThrownBy(() -> proxy("--config", f.toString()).config())
                .isInstanceOf(IOException.class)
                .hasMessageContaining("unknown setting 'tunelPort'")
                .hasMessageContaining(f.toString())
                .hasMessageContaining("tunnelPort");

        StringWriter err = new StringWriter();
        int code = new CommandLine(new Main()).setErr(new PrintWriter(err, true)).execute("proxy", "--config",
                f.toString());
        assertThat(code).isNotZero();
        assertThat(err.toString()).contains("unknown setting 'tunelPort'");
    }

    @Test
    void badValuesInTheYamlFileAreRejected() throws Exception {
        Path duration = yaml("responseTimeout: 2 parsecs\n");
        assertThatThrownBy(() -> proxy("--config", duration.toString()).config())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("duration: 2 parsecs")
                .hasMessageContaining("expected: e.g. 500ms, 10s, 2m");

        Path unitless = yaml("shutdownGrace: 10\n");
        assertThatThrownBy(() -> proxy("--config", unitless.toString()).config())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("duration: 10");

        Path port = yaml("port: many\n");
        assertThatThrownBy(() -> proxy("--config", port.toString()).config())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("port: many (expected: a number)");

        Path tokens = yaml("tokens: alpha\n");
        assertThatThrownBy(() -> proxy("--config", tokens.toString()).config())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("tokens (expected: a mapping)");

        Path list = yaml("- port\n- 1443\n");
        assertThatThrownBy(() -> proxy("--config", list.toString()).config())
                .isInstanceOf(IOException.class).hasMessageContaining("expected a mapping of settings");

        Path auth = yaml("auth: maybe\n");
        assertThatThrownBy(() -> proxy("--config", auth.toString()).config())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("auth: maybe (expected: token or none)");

        Path empty = yaml("");
        assertThat(proxy("--config", empty.toString()).config().httpPort()).as("empty file: defaults").isEqualTo(1443);
    }

    @Test
    void badFlagsAreRejected() {
        assertThatThrownBy(() -> proxy("--response-timeout", "5x"))
                .isInstanceOf(CommandLine.ParameterException.class)
                .hasMessageContaining("--response-timeout")
                .hasMessageContaining("5x");
        assertThatThrownBy(() -> proxy("--port", "http"))
                .isInstanceOf(CommandLine.ParameterException.class).hasMessageContaining("--port");
        assertThatThrownBy(() -> proxy("--no-such-flag"))
                .isInstanceOf(CommandLine.ParameterException.class).hasMessageContaining("--no-such-flag");
        assertThatThrownBy(() -> proxy("--token", "no-equals-sign").config())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("expected: NAME=TOKEN");
        assertThatThrownBy(() -> proxy("--auth", "open").config())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("expected: token or none");

        StringWriter err = new StringWriter();
        int code = new CommandLine(new Main()).setErr(new PrintWriter(err, true))
                .execute("proxy", "--ping-interval", "soon");
        assertThat(code).as("picocli's usage error").isEqualTo(2);
        assertThat(err.toString()).contains("--ping-interval").contains("soon");
    }

    /**
     * {@code NAME=sha256:HEX} gives the hash directly (README), so a mistyped hash can never match
     * any token: it should be refused when the configuration is read, the way a bad line in the
     * tokens file is ({@code ProxyIdentity.readTokens}), not surface later at an origin's handshake.
     */
    @Test
    void malformedSha256TokenHashIsRejectedWithTheConfiguration() {
        assertThatThrownBy(() -> proxy("--token", "alpha=sha256:not-hex").config())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("alpha");
        assertThatThrownBy(() -> proxy("--token", "alpha=sha256:" + "ab".repeat(31)).config())
                .as("62 hex digits are not a SHA-256")
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("alpha");
    }

    // ---- durations ---------------------------------------------------------------------------

    @ParameterizedTest
    @CsvSource({
        "250ms, PT0.25S",
        "1500 ms, PT1.5S",
        "10s, PT10S",
        "0s, PT0S",
        "0, PT0S",
        "2m, PT2M",
        "1h, PT1H",
        "' 5S ', PT5S",
        "PT10S, PT10S",
        "pt1m30s, PT1M30S"})
    void durationsParse(String text, String iso) {
        assertThat(Durations.parse(text)).isEqualTo(Duration.parse(iso));
        assertThat(new Durations().convert(text)).isEqualTo(Duration.parse(iso));
    }

    @ParameterizedTest
    @ValueSource(strings = {"", " ", "10", "s", "ms", "abc", "10d", "1.5s", "ten s", "PTX", "10 seconds", "5sec"})
    void badDurationsAreRejected(String text) {
        assertThatThrownBy(() -> Durations.parse(text))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("duration: " + text + " (expected: e.g. 500ms, 10s, 2m)");
    }

    /** A negative timeout, grace or interval means nothing (a negative response timeout: 504 at once). */
    @ParameterizedTest
    @ValueSource(strings = {"-5s", "-1ms", "PT-10S"})
    void negativeDurationsAreRejected(String text) {
        assertThatThrownBy(() -> Durations.parse(text)).isInstanceOf(IllegalArgumentException.class);
    }

    // ---- demo --------------------------------------------------------------------------------

    @Test
    void demoServesTheRootThroughTheTunnelAndExits() throws Exception {
        Path root = Files.createDirectory(tmp.resolve("root"));
        Files.writeString(root.resolve("hello.txt"), "hello\n");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PrintStream original = System.out;
        int code;
        System.setOut(new PrintStream(out, true, UTF_8));
        try {
            code = new CommandLine(new Main()).execute("demo", "--root", root.toString(), "--port", "0",
                    "--tunnel-port", "0", "--exit");
        } finally {
            System.setOut(original);
        }
        String printed = out.toString(UTF_8);
        System.out.print(printed);

        assertThat(code).as("demo --exit; it printed:%n%s", printed).isZero();
        assertThat(printed).contains("through a SPDY/3.1 tunnel").containsPattern("GET http://localhost:\\d+/ -> 200, ");
    }

    // ---- the proxy's identity ----------------------------------------------------------------

    @Test
    void firstStartGeneratesCertificateAndHashedTokenLaterStartsReuseThem() throws Exception {
        Path data = tmp.resolve("data");
        ProxyConfig config = ProxyConfig.defaults(data);

        ProxyIdentity first = ProxyIdentity.load(config);

        assertThat(first.newToken()).isNotBlank();
        assertThat(data.resolve("proxy-cert.pem")).isRegularFile();
        assertThat(data.resolve("proxy-key.pem")).isRegularFile();
        String tokens = Files.readString(data.resolve("tokens"));
        String hash = ProxyConfig.hashToken(first.newToken());
        assertThat(tokens).contains("default:" + hash).doesNotContain(first.newToken());
        assertThat(first.tokenHashes()).containsOnly(Map.entry("default", hash));
        assertThat(first.fingerprint()).matches("[0-9a-f]{64}");
        byte[] certBytes = Files.readAllBytes(data.resolve("proxy-cert.pem"));

        ProxyIdentity second = ProxyIdentity.load(config);

        assertThat(second.newToken()).as("no new token on a later start").isNull();
        assertThat(second.fingerprint()).isEqualTo(first.fingerprint());
        assertThat(second.certificate().certificate()).isEqualTo(first.certificate().certificate());
        assertThat(second.tokenHashes()).isEqualTo(first.tokenHashes());
        assertThat(Files.readAllBytes(data.resolve("proxy-cert.pem"))).isEqualTo(certBytes);
        assertThat(Files.readString(data.resolve("tokens"))).isEqualTo(tokens);
    }

    @Test
    void configuredTokensOrAuthNoneGenerateNoToken() throws Exception {
        Path a = tmp.resolve("a");
        ProxyIdentity configured = ProxyIdentity.load(ProxyConfig.defaults(a)
                .withAuth(true, Map.of("alpha", ProxyConfig.hashToken("s"))));
        Path b = tmp.resolve("b");
        ProxyIdentity open = ProxyIdentity.load(ProxyConfig.defaults(b).withAuth(false, Map.of()));

        assertThat(configured.newToken()).isNull();
        assertThat(configured.tokenHashes()).containsOnly(Map.entry("alpha", ProxyConfig.hashToken("s")));
        assertThat(a.resolve("tokens")).doesNotExist();
        assertThat(open.newToken()).isNull();
        assertThat(open.tokenHashes()).isEmpty();
        assertThat(b.resolve("tokens")).doesNotExist();
        assertThat(b.resolve("proxy-cert.pem")).isRegularFile();
    }

    @Test
    void bannerShowsTheGeneratedTokenOnceWithTheOriginCommand() throws Exception {
        ProxyConfig config = ProxyConfig.defaults(tmp.resolve("banner")).withBind("127.0.0.1")
                .withPorts(0, 0, -1, -1);
        String firstBanner;
        String fingerprint;
        String token;
        try (ProxyServer p = ProxyServer.start(config)) {
            firstBanner = banner(config, p);
            fingerprint = p.identity().fingerprint();
            token = p.identity().newToken();
        }
        String secondBanner;
        try (ProxyServer p = ProxyServer.start(config)) {
            secondBanner = banner(config, p);
        }

        assertThat(token).isNotNull();
        assertThat(firstBanner).contains("certificate SHA-256 fingerprint: " + fingerprint)
                .contains("--token " + token + " --fingerprint " + fingerprint);
        assertThat(secondBanner).contains(fingerprint).doesNotContain(token)
                .contains("origins authenticate with tokens for: [default]");
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
