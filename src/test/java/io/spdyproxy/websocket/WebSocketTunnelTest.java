package io.spdyproxy.websocket;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.EventLoopGroup;
import io.spdyproxy.bench.WebSocketApp;
import io.spdyproxy.testing.NodeScript;
import io.spdyproxy.testing.WebSocketTestClient;
import io.spdyproxy.transport.Transport;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * WebSockets through the tunnel (issue 10): client → proxy (HTTP and HTTPS front ends) → tunnel
 * → origin's reverse proxy → app, every case of the issue, with the Netty client and app and with
 * the npm ws client and app. The same cases pass against the apps directly ({@link
 * WebSocketAppDirectTest}), so a failure here is the path's.
 */
@Timeout(120)
class WebSocketTunnelTest {
    private static final int SOCKETS_CUT = 50;
    /**
     * What a stopped reader may leave written but unread: the loopback socket buffers at both
     * ends of the path (Linux auto-tunes each up to a few MiB), plus one stream window and one
     * chunk in the proxy and in the origin. Without back-pressure the flood fills gigabytes.
     */
    private static final long TUNNEL_IN_FLIGHT = 32L << 20;

    private static EventLoopGroup group;
    private static WebSocketCases cases;

    /** The tunnel protocol the origins ask for; a subclass runs every test over HTTP/2. */
    io.spdyproxy.tunnel.handshake.TunnelProtocol.Kind tunnelProtocol() {
        return io.spdyproxy.tunnel.handshake.TunnelProtocol.Kind.SPDY;
    }

    /** The size of the big binary message; the HTTP/2 subclass sends a smaller one. */
    int bigMessageBytes() {
        return WebSocketAppDirectTest.BIG;
    }

    /** How many WebSockets are open at once on one tunnel; the HTTP/2 subclass opens fewer. */
    int manySockets() {
        return WebSocketAppDirectTest.SOCKETS;
    }

    @BeforeAll
    static void start() {
        group = Transport.newGroup(2, "ws-client");
        cases = new WebSocketCases(group);
    }

