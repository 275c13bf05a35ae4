package io.spdyproxy.proxy;

import io.spdyproxy.proxy.access.AccessControl;

/**
 * What every front-end connection shares: configuration, tunnels, routing, counters, request
 * listeners and visitor rules.
 */
record ProxyContext(ProxyConfig config, TunnelRegistry registry, Router router, ProxyStats stats,
        RequestListeners listeners, AccessControl access) {

    ProxyContext(ProxyConfig config, TunnelRegistry registry, Router router, ProxyStats stats) {
        this(config, registry, router, stats, new RequestListeners(), AccessControl.none());
    }
}
