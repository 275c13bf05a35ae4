package io.spdyproxy.origin.inspect;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.channel.EventLoopGroup;
import io.spdyproxy.bench.WebSocketApp;
import io.spdyproxy.testing.WebSocketTestClient;
import io.spdyproxy.transport.Transport;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * An upgraded exchange (a WebSocket after {@code 101}) works through the inspector as without it:
 * the decorator passes the raw byte pipe on; the capture shows the 101 and counts the bytes; a
 * replay of it is refused with the reason.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS) // a guard: the test takes about a second
class InspectorUpgradeTest {
    @TempDir
    Path dir;

    @Test
    void aWebSocketPassesAndIsRecordedButNotReplayed() throws Exception {
        EventLoopGroup group = Transport.newGroup(1, "inspector-ws-client");
        try (WebSocketApp app = WebSocketApp.start("127.0.0.1", WebSocketTestClient.UNTRACKED);
                InspectorBed bed = InspectorBed.upstream(dir, app.port())) {
            Capture c;
            try (WebSocketTestClient ws = WebSocketTestClient.connect(
                    URI.create("ws://127.0.0.1:" + bed.proxy.httpPort() + "/echo"), group,
                    WebSocketTestClient.Options.plain(), Duration.ofSeconds(10))) {
                ws.sendText("through the inspector");
                assertThat(ws.next(Duration.ofSeconds(10)).asText()).isEqualTo("through the inspector");
                c = bed.inspector.store().newestFirst().get(0);
                ws.close(1000, "done");
                ws.closed().get(10, TimeUnit.SECONDS);
            }
            c.done.get(10, TimeUnit.SECONDS);
            Capture.Snapshot s = c.snapshot();
            assertThat(c.uri).isEqualTo("/echo");
            assertThat(s.status()).isEqualTo(101);
            assertThat(s.requestBodyTotal()).as("the client's frames").isPositive();
            assertThat(s.responseBodyTotal()).as("the app's frames").isPositive();
            Replayer replayer = new Replayer(null, bed.inspector.store(), null);
            assertThatThrownBy(() -> replayer.replay(c.id, Replayer.Edits.NONE))
                    .isInstanceOf(Replayer.RefusedException.class).hasMessageContaining("protocol upgrade (websocket)");
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }
}
