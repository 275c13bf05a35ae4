package io.spdyproxy.websocket;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.EventLoopGroup;
import io.spdyproxy.bench.WebSocketApp;
import io.spdyproxy.testing.NodeScript;
import io.spdyproxy.testing.WebSocketTestClient;
import io.spdyproxy.testing.WebSocketTestClient.CloseStatus;
import io.spdyproxy.testing.WebSocketTestClient.Message;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.IntSupplier;
import java.util.stream.IntStream;

/**
 * The WebSocket cases of issue 10, written once against a {@link Target} so the same checks run
 * against an app directly (proving the harness) and through the tunnel: echo of many text
 * messages in order, a large binary message intact, many sockets open at once, close by either
 * side with its code, the app dying, a client that stops reading while the app floods, and a cut
 * that must close every socket promptly. The Java cases use {@link WebSocketTestClient}; {@link
 * #node} runs {@code ws-client.js} (npm ws) for the same cases.
 *
 * <p>Threading: called from the test thread; clients run on {@code group}.
 */
final class WebSocketCases {
    static final Duration GUARD = Duration.ofSeconds(30);

    private final EventLoopGroup group;

    WebSocketCases(EventLoopGroup group) {
        this.group = group;
    }

    WebSocketTestClient connect(Target t, String path) throws Exception {
        return WebSocketTestClient.connect(t.uri(path), group, t.options(), GUARD);
    }

    void echoTextInOrder(Target t, int n) throws Exception {
        try (WebSocketTestClient c = connect(t, "/echo")) {
            c.sendTexts(IntStream.range(0, n).mapToObj(i -> "message " + i).toList());
            for (int i = 0; i < n; i++) {
                Message m = c.next(GUARD);
                assertThat(m.text()).as("message %d is text", i).isTrue();
                assertThat(m.asText()).as("message %d in order (%s)", i, t).isEqualTo("message " + i);
            }
            closeNormally(c);
        }
    }

    /** {@code bytes} of random data as one message sent in 1 MiB fragments, back intact. */
    void binaryIntact(Target t, int bytes) throws Exception {
        byte[] data = new byte[bytes];
        new SplittableRandom(bytes).nextBytes(data);
        try (WebSocketTestClient c = connect(t, "/echo")) {
            c.sendBinaryFragmented(data, 1 << 20).get(GUARD.toMillis(), TimeUnit.MILLISECONDS);
            Message m = c.next(GUARD);
            assertThat(m.text()).isFalse();
            assertThat(m.data().length).as("length back (%s)", t).isEqualTo(bytes);
            assertThat(ByteBuffer.wrap(m.data()).equals(ByteBuffer.wrap(data))).as("bytes intact (%s)", t).isTrue();
            closeNormally(c);
        }
    }

