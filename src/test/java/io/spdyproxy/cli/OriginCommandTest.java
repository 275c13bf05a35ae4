package io.spdyproxy.cli;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import io.spdyproxy.proxy.ProxyConfig;
import io.spdyproxy.proxy.ProxyServer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The origin command as the proxy prints it and as it stops: the printed {@code java -jar ...
 * origin ...} line, pasted with only its placeholder filled in, connects and serves; {@code
 * --shutdown-grace} (flag and YAML key) is the time in-flight requests get when it stops.
 */
@Timeout(60)
class OriginCommandTest {
    @TempDir
    Path tmp;

    private static OriginCommand origin(String... args) {
        List<String> all = new ArrayList<>(List.of("origin"));
        all.addAll(List.of(args));
        CommandLine.ParseResult r = new CommandLine(new Main()).parseArgs(all.toArray(String[]::new));
        return (OriginCommand) r.subcommand().commandSpec().userObject();
    }

    private Path www() throws IOException {
        Path d = Files.createDirectories(tmp.resolve("www"));
        Files.writeString(d.resolve("hello.txt"), "hello\n");
        return d;
    }

    @Test
    void shutdownGraceIsAFlagAndAYamlKeyWithTheProxysDefault() throws Exception {
        String dir = www().toString();
        Path yaml = Files.writeString(tmp.resolve("origin.yaml"), "shutdownGrace: 2s\nroot: " + dir + "\n");

        assertThat(origin("--root", dir).settings().config().shutdownGrace()).isEqualTo(Duration.ofSeconds(10));
        assertThat(origin("--config", yaml.toString()).settings().config().shutdownGrace())
                .isEqualTo(Duration.ofSeconds(2));
        assertThat(origin("--config", yaml.toString(), "--shutdown-grace", "750ms").settings().config()
                .shutdownGrace()).isEqualTo(Duration.ofMillis(750));
    }

