package io.spdyproxy.observe.metrics;

import io.spdyproxy.tunnel.handshake.TunnelProtocol;

/** {@link ProxyMetricsTest} over the HTTP/2 tunnel: its adapter reports resets the same way. */
class ProxyMetricsOverH2Test extends ProxyMetricsTest {
    @Override
    TunnelProtocol.Kind tunnelProtocol() {
        return TunnelProtocol.Kind.H2;
    }
}
