package io.spdyproxy.origin.upstream;

import io.netty.channel.EventLoop;
import io.spdyproxy.tunnel.TunnelExchange;
import io.spdyproxy.tunnel.RequestHandler;

/**
 * Exposes a local web app (like {@code ngrok http 8080}): every SPDY stream becomes one request
 * to the app, over a pooled keep-alive HTTP/1.1 connection ({@code http://}) or as a stream of a
 * pooled, multiplexed HTTP/2 connection ({@code h2c://}, or {@code https://} when the app picks
 * {@code h2} by ALPN), bodies and trailers streaming both ways with backpressure. A dead or refusing app gives 502 on that stream only, a slow one 504. An upgrade
 * request (WebSocket or any other protocol) is passed on as one; when the app answers 101 its
 * connection becomes a raw, flow-controlled byte pipe to the stream ({@link UpgradedRelay}).
 *
 * <p>Threading: each exchange runs entirely on its SPDY session's event loop.
 */
public final class ReverseProxyHandler implements RequestHandler, AutoCloseable {
    private final UpstreamConfig config;
    private final UpstreamConnector pool;

    public ReverseProxyHandler(UpstreamConfig config) {
        this.config = config;
        this.pool = new UpstreamConnector(config);
    }

    @Override
    public void onRequest(TunnelExchange exchange) {
        EventLoop loop = exchange.stream().session().eventLoop();
        new UpstreamExchange(exchange, config, pool, loop).start();
    }

    @Override
    public void close() {
        pool.close();
    }
}
