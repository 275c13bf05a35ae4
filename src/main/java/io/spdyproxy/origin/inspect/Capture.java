package io.spdyproxy.origin.inspect;

import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.spdyproxy.tunnel.StreamClosedException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * One request that reached the origin, as it happens: its head, the response head, the first
 * bytes of each body ({@link BodyCapture}), timings and how it ended. Only copies are kept.
 *
 * <p>Threading: written from the stream's loop and from whatever thread sends the response (the
 * file server's reads); every field is guarded by the {@link CaptureStore}'s lock, which also
 * charges the copied bytes to the store's budget.
 */
final class Capture {
    final long id;
    /** The id of the capture this one replays, 0 when it came through the tunnel. */
    final long replayOf;
    final long startMillis;
    final long startNanos;
    final String method;
    final String uri;
    final String scheme;
    final List<Map.Entry<String, String>> requestHeaders;
    final BodyCapture requestBody;
    final BodyCapture responseBody;
    /** Completed when the exchange ends, whichever way. */
    final CompletableFuture<Capture> done = new CompletableFuture<>();
    private final CaptureStore store;
    private List<Map.Entry<String, String>> requestTrailers = List.of();
    private int status;
    private String reason = "";
    private List<Map.Entry<String, String>> responseHeaders = List.of();
    private List<Map.Entry<String, String>> responseTrailers = List.of();
    private long firstByteNanos;
    private long endNanos;
    private Outcome outcome = Outcome.IN_FLIGHT;
    private String error = "";
    private long charged;

    Capture(CaptureStore store, long id, long replayOf, HttpRequest request, String scheme, int bodyLimit) {
        this.store = store;
        this.id = id;
        this.replayOf = replayOf;
        this.startMillis = System.currentTimeMillis();
        this.startNanos = System.nanoTime();
        this.method = request.method().name();
        this.uri = request.uri();
        this.scheme = scheme;
        this.requestHeaders = copy(request.headers());
        this.requestBody = new BodyCapture(bodyLimit);
        this.responseBody = new BodyCapture(bodyLimit);
    }

    /** Bytes of headers and bodies this capture holds, charged to the store. */
    long charged() {
        return charged;
    }

    void charge(long n) {
        charged += n;
    }

    int headBytes() {
        return size(requestHeaders) + method.length() + uri.length();
    }

    void requestChunk(ByteBuf chunk) {
        if (requestBody.countIfFull(chunk)) {
            return;
        }
        synchronized (store) {
            store.charge(this, requestBody.append(chunk));
        }
    }

    void requestTrailers(HttpHeaders trailers) {
        synchronized (store) {
            requestTrailers = copy(trailers);
            store.charge(this, size(requestTrailers));
        }
    }

    void response(HttpResponse head) {
        synchronized (store) {
            if (status == 0) {
                firstByteNanos = System.nanoTime();
            }
            status = head.status().code();
            reason = head.status().reasonPhrase();
            responseHeaders = copy(head.headers());
            store.charge(this, size(responseHeaders));
        }
    }

    void responseChunk(ByteBuf chunk) {
        if (responseBody.countIfFull(chunk)) {
            return;
        }
        synchronized (store) {
            store.charge(this, responseBody.append(chunk));
        }
    }

    void responseTrailers(HttpHeaders trailers) {
        synchronized (store) {
            responseTrailers = copy(trailers);
            store.charge(this, size(responseTrailers));
        }
    }

    /** The stream ended: cleanly when {@code cause} is null. */
    void closed(StreamClosedException cause) {
        synchronized (store) {
            if (outcome != Outcome.IN_FLIGHT) {
                return;
            }
            endNanos = System.nanoTime();
            if (cause == null) {
                outcome = Outcome.COMPLETE;
            } else {
                outcome = cause.isLocal() ? Outcome.RESET : Outcome.ABORTED;
                error = cause.error().name();
            }
            store.changed();
        }
        done.complete(this);
    }

    /** The entry left the ring: its copies go, its counters stay for whoever still holds it. */
    void drop() {
        requestBody.drop();
        responseBody.drop();
    }

    /** A consistent copy of the mutable part, taken under the store's lock. */
    Snapshot snapshot() {
        return snapshot(true);
    }

    /** As {@link #snapshot()}; without the bodies' bytes (empty arrays) for the list's rows. */
    Snapshot snapshot(boolean withBodies) {
        byte[] none = new byte[0];
        synchronized (store) {
            return new Snapshot(status, reason, responseHeaders, requestTrailers, responseTrailers,
                    status == 0 ? -1 : (firstByteNanos - startNanos) / 1_000,
                    endNanos == 0 ? -1 : (endNanos - startNanos) / 1_000, outcome, error,
                    withBodies ? requestBody.captured() : none, requestBody.total(),
                    withBodies ? responseBody.captured() : none, responseBody.total());
        }
    }

    /** Times in microseconds, -1 until known. */
    record Snapshot(int status, String reason, List<Map.Entry<String, String>> responseHeaders,
            List<Map.Entry<String, String>> requestTrailers, List<Map.Entry<String, String>> responseTrailers,
            long firstByteMicros, long totalMicros, Outcome outcome, String error, byte[] requestBody,
            long requestBodyTotal, byte[] responseBody, long responseBodyTotal) {}

    private static List<Map.Entry<String, String>> copy(HttpHeaders headers) {
        List<Map.Entry<String, String>> out = new ArrayList<>(headers.size());
        for (Map.Entry<String, String> e : headers) {
            out.add(Map.entry(e.getKey(), e.getValue()));
        }
        return List.copyOf(out);
    }

    private static int size(List<Map.Entry<String, String>> headers) {
        int n = 0;
        for (Map.Entry<String, String> e : headers) {
            n += e.getKey().length() + e.getValue().length() + 4;
        }
        return n;
    }
}
