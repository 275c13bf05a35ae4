package io.spdyproxy.websocket;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.EventLoopGroup;
import io.spdyproxy.bench.WebSocketApp;
import io.spdyproxy.testing.NodeScript;
import io.spdyproxy.testing.WebSocketTestClient;
import io.spdyproxy.transport.Transport;
import java.net.URI;
import java.net.http.HttpClient;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;

/**
 * The WebSocket and SSE harness against the apps directly, no proxy: each case of {@link
 * WebSocketCases} with the Netty client and app, the npm ws client and app, and the Netty client
 * against the npm app. What passes here and fails through the tunnel is the tunnel's fault.
 */
@Timeout(120)
class WebSocketAppDirectTest {
    static final int MESSAGES = 10_000;
    static final int BIG = 100 << 20;
    static final int SOCKETS = 1_000;
    /** Loopback socket buffers (auto-tuned by Linux up to a few MiB each way) and nothing else. */
    static final long DIRECT_IN_FLIGHT = 16L << 20;

    private static EventLoopGroup group;
    private static WebSocketCases cases;

    @BeforeAll
    static void start() {
        group = Transport.newGroup(2, "ws-client");
        cases = new WebSocketCases(group);
    }

    @AfterAll
    static void stop() {
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    static Target direct(int port) {
        return new Target("direct", URI.create("ws://127.0.0.1:" + port), WebSocketTestClient.Options.plain(), null);
    }

    @Nested
    @TestInstance(TestInstance.Lifecycle.PER_CLASS)
    class NettyClientNettyApp {
        private WebSocketApp app;
        private Target t;

        @BeforeAll
        void startApp() throws Exception {
            app = WebSocketApp.start("127.0.0.1", WebSocketTestClient.UNTRACKED);
            t = direct(app.port());
        }

        @AfterAll
        void stopApp() {
            app.close();
        }

        @Test
        void echoesTenThousandTextMessagesInOrder() throws Exception {
            cases.echoTextInOrder(t, MESSAGES);
        }

        @Test
        void echoesAHundredMebibyteBinaryMessageIntact() throws Exception {
            cases.binaryIntact(t, BIG);
        }

        @Test
        void holdsAThousandWebSocketsAtOnce() throws Exception {
            cases.manyAtOnce(t, SOCKETS, app::maxOpenWebSockets);
        }

        @Test
        void aPingGetsItsPong() throws Exception {
            cases.pingGetsItsPong(t);
        }

        @Test
        void closeByTheClientComesBackWithItsCode() throws Exception {
            cases.closeByClient(t);
        }

        @Test
        void closeByTheAppArrivesWithItsCode() throws Exception {
            cases.closeByServer(t);
        }

        @Test
        void anAppThatDiesGivesAnAbnormalClose() throws Exception {
            cases.appDies(t);
        }

        @Test
        void aClientThatStopsReadingStallsTheFlood() throws Exception {
            long inFlight = cases.slowReader(t, app, DIRECT_IN_FLIGHT);
            assertThat(inFlight).isPositive();
        }

        @Test
        void serverSentEventsArriveOneByOne() throws Exception {
            HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
            try (EventStreamClient events = new EventStreamClient(http,
                    URI.create("http://127.0.0.1:" + app.port() + "/events"), WebSocketCases.GUARD)) {
                assertThat(events.response.headers().firstValue("content-type")).hasValue("text/event-stream");
                app.sseSubscribed(1).get(10, TimeUnit.SECONDS);
                for (int i = 0; i < 20; i++) {
                    assertThat(app.publish("event " + i)).isEqualTo(1);
                    events.expectEvent("event " + i, WebSocketCases.GUARD);
                }
            }
        }
    }

    /** The npm ws client against the npm ws app, and the Netty client against the npm ws app. */
    @Nested
    @TestInstance(TestInstance.Lifecycle.PER_CLASS)
    class AgainstNodeApp {
        private NodeScript app;
        private Target t;

        @BeforeAll
        void startApp() throws Exception {
            NodeScript.assumeInstalled("ws");
            app = NodeScript.start("ws-app.js");
            t = direct(((Number) app.nextJson(Duration.ofSeconds(20)).get("port")).intValue());
        }

        @AfterAll
        void stopApp() throws Exception {
            if (app != null) {
                app.closeStdin();
                Map<String, Object> report = app.nextJson(Duration.ofSeconds(20));
                assertThat((java.util.List<?>) report.get("errors")).as("ws-app.js errors").isEmpty();
                app.close();
            }
        }

        @Test
        void nodeClientEchoesTenThousandTextMessagesInOrder() throws Exception {
            WebSocketCases.node(t, "echo-text", MESSAGES);
        }

        @Test
        void nodeClientEchoesAHundredMebibyteBinaryMessageIntact() throws Exception {
            Map<String, Object> r = WebSocketCases.node(t, "binary", BIG >> 20);
            assertThat(r.get("bytes")).isEqualTo(BIG);
        }

        @Test
        void nodeClientHoldsAThousandWebSocketsAtOnce() throws Exception {
            WebSocketCases.node(t, "many", SOCKETS);
        }

        @Test
        void nodeClientClosesWithItsCodeAndGetsTheAppsCode() throws Exception {
            WebSocketCases.node(t, "close-client", 1);
            WebSocketCases.node(t, "close-server", 1);
        }

        @Test
        void nodeClientSeesAnAbnormalCloseWhenTheAppDies() throws Exception {
            WebSocketCases.node(t, "die", 1);
        }

        @Test
        void nettyClientEchoesTextInOrderAndBinaryIntact() throws Exception {
            cases.echoTextInOrder(t, MESSAGES);
            cases.binaryIntact(t, 8 << 20);
        }

        @Test
        void nettyClientGetsCloseCodesAndTheAbnormalClose() throws Exception {
            cases.pingGetsItsPong(t);
            cases.closeByClient(t);
            cases.closeByServer(t);
            cases.appDies(t);
        }

        @Test
        void serverSentEventsArriveOneByOne() throws Exception {
            HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
            try (EventStreamClient events = new EventStreamClient(http, URI.create(
                    t.base().toString().replace("ws:", "http:") + "/events"), WebSocketCases.GUARD)) {
                for (int i = 0; i < 5; i++) {
                    app.sendLine("event node " + i);
                    assertThat(app.nextJson(WebSocketCases.GUARD).get("streams")).isEqualTo(1);
                    events.expectEvent("node " + i, WebSocketCases.GUARD);
                }
            }
        }
    }
}
