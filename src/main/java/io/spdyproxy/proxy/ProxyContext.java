package io.spdyproxy.proxy;

import io.spdyproxy.proxy.access.AccessControl;

/** What every front-end connection shares: configuration, tunnels, routing, counters and visitor rules. */
record ProxyContext(ProxyConfig config, TunnelRegistry registry, Router router, ProxyStats stats,
        AccessControl access) {

    /** Without visitor rules: every tunnel open. */
    ProxyContext(ProxyConfig config, TunnelRegistry registry, Router router, ProxyStats stats) {
        this(config, registry, router, stats, AccessControl.none());
    }
}
