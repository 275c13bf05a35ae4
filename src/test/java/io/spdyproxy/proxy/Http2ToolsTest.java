package io.spdyproxy.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The HTTP/2 front end against real clients (Debian's curl and nghttp2-client): curl
 * {@code --http2} over TLS and {@code --http2-prior-knowledge} on the plain port, {@code nghttp -v}
 * (its frame log shows ALPN h2 and no protocol error), and a short {@code h2load} run with every
 * request answered 200. Each test skips when its tool is missing.
 */
@Timeout(120)
class Http2ToolsTest {
    @TempDir
    Path tmp;
    private ProxyBed bed;

    @BeforeEach
    void setUp() throws Exception {
        bed = new ProxyBed(tmp, c -> c.withPorts(0, 0, 0, -1));
        bed.origin("default", new H2TestApp("default"));
    }

    @AfterEach
    void tearDown() throws Exception {
        bed.close();
    }

    private static void need(String tool) {
        boolean found = false;
        for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            found |= Files.isExecutable(Path.of(dir, tool));
        }
        assumeTrue(found, tool + " is not installed (Debian: curl, nghttp2-client)");
    }

    /** Runs {@code cmd}; returns its exit code and combined output. */
    private record Run(int exit, String out) {}

    private Run run(String... cmd) throws IOException, InterruptedException {
        Path log = Files.createTempFile(tmp, "tool", ".log");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).as("%s finished", cmd[0]).isTrue();
        return new Run(p.exitValue(), Files.readString(log, StandardCharsets.UTF_8));
    }

    private String https(String path) {
        return "https://127.0.0.1:" + bed.proxy.httpsPort() + path;
    }

    private String http(String path) {
        return "http://127.0.0.1:" + bed.port() + path;
    }

    @Test
    void curlOverTlsNegotiatesH2() throws Exception {
        need("curl");
        Run r = run("curl", "-sS", "-k", "--http2", "-o", "/dev/null", "-w", "%{http_version} %{http_code}\\n",
                https("/big?n=1000000"), "-o", "/dev/null", https("/x"));
        assertThat(r.exit()).as(r.out()).isZero();
        assertThat(r.out()).isEqualTo("2 200\n2 200\n");
        Run body = run("curl", "-sS", "-k", "--http2", https("/x"));
        assertThat(body.out()).isEqualTo("default");
    }

    @Test
    void curlWithPriorKnowledgeOnThePlainPort() throws Exception {
        need("curl");
        Run r = run("curl", "-sS", "--http2-prior-knowledge", "-w", "\\n%{http_version} %{http_code}",
                "-H", "Cookie: a=1", "-H", "Cookie: b=2", http("/headers"));
        assertThat(r.exit()).as(r.out()).isZero();
        assertThat(r.out()).contains("host: 127.0.0.1:" + bed.port()).contains("x-forwarded-proto: http\n")
                .endsWith("2 200");
        Run post = run("curl", "-sS", "--http2-prior-knowledge", "--data-binary", "hello", http("/upload"));
        assertThat(post.out()).startsWith("bytes=5 ");
        // Plain HTTP/1.1 on the same port, as before.
        Run h1 = run("curl", "-sS", "--http1.1", "-w", " %{http_version}", http("/x"));
        assertThat(h1.out()).isEqualTo("default 1.1");
    }

    @Test
    void nghttpSeesAlpnH2AndCleanStreams() throws Exception {
        need("nghttp");
        Run r = run("nghttp", "-v", "-n", https("/x"), https("/big?n=300000"), https("/big?chunked&n=70000"));
        assertThat(r.exit()).as(r.out()).isZero();
        assertThat(r.out()).contains("The negotiated protocol: h2").contains(":status: 200")
                .doesNotContain("PROTOCOL_ERROR").doesNotContain("recv RST_STREAM")
                // No connection-specific header ever reaches an HTTP/2 client.
                .doesNotContainIgnoringCase("transfer-encoding:").doesNotContainIgnoringCase("connection:")
                .doesNotContainIgnoringCase("keep-alive:");
        Run plain = run("nghttp", "-v", "-n", http("/x"));
        assertThat(plain.exit()).as(plain.out()).isZero();
        assertThat(plain.out()).contains(":status: 200");
    }

    @Test
    void h2loadShortRunAllAnswered() throws Exception {
        need("h2load");
        List<String> cmd = new ArrayList<>(List.of("h2load", "-n", "500", "-c", "2", "-m", "10", https("/x")));
        Run r = run(cmd.toArray(String[]::new));
        assertThat(r.exit()).as(r.out()).isZero();
        assertThat(r.out()).contains("Application protocol: h2")
                .contains("requests: 500 total, 500 started, 500 done, 500 succeeded, 0 failed, 0 errored")
                .contains("status codes: 500 2xx");
        Run plain = run("h2load", "-n", "200", "-c", "2", "-m", "10", http("/x"));
        assertThat(plain.out()).contains("status codes: 200 2xx");
    }
}
