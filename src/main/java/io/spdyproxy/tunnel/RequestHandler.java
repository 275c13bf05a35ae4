package io.spdyproxy.tunnel;

/**
 * Answers the requests a tunnel delivers (the origin's side). Called on the session's event loop
 * once per stream, with its head already checked; must not block.
 */
@FunctionalInterface
public interface RequestHandler {
    void onRequest(TunnelExchange exchange);
}
