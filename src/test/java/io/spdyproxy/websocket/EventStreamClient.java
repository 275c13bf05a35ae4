package io.spdyproxy.websocket;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A Server-Sent Events reader for tests: opens a {@code text/event-stream} response with the
 * JDK's client and hands each line to a queue as it arrives, so a test can wait for one event
 * before the next is produced.
 *
 * <p>Threading: lines are read on a daemon thread; the queue is thread-safe; the other methods
 * belong to the test thread.
 */
final class EventStreamClient implements AutoCloseable {
    private final Stream<String> lines;
    private final BlockingQueue<String> queue = new LinkedBlockingQueue<>();
    final HttpResponse<Stream<String>> response;

    EventStreamClient(HttpClient http, URI uri, Duration guard) throws Exception {
        response = http.sendAsync(HttpRequest.newBuilder(uri).header("accept", "text/event-stream").build(),
                HttpResponse.BodyHandlers.ofLines()).get(guard.toMillis(), TimeUnit.MILLISECONDS);
        lines = response.body();
        Thread t = new Thread(() -> {
            try {
                lines.forEach(queue::add);
            } catch (RuntimeException e) {
                queue.add("(stream failed: " + e + ")");
            }
        }, "sse-reader");
        t.setDaemon(true);
        t.start();
    }

    /** Waits for the line {@code data: <data>}, failing on any other data line or past {@code guard}. */
    void expectEvent(String data, Duration guard) throws InterruptedException {
        long deadline = System.nanoTime() + guard.toNanos();
        while (true) {
            String line = queue.poll(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            assertThat(line).as("event '%s' within %s", data, guard).isNotNull();
            if (line.startsWith("data:") || line.startsWith("(stream")) {
                assertThat(line).isEqualTo("data: " + data);
                return;
            }
        }
    }

    @Override
    public void close() {
        lines.close();
    }
}
