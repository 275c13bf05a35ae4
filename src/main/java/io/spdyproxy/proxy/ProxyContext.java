package io.spdyproxy.proxy;

/** What every front-end connection shares: configuration, tunnels, routing and counters. */
record ProxyContext(ProxyConfig config, TunnelRegistry registry, Router router, ProxyStats stats) {}
