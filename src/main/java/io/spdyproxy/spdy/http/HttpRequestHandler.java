package io.spdyproxy.spdy.http;

/**
 * Serves HTTP requests arriving as SPDY streams, like Go's {@code http.Handler}. Called on the
 * session's event loop once the request head arrived; respond at once or later, from any thread,
 * and register {@link HttpExchange#onBody} before returning to receive the request body.
 */
@FunctionalInterface
public interface HttpRequestHandler {
    void onRequest(HttpExchange exchange);
}