    @AfterAll
    static void stop() {
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    /** The Netty client and the Netty app, through either front end. */
    @Nested
    @TestInstance(TestInstance.Lifecycle.PER_CLASS)
    class NettyClientNettyApp {
        private WebSocketApp app;
        private UpstreamTunnelBed bed;
        private Path dir;

        @BeforeAll
        void startBed(@TempDir Path tmp) throws Exception {
            dir = tmp;
            app = WebSocketApp.start("127.0.0.1", WebSocketTestClient.UNTRACKED);
            bed = new UpstreamTunnelBed(Files.createDirectories(dir.resolve("bed")), app.port(), tunnelProtocol());
        }

        @AfterAll
        void stopBed() throws Exception {
            if (bed != null) {
                bed.close();
            }
            if (app != null) {
                app.close();
            }
        }

        @ParameterizedTest(name = "{0} front end")
        @ValueSource(strings = {"http", "https"})
        void echoesTenThousandTextMessagesInOrder(String frontEnd) throws Exception {
            cases.echoTextInOrder(bed.frontEnd(frontEnd), WebSocketAppDirectTest.MESSAGES);
        }

        @ParameterizedTest(name = "{0} front end")
        @ValueSource(strings = {"http", "https"})
        void echoesAHundredMebibyteBinaryMessageIntact(String frontEnd) throws Exception {
            cases.binaryIntact(bed.frontEnd(frontEnd), bigMessageBytes());
        }

        @ParameterizedTest(name = "{0} front end")
        @ValueSource(strings = {"http", "https"})
        void holdsAThousandWebSocketsAtOnceOnOneTunnel(String frontEnd) throws Exception {
            cases.manyAtOnce(bed.frontEnd(frontEnd), manySockets(), app::maxOpenWebSockets);
            assertThat(bed.proxy.tunnels()).as("one tunnel carried them all").hasSize(1);
        }

        @ParameterizedTest(name = "{0} front end")
        @ValueSource(strings = {"http", "https"})
        void pingAndPongPassUntouched(String frontEnd) throws Exception {
            cases.pingGetsItsPong(bed.frontEnd(frontEnd));
        }

        @ParameterizedTest(name = "{0} front end")
        @ValueSource(strings = {"http", "https"})
        void closeByEitherSideArrivesWithItsCode(String frontEnd) throws Exception {
            cases.closeByClient(bed.frontEnd(frontEnd));
            cases.closeByServer(bed.frontEnd(frontEnd));
        }

        @ParameterizedTest(name = "{0} front end")
        @ValueSource(strings = {"http", "https"})
        void anAppThatDiesGivesTheClientAnAbnormalClose(String frontEnd) throws Exception {
            cases.appDies(bed.frontEnd(frontEnd));
        }

        @ParameterizedTest(name = "{0} front end")
        @ValueSource(strings = {"http", "https"})
        void aClientThatStopsReadingStallsTheAppNotTheTunnel(String frontEnd) throws Exception {
            Target t = bed.frontEnd(frontEnd);
            try (WebSocketTestClient other = cases.connect(t, "/echo")) {
                long inFlight = cases.slowReader(t, app, TUNNEL_IN_FLIGHT);
                assertThat(inFlight).isPositive();
                // The same tunnel went on carrying another WebSocket meanwhile (checked after, too).
                other.sendText("still here");
                assertThat(other.next(WebSocketCases.GUARD).asText()).isEqualTo("still here");
            }
        }

        @ParameterizedTest(name = "{0} front end")
        @ValueSource(strings = {"http", "https"})
        void droppingTheTunnelClosesEveryWebSocketPromptly(String frontEnd) throws Exception {
            // A bed of its own: the dropped tunnel comes back, but not for the other tests' timing.
            try (UpstreamTunnelBed own = new UpstreamTunnelBed(
                    Files.createDirectories(dir.resolve("cut-" + frontEnd)), app.port(), tunnelProtocol())) {
                cases.allCloseWhenCut(own.frontEnd(frontEnd), SOCKETS_CUT, own::dropTunnel, Duration.ofSeconds(5));
            }
        }
    }

    /** The npm ws client (the browser side) and the npm ws app, through either front end. */
    @Nested
    @TestInstance(TestInstance.Lifecycle.PER_CLASS)
    class NodeClientNodeApp {
        private NodeScript app;
        private UpstreamTunnelBed bed;
        private Path dir;

        @BeforeAll
        void startBed(@TempDir Path tmp) throws Exception {
            dir = tmp;
            NodeScript.assumeInstalled("ws");
            app = NodeScript.start("ws-app.js");
            int port = ((Number) app.nextJson(Duration.ofSeconds(20)).get("port")).intValue();
            bed = new UpstreamTunnelBed(dir, port, tunnelProtocol());
        }

        @AfterAll
        void stopBed() throws Exception {
            if (bed != null) {
                bed.close();
            }
            if (app != null) {
                app.close();
            }
        }

        @ParameterizedTest(name = "{0} front end")
        @ValueSource(strings = {"http", "https"})
        void echoesTenThousandTextMessagesInOrder(String frontEnd) throws Exception {
            WebSocketCases.node(bed.frontEnd(frontEnd), "echo-text", WebSocketAppDirectTest.MESSAGES);
        }

        @ParameterizedTest(name = "{0} front end")
        @ValueSource(strings = {"http", "https"})
        void echoesAHundredMebibyteBinaryMessageIntact(String frontEnd) throws Exception {
            Map<String, Object> r = WebSocketCases.node(bed.frontEnd(frontEnd), "binary", bigMessageBytes() >> 20);
            assertThat(r.get("bytes")).isEqualTo(bigMessageBytes());
        }

        @ParameterizedTest(name = "{0} front end")
        @ValueSource(strings = {"http", "https"})
        void holdsAThousandWebSocketsAtOnceOnOneTunnel(String frontEnd) throws Exception {
            WebSocketCases.node(bed.frontEnd(frontEnd), "many", manySockets());
            assertThat(bed.proxy.tunnels()).hasSize(1);
        }

        @ParameterizedTest(name = "{0} front end")
        @ValueSource(strings = {"http", "https"})
        void closeByEitherSideArrivesWithItsCode(String frontEnd) throws Exception {
            WebSocketCases.node(bed.frontEnd(frontEnd), "close-client", 1);
            WebSocketCases.node(bed.frontEnd(frontEnd), "close-server", 1);
        }

        @ParameterizedTest(name = "{0} front end")
        @ValueSource(strings = {"http", "https"})
        void anAppThatDiesGivesTheClientAnAbnormalClose(String frontEnd) throws Exception {
            WebSocketCases.node(bed.frontEnd(frontEnd), "die", 1);
        }
    }
}
