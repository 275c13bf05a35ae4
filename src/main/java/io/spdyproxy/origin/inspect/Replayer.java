package io.spdyproxy.origin.inspect;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpVersion;
import io.spdyproxy.tunnel.RequestHead;
import io.spdyproxy.tunnel.TunnelExchange;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Sends a captured request, edited or not, to the app again: through the same handler the tunnel's
 * requests reach (the reverse proxy or the file server) and the same {@link CapturingHandler}, on a
 * {@link LocalStream} instead of a tunnel stream. So a replay is forwarded exactly as the origin
 * forwards any request, and appears in the list, marked with the id it replays.
 *
 * <p>Threading: {@link #replay} may be called from any thread; the exchange runs on {@code loop}.
 */
final class Replayer {
    /** Why a request cannot be replayed; the message is for the user. */
    static final class RefusedException extends Exception {
        private static final long serialVersionUID = 1L;

        RefusedException(String message) {
            super(message, null, false, false);
        }
    }

    /**
     * What the user changed; null fields keep the captured value.
     *
     * @param headers replaces every header when given
     * @param body replaces the body when given (may be empty)
     */
    record Edits(String method, String path, List<Map.Entry<String, String>> headers, byte[] body) {
        static final Edits NONE = new Edits(null, null, null, null);
    }

    private final CapturingHandler handler;
    private final CaptureStore store;
    private final LocalSession session;
    private final AtomicInteger ids = new AtomicInteger();

    Replayer(CapturingHandler handler, CaptureStore store, EventLoop loop) {
        this.handler = handler;
        this.store = store;
        this.session = new LocalSession(loop);
    }

    /** Starts the replay of capture {@code id}; the future completes with its capture once the handler took it. */
    CompletableFuture<Capture> replay(long id, Edits edits) throws RefusedException {
        Capture original = store.get(id);
        if (original == null) {
            throw new RefusedException("request " + id + " is no longer kept (the inspector keeps the latest ones)");
        }
        Capture.Snapshot s = original.snapshot();
        byte[] body = edits.body();
        if (body == null) {
            if (s.requestBodyTotal() > s.requestBody().length) {
                throw new RefusedException("request " + id + " had a body of " + s.requestBodyTotal()
                        + " bytes and only the first " + s.requestBody().length + " were captured, so it cannot be"
                        + " replayed as it was: edit the body to replay it");
            }
            body = s.requestBody();
        }
        HttpRequest request = request(original, s.requestBodyTotal() > 0, edits, body);
        if (RequestHead.upgradeOf(request) != null) {
            throw new RefusedException("request " + id + " asks for a protocol upgrade ("
                    + RequestHead.upgradeOf(request) + "), which a replay cannot carry");
        }
        LocalStream stream = new LocalStream(session, ids.incrementAndGet());
        TunnelExchange exchange = new TunnelExchange(stream, request, original.scheme, body.length > 0);
        stream.attach(exchange);
        ByteBuf content = body.length > 0 ? Unpooled.wrappedBuffer(body) : null;
        CompletableFuture<Capture> started = new CompletableFuture<>();
        session.eventLoop().execute(() -> {
            try {
                Capture replay = handler.onRequest(exchange, id);
                stream.start(content);
                started.complete(replay);
            } catch (RuntimeException e) {
                if (content != null) {
                    content.release();
                }
                started.completeExceptionally(e);
            }
        });
        return started;
    }

    private static HttpRequest request(Capture original, boolean hadBody, Edits edits, byte[] body)
            throws RefusedException {
        String method = edits.method() != null ? edits.method().trim() : original.method;
        String path = edits.path() != null ? edits.path().trim() : original.uri;
        if (!method.matches("[!#$%&'*+.^_`|~0-9A-Za-z-]{1,32}")) { // RFC 9110 section 5.6.2: a token
            throw new RefusedException("method " + quoted(method) + ": not an HTTP method (expected: a token such"
                    + " as GET or POST)");
        }
        if (!path.startsWith("/") || path.chars().anyMatch(c -> c <= ' ' || c >= 0x7f)) {
            throw new RefusedException("path " + quoted(path) + ": not an origin-form request target (expected: /"
                    + " followed by printable ASCII, no spaces)");
        }
        HttpHeaders headers = new DefaultHttpHeaders(); // validates names and values
        try {
            for (Map.Entry<String, String> h : edits.headers() != null ? edits.headers() : original.requestHeaders) {
                headers.add(h.getKey(), h.getValue());
            }
        } catch (IllegalArgumentException e) {
            throw new RefusedException("headers: " + e.getMessage());
        }
        // The body is whole and known: its length frames it, whatever the original's framing was.
        headers.remove(HttpHeaderNames.TRANSFER_ENCODING);
        headers.remove(HttpHeaderNames.CONTENT_LENGTH);
        if (body.length > 0 || hadBody) {
            headers.setInt(HttpHeaderNames.CONTENT_LENGTH, body.length);
        }
        HttpRequest request = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.valueOf(method), path);
        request.headers().set(headers);
        return request;
    }

    private static String quoted(String s) {
        return "\"" + (s.length() > 64 ? s.substring(0, 64) + "..." : s) + "\"";
    }
}
