package io.spdyproxy.spdy.http;

import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.spdy.SpdyHeaders;
import java.util.concurrent.CompletableFuture;

/**
 * The client side of one HTTP request over a SPDY stream: write the request body through it, and
 * get the response head from {@link #response()} and the body through {@link #onBody}.
 */
public final class HttpCall extends HttpStreamBase {
    private final CompletableFuture<HttpResponse> response = new CompletableFuture<>();

    HttpCall() {}

    @Override
    public void onClosed(io.spdyproxy.spdy.SpdyStream s, io.spdyproxy.spdy.SpdyStreamException cause) {
        if (!response.isDone()) {
            response.completeExceptionally(cause != null ? cause
                    : new IllegalStateException("stream ended without a response"));
        }
        super.onClosed(s, cause);
    }

    /** Completes with the response head, or fails if the stream ends first. */
    public CompletableFuture<HttpResponse> response() {
        return response;
    }

    @Override
    void onHead(SpdyHeaders headers, boolean endOfStream) {
        try {
            response.complete(SpdyHttpHeaders.toResponse(headers));
        } catch (IllegalArgumentException e) {
            response.completeExceptionally(e);
            reset(io.spdyproxy.spdy.SpdyError.PROTOCOL_ERROR);
            return;
        }
        if (endOfStream) {
            endBody();
        }
    }
}
