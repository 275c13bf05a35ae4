package io.spdyproxy.interop;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpVersion;
import io.spdyproxy.example.ExampleHandler;
import io.spdyproxy.tunnel.spdy.SpdyTunnelSession;
import io.spdyproxy.spdy.SpdyRole;
import io.spdyproxy.spdy.SpdySession;
import io.spdyproxy.spdy.SpdySessionConfig;
import io.spdyproxy.spdy.SpdySessionListener;
import io.spdyproxy.spdy.http.SpdyClient;
import io.spdyproxy.spdy.http.SpdyServer;
import io.spdyproxy.testing.NodeScript;
import io.spdyproxy.testing.TestCerts;
import io.spdyproxy.tls.PemFiles;
import io.spdyproxy.tls.TlsContexts;
import io.spdyproxy.transport.Transport;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Interop with an independent SPDY/3.1 implementation, the npm {@code spdy} package (pinned in
 * {@code src/test/node/package.json}), in both roles, over loopback TLS with ALPN spdy/3.1.
 *
 * <p>Besides the basics (headers, 1 MiB bodies both ways, flow control), each test runs 2,000
 * requests on one session with many of them cancelled mid-body; uploads come back byte for byte,
 * downloads are checked for their length against our example server (whose {@code /bytes} content
 * is unspecified) and byte for byte against npm's. npm spdy answers every DATA frame
 * that was in flight for a stream it closed with RST_STREAM INVALID_STREAM, answers our
 * RST_STREAM with one of its own, and answers a WINDOW_UPDATE that crosses its FIN with
 * RST_STREAM INVALID_STREAM: thousands of resets of streams that are already closed, none of
 * them an attack. The session must survive all of it (issue 9: a rapid-reset guard that counts
 * them ends healthy sessions).
 */
@Timeout(60)
class NpmSpdyInteropTest {
    private static final int REQUESTS = 2_000;
    private static final int CONCURRENCY = 16;
    /** The default {@code maxResetsPerWindow}: a guard counting every RST_STREAM trips past it. */
    private static final int RESETS_A_NAIVE_GUARD_ALLOWS = 1_000;
    private static final Duration GUARD = Duration.ofSeconds(40);
    private static final String ALPN = "spdy/3.1";

    private static EventLoopGroup group;

    @BeforeAll
    static void start() {
        group = Transport.newGroup(2, "npm-interop");
    }

    @BeforeEach
    void requireNode() {
        NodeScript.assumeInstalled("spdy"); // per test, so that each skip is reported with its reason
    }

