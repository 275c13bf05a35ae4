package io.spdyproxy.proxy;

/** What every front-end connection shares: configuration, tunnels, routing, counters and request listeners. */
record ProxyContext(ProxyConfig config, TunnelRegistry registry, Router router, ProxyStats stats,
        RequestListeners listeners) {

    ProxyContext(ProxyConfig config, TunnelRegistry registry, Router router, ProxyStats stats) {
        this(config, registry, router, stats, new RequestListeners());
    }
}
