package io.spdyproxy.origin.inspect;

import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http.HttpHeaders;
import io.spdyproxy.tunnel.BodyListener;
import io.spdyproxy.tunnel.RequestHandler;
import io.spdyproxy.tunnel.TunnelExchange;

/**
 * A decorator around the origin's {@link RequestHandler} (the file server or the reverse proxy)
 * that records each request in the {@link CaptureStore} without changing what flows. The handler
 * gets an exchange of its own over a {@link CapturingStream}; the tunnel's exchange hands it every
 * event unchanged (same buffers, same order, same end), after the request's first body bytes were
 * copied. Window credit, writability and resets pass straight through, so backpressure is the
 * handler's exactly as without the inspector.
 *
 * <p>Threading: {@link #onRequest} and the events run on the stream's event loop.
 */
final class CapturingHandler implements RequestHandler {
    private final RequestHandler handler;
    private final CaptureStore store;

    CapturingHandler(RequestHandler handler, CaptureStore store) {
        this.handler = handler;
        this.store = store;
    }

    @Override
    public void onRequest(TunnelExchange exchange) {
        onRequest(exchange, 0);
    }

    /** As {@link #onRequest(TunnelExchange)}, recording the capture as a replay of {@code replayOf}. */
    Capture onRequest(TunnelExchange outer, long replayOf) {
        Capture capture = store.begin(outer.request(), outer.scheme(), replayOf);
        CapturingStream stream = new CapturingStream(outer.stream(), capture);
        TunnelExchange inner = new TunnelExchange(stream, outer.request(), outer.scheme(), outer.requestHasBody());
        outer.onBody(new BodyListener() {
            @Override
            public void onChunk(ByteBuf chunk, boolean last) {
                capture.requestChunk(chunk);
                inner.onData(stream, chunk, last);
            }

            @Override
            public void onTrailers(HttpHeaders trailers) {
                capture.requestTrailers(trailers);
                // Already checked by the outer exchange; its final empty chunk follows as onChunk.
                inner.onTrailers(stream, trailers, false);
            }
        });
        outer.onWritable(() -> inner.onWritabilityChanged(stream));
        outer.onClose(cause -> {
            capture.closed(cause);
            inner.onClosed(stream, cause);
        });
        handler.onRequest(inner);
        return capture;
    }
}