    @Test
    void upstreamTakesH2cAndHttpsWithTheirCertificateFlags() throws Exception {
        Path ca = tmp.resolve("app-ca.pem");
        io.spdyproxy.tls.PemFiles.write(io.spdyproxy.testing.TestCerts.LOCALHOST, ca, tmp.resolve("app-key.pem"));

        assertThat(origin("--upstream", "h2c://127.0.0.1:50051").settings().upstream().url())
                .isEqualTo(URI.create("h2c://127.0.0.1:50051"));
        var https = origin("--upstream", "https://localhost:8443", "--upstream-ca", ca.toString()).settings().upstream();
        assertThat(https.trustedCa()).isEqualTo(io.spdyproxy.testing.TestCerts.LOCALHOST.certificate());
        assertThat(https.insecure()).isFalse();
        Path yaml = Files.writeString(tmp.resolve("origin.yaml"),
                "upstream: https://localhost:8443\nupstreamInsecure: true\n");
        assertThat(origin("--config", yaml.toString()).settings().upstream().insecure()).isTrue();

        org.assertj.core.api.Assertions.assertThatThrownBy(() -> origin("--upstream", "http://127.0.0.1:8080",
                "--upstream-insecure").settings()).hasMessageContaining("applies to an https:// upstream only");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> origin("--upstream", "ftp://127.0.0.1:21")
                .settings()).hasMessageContaining("h2c://");
    }

    @Test
    void thePrintedOriginCommandRunsAsPrinted() throws Exception {
        ProxyConfig config = ProxyConfig.defaults(tmp.resolve("data")).withBind("127.0.0.1").withPorts(0, 0, -1, -1);
        try (ProxyServer p = ProxyServer.start(config)) {
            String line = banner(config, p).lines().filter(l -> l.contains(" origin --proxy ")).findFirst()
                    .orElseThrow().trim();
            List<String> words = Arrays.asList(line.split(" "));
            assertThat(words.subList(0, 2)).containsExactly("java", "-jar");
            assertThat(words.get(2)).as("from classes, not a jar: an obvious placeholder").isEqualTo(Banner.JAR_PLACEHOLDER);
            List<String> args = new ArrayList<>(words.subList(3, words.size()));
            assertThat(args).containsOnlyOnce(Banner.DIR);
            String dir = www().toString();
            args.replaceAll(w -> w.equals(Banner.DIR) ? dir : w);

            OriginCommand c = origin(args.subList(1, args.size()).toArray(String[]::new));
            try (OriginCommand.Running running = OriginCommand.start(c.settings())) {
                awaitTunnel(p);
                HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + p.httpPort() + "/hello.txt")).build(),
                        HttpResponse.BodyHandlers.ofString());
                assertThat(r.statusCode()).isEqualTo(200);
                assertThat(r.body()).isEqualTo("hello\n");
            }
        }
    }

    /** An app that accepts a request and never answers: the origin's stop waits the grace, no longer. */
    @Test
    void aGracefulStopGivesInFlightRequestsTheConfiguredGrace() throws Exception {
        ProxyConfig config = ProxyConfig.defaults(tmp.resolve("data")).withBind("127.0.0.1").withPorts(0, 0, -1, -1)
                .withAuth(false, java.util.Map.of());
        try (ProxyServer p = ProxyServer.start(config);
                ServerSocket app = new ServerSocket(0, 10, InetAddress.getLoopbackAddress())) {
            CompletableFuture<Socket> accepted = CompletableFuture.supplyAsync(() -> {
                try {
                    return app.accept();
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            OriginCommand c = origin("--proxy", "127.0.0.1:" + p.tunnelPort(), "--fingerprint",
                    p.identity().fingerprint(), "--upstream", "http://127.0.0.1:" + app.getLocalPort(),
                    "--shutdown-grace", "500ms");
            OriginCommand.Running running = OriginCommand.start(c.settings());
            try {
                awaitTunnel(p);
                CompletableFuture<HttpResponse<String>> stuck = HttpClient.newHttpClient().sendAsync(
                        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + p.httpPort() + "/slow")).build(),
                        HttpResponse.BodyHandlers.ofString());
                Socket appSide = accepted.get(10, TimeUnit.SECONDS); // the request reached the app
                long t0 = System.nanoTime();

                running.stopGracefully();

                long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
                assertThat(ms).as("waited for the in-flight request, up to the grace").isBetween(400L, 3000L);
                assertThat(stuck.get(10, TimeUnit.SECONDS).statusCode()).as("cut at the end of the grace")
                        .isGreaterThanOrEqualTo(500);
                appSide.close();
            } finally {
                running.close();
            }
        }
    }

    @Test
    void theJarPathIsAbsoluteWhenRunningFromAJar() throws Exception {
        Path jar = Files.writeString(Files.createDirectories(tmp.resolve("my dir")).resolve("spdy-proxy.jar"), "");

        assertThat(Banner.jarPath(jar)).isEqualTo(jar.toAbsolutePath().toString());
        assertThat(Banner.jarPath(tmp)).isEqualTo(Banner.JAR_PLACEHOLDER);
        assertThat(Banner.shellQuoted(jar.toString())).isEqualTo("'" + jar + "'");
        assertThat(Banner.originHost("0.0.0.0", "proxy.example.net")).isEqualTo("proxy.example.net");
        assertThat(Banner.originHost("0.0.0.0", "localhost")).isEqualTo(Banner.HOST_PLACEHOLDER);
        assertThat(Banner.originHost("::", null)).isEqualTo(Banner.HOST_PLACEHOLDER);
        assertThat(Banner.originHost("10.0.0.5", "proxy.example.net")).isEqualTo("10.0.0.5");
        assertThat(Banner.urlHost("::1")).isEqualTo("[::1]");
    }

    private static void awaitTunnel(ProxyServer p) throws InterruptedException {
        CountDownLatch never = new CountDownLatch(1);
        for (int i = 0; i < 500 && p.tunnels().isEmpty(); i++) {
            never.await(20, TimeUnit.MILLISECONDS);
        }
        assertThat(p.tunnels()).as("the origin connected").hasSize(1);
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