    @AfterAll
    static void stop() {
        if (group != null) {
            group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    @Test
    void npmClientRunsTwoThousandRequestsWithCancelsOnOneSessionOfOurServer() throws Exception {
        try (SpdyServer server = SpdyServer.start(new InetSocketAddress("127.0.0.1", 0),
                TlsContexts.server(TestCerts.LOCALHOST, List.of(ALPN)),
                SpdySessionConfig.builder(SpdyRole.SERVER).build(), SpdyTunnelSession.listener(new ExampleHandler()), group);
                NodeScript client = NodeScript.start("npm-client.js", server.port(), REQUESTS,
                        5, 3, CONCURRENCY)) {
            Map<String, Object> r = client.nextJson(GUARD);
            // While the client still holds its session: one, and still open.
            List<SpdySession.State> sessions = server.sessions().stream().map(SpdySession::state).toList();
            client.closeStdin();
            assertThat(client.waitForExit(GUARD)).as("npm-client.js exit code%s", client.diagnostics())
                    .isZero();

            String report = "npm client report: " + r;
            Map<?, ?> basics = (Map<?, ?>) r.get("basics");
            assertThat(r.get("protocol")).as(report).isEqualTo(ALPN);
            assertThat(basics.get("helloStatus")).as(report).isEqualTo(200);
            assertThat(basics.get("helloBody")).as(report).isEqualTo("Hello from spdy-proxy over spdy/3.1\n");
            assertThat(basics.get("helloContentType")).as(report).isEqualTo("text/plain; charset=utf-8");
            assertThat(basics.get("megabyteBothWays")).as(report).isEqualTo(true);

            // The session was never ended by us: no GOAWAY, one connection throughout, every
            // request that was not cancelled completed with the right bytes.
            assertThat(r.get("goawayReceived")).as(report).isEqualTo(0);
            assertThat(r.get("closedEarly")).as(report).isEqualTo(false);
            assertThat(r.get("connections")).as(report).isEqualTo(1);
            assertThat(r.get("failed")).as(report).isEqualTo(0);
            assertThat(r.get("wrongBytes")).as(report).isEqualTo(0);
            assertThat((int) r.get("completed") + (int) r.get("cancelled")).as(report).isEqualTo(REQUESTS);
            assertThat((int) r.get("cancelled")).as(report).isEqualTo(REQUESTS / 5);
            assertThat(sessions).as(report).containsExactly(SpdySession.State.ACTIVE);

            // The run exercised what it claims: more resets than a guard counting every one allows.
            assertThat(total(r.get("rstSent"))).as(report).isGreaterThan(RESETS_A_NAIVE_GUARD_ALLOWS);
        }
    }

    @Test
    void ourClientRunsTwoThousandRequestsWithCancelsOnOneSessionOfNpmServer(@TempDir Path dir)
            throws Exception {
        Path cert = dir.resolve("cert.pem");
        Path key = dir.resolve("key.pem");
        PemFiles.write(TestCerts.LOCALHOST, cert, key);
        try (NodeScript server = NodeScript.start("npm-server.js", cert, key)) {
            int port = (int) server.nextJson(GUARD).get("port");
            SpdySession session = SpdyClient.connect(group, new InetSocketAddress("127.0.0.1", port),
                    TlsContexts.client(TestCerts.LOCALHOST.certificate(), List.of(ALPN)),
                    SpdySessionConfig.builder(SpdyRole.CLIENT).build(), SpdySessionListener.refusingStreams())
                    .get(GUARD.toSeconds(), TimeUnit.SECONDS);
            try {
                basicsAgainstNpmServer(session);
                ClientWorkload mix = new ClientWorkload(session);
                try {
                    mix.run(REQUESTS, CONCURRENCY).get(GUARD.toSeconds(), TimeUnit.SECONDS);
                } catch (TimeoutException e) {
                    throw new AssertionError("requests stalled: " + mix + "; session " + session.state()
                            + server.diagnostics(), e);
                }
                SpdySession.State stateAfterRun = session.state();
                server.closeStdin();
                Map<String, Object> r = server.nextJson(GUARD);
                String report = "our client: " + mix + "; session " + stateAfterRun
                        + "; npm server report: " + r + server.diagnostics();

                // The session was never ended by us (no GOAWAY, one connection throughout), and every
                // request that was not cancelled completed with the right bytes.
                assertThat(stateAfterRun).as(report).isEqualTo(SpdySession.State.ACTIVE);
                assertThat(r.get("goawayReceived")).as(report).isEqualTo(0);
                assertThat(r.get("sessions")).as(report).isEqualTo(1);
                assertThat(r.get("sessionsClosed")).as(report).isEqualTo(0);
                assertThat(mix.failed.get()).as(report).isZero();
                assertThat(mix.completed.get()).as(report).isEqualTo(REQUESTS * 2 / 5);
                assertThat(mix.cancelled.get()).as(report).isEqualTo(REQUESTS * 2 / 5);
                assertThat(mix.refused.get()).as(report).isEqualTo(REQUESTS / 5);

                // The run exercised what it claims: more resets than a guard counting every one allows.
                assertThat(total(r.get("rstSent"))).as(report).isGreaterThan(RESETS_A_NAIVE_GUARD_ALLOWS);
            } finally {
                session.close();
                session.channel().closeFuture().awaitUninterruptibly(GUARD.toMillis());
            }
            assertThat(server.waitForExit(GUARD)).as("npm-server.js exit code%s", server.diagnostics())
                    .isZero();
        }
    }

    /** Headers both ways, and 1 MiB bodies both ways: 16 times the 64 KiB initial window. */
    private static void basicsAgainstNpmServer(SpdySession session) throws Exception {
        FullHttpRequest hello = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/");
        hello.headers().set(HttpHeaderNames.HOST, "localhost");
        hello.headers().set("x-interop", "spdy-proxy");
        FullHttpResponse r = SpdyClient.fetch(session, hello, "https", 1 << 16)
                .get(GUARD.toSeconds(), TimeUnit.SECONDS);
        try {
            assertThat(r.status().code()).isEqualTo(200);
            assertThat(r.headers().get("x-interop")).isEqualTo("spdy-proxy");
            assertThat(r.headers().get(HttpHeaderNames.CONTENT_TYPE)).isEqualTo("text/plain");
            ByteBuf body = r.content();
            assertThat(body.toString(StandardCharsets.UTF_8)).isEqualTo("hello from npm spdy\n");
        } finally {
            r.release();
        }
        ClientWorkload one = new ClientWorkload(session);
        one.download(1 << 20).get(GUARD.toSeconds(), TimeUnit.SECONDS);
        one.upload(ClientWorkload.random(1 << 20, 42)).get(GUARD.toSeconds(), TimeUnit.SECONDS);
        assertThat(one.completed.get()).as("1 MiB each way: %s", one).isEqualTo(2);
    }

    private static int total(Object counts) {
        return ((Map<?, ?>) counts).values().stream().mapToInt(v -> (Integer) v).sum();
    }
}