    /**
     * {@code n} sockets to {@code /echo} opened at once; only once all are open does each send one
     * message, and each gets its own back. {@code appMaxOpen}, when given, must show the app had
     * all of them open at the same time.
     */
    void manyAtOnce(Target t, int n, IntSupplier appMaxOpen) throws Exception {
        List<CompletableFuture<WebSocketTestClient>> connecting = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            connecting.add(WebSocketTestClient.connectAsync(t.uri("/echo"), group, t.options()));
        }
        List<WebSocketTestClient> clients = new ArrayList<>();
        try {
            for (CompletableFuture<WebSocketTestClient> f : connecting) {
                clients.add(f.get(GUARD.toMillis(), TimeUnit.MILLISECONDS));
            }
            for (int i = 0; i < n; i++) {
                clients.get(i).sendText("hello " + i);
            }
            for (int i = 0; i < n; i++) {
                assertThat(clients.get(i).next(GUARD).asText()).as("socket %d's own echo (%s)", i, t)
                        .isEqualTo("hello " + i);
            }
            if (appMaxOpen != null) {
                assertThat(appMaxOpen.getAsInt()).as("open at once at the app").isGreaterThanOrEqualTo(n);
            }
        } finally {
            connecting.forEach(f -> f.thenAccept(WebSocketTestClient::close));
        }
    }

    /** A ping crosses to the app and its pong comes back with the same payload (RFC 6455 section 5.5.3). */
    void pingGetsItsPong(Target t) throws Exception {
        try (WebSocketTestClient c = connect(t, "/echo")) {
            byte[] payload = "are you there?".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
            c.ping(payload);
            assertThat(c.nextPong(GUARD)).as("pong payload (%s)", t).isEqualTo(payload);
            closeNormally(c);
        }
    }

    void closeByClient(Target t) throws Exception {
        try (WebSocketTestClient c = connect(t, "/echo")) {
            c.close(4000, "bye");
            assertThat(c.closed().get(GUARD.toMillis(), TimeUnit.MILLISECONDS)).as("the app's answer (%s)", t)
                    .isEqualTo(new CloseStatus(4000, "bye"));
        }
    }

    void closeByServer(Target t) throws Exception {
        try (WebSocketTestClient c = connect(t, "/close?code=4001&reason=x")) {
            assertThat(c.closed().get(GUARD.toMillis(), TimeUnit.MILLISECONDS)).as("the app's close (%s)", t)
                    .isEqualTo(new CloseStatus(4001, "x"));
        }
    }

    /** The app drops the connection after the first message: an abnormal close, not a hang. */
    void appDies(Target t) throws Exception {
        try (WebSocketTestClient c = connect(t, "/die")) {
            c.sendText("first");
            assertThat(c.closed().get(GUARD.toMillis(), TimeUnit.MILLISECONDS).code()).as("close code (%s)", t)
                    .isEqualTo(WebSocketTestClient.ABNORMAL);
        }
    }

    /**
     * A client that stops reading while {@code /flood} sends: the app's writes must stall with at
     * most {@code maxInFlight} bytes written and not yet read by the client (everything between
     * them: socket buffers, and on the tunnel path its windows and queues). Then the client reads
     * again and gets every message, in order, none lost. Returns the bytes in flight at the stall.
     */
    long slowReader(Target t, WebSocketApp app, long maxInFlight) throws Exception {
        try (WebSocketTestClient c = connect(t, "/flood")) {
            c.next(GUARD); // the flood is on
            CompletableFuture<Long> stall = app.nextFloodStall();
            c.pauseReading();
            long stalledAt = stall.get(GUARD.toMillis(), TimeUnit.MILLISECONDS);
            long inFlight = stalledAt - c.bytesReceived();
            assertThat(inFlight).as("bytes the app wrote beyond what the stopped client read (%s)", t)
                    .isLessThanOrEqualTo(maxInFlight);
            c.resumeReading();
            // Everything the app wrote before it stalled arrives, in sequence (message 0 was read).
            for (long i = 1; i < stalledAt / WebSocketApp.FLOOD_MESSAGE; i++) {
                Message m = c.next(GUARD);
                assertThat(ByteBuffer.wrap(m.data()).getLong()).as("message sequence (%s)", t).isEqualTo(i);
            }
            closeNormally(c);
            return inFlight;
        }
    }

    /**
     * {@code n} sockets open and echoing through {@code t}; after {@code cut} runs, every one of them
     * must see its connection end within {@code promptly}.
     */
    void allCloseWhenCut(Target t, int n, Runnable cut, Duration promptly) throws Exception {
        List<WebSocketTestClient> clients = new ArrayList<>();
        try {
            for (int i = 0; i < n; i++) {
                WebSocketTestClient c = connect(t, "/echo");
                clients.add(c);
                c.sendText("up " + i);
                assertThat(c.next(GUARD).asText()).isEqualTo("up " + i);
            }
            cut.run();
            long deadline = System.nanoTime() + promptly.toNanos();
            for (WebSocketTestClient c : clients) {
                long left = Math.max(0, deadline - System.nanoTime());
                assertThat(c.closed().get(left + 1, TimeUnit.NANOSECONDS).code()).as("close code (%s)", t)
                        .isEqualTo(WebSocketTestClient.ABNORMAL);
            }
        } finally {
            clients.forEach(WebSocketTestClient::close);
        }
    }

    /** Runs one case of {@code ws-client.js} against {@code t}; asserts it reports ok; returns its report. */
    static Map<String, Object> node(Target t, String kase, int n) throws Exception {
        List<Object> args = new ArrayList<>(List.of(kase, t.base().toString(), n));
        args.addAll(List.of(t.nodeArgs()));
        try (NodeScript client = NodeScript.start("ws-client.js", args.toArray())) {
            Map<String, Object> r = client.nextJson(GUARD.multipliedBy(2));
            assertThat(r.get("ok")).as("ws-client.js %s against %s: %s%s", kase, t, r, client.diagnostics())
                    .isEqualTo(true);
            assertThat(client.waitForExit(GUARD)).isZero();
            return r;
        }
    }

    private static void closeNormally(WebSocketTestClient c) throws Exception {
        c.close(1000, "");
        assertThat(c.closed().get(GUARD.toMillis(), TimeUnit.MILLISECONDS).code()).isEqualTo(1000);
    }
}
