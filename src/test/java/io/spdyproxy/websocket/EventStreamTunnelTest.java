package io.spdyproxy.websocket;

import static org.assertj.core.api.Assertions.assertThat;

import io.spdyproxy.bench.WebSocketApp;
import io.spdyproxy.testing.WebSocketTestClient;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Server-Sent Events through the tunnel (issue 10: long-lived streamed responses keep arriving
 * event by event, never buffered): the app produces event N+1 only after the client read event N,
 * so any buffering on the path (proxy, tunnel, origin's reverse proxy) shows as a timeout.
 */
@Timeout(60)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class EventStreamTunnelTest {
    private static final int EVENTS = 50;

    private WebSocketApp app;
    private UpstreamTunnelBed bed;
    private int subscriptions;

    @BeforeAll
    void start(@TempDir Path dir) throws Exception {
        app = WebSocketApp.start("127.0.0.1", WebSocketTestClient.UNTRACKED);
        bed = new UpstreamTunnelBed(dir, app.port());
    }

    @AfterAll
    void stop() throws Exception {
        if (bed != null) {
            bed.close();
        }
        if (app != null) {
            app.close();
        }
    }

    @ParameterizedTest(name = "{0} front end")
    @ValueSource(strings = {"http", "https"})
    void eventsArriveOneByOne(String frontEnd) throws Exception {
        try (EventStreamClient events = new EventStreamClient(UpstreamTunnelBed.httpClient(),
                bed.httpUri(frontEnd, "/events"), WebSocketCases.GUARD)) {
            assertThat(events.response.statusCode()).isEqualTo(200);
            assertThat(events.response.headers().firstValue("content-type")).hasValue("text/event-stream");
            app.sseSubscribed(++subscriptions).get(10, TimeUnit.SECONDS);
            for (int i = 0; i < EVENTS; i++) {
                // At least ours: the stream of an earlier test may not have ended at the app yet.
                assertThat(app.publish(frontEnd + " event " + i)).isPositive();
                events.expectEvent(frontEnd + " event " + i, WebSocketCases.GUARD);
            }
        }
    }
}
