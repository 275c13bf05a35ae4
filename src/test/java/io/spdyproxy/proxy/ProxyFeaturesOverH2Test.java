package io.spdyproxy.proxy;

import io.spdyproxy.tunnel.handshake.TunnelProtocol;

/**
 * Every {@link ProxyFeaturesTest} again over an HTTP/2 tunnel ({@code --tunnel-protocol h2}),
 * except the one that reads a SPDY stream's send window (it skips, saying so).
 */
class ProxyFeaturesOverH2Test extends ProxyFeaturesTest {
    @Override
    TunnelProtocol.Kind tunnelProtocol() {
        return TunnelProtocol.Kind.H2;
    }
}
