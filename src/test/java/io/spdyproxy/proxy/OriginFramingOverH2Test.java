package io.spdyproxy.proxy;

import io.spdyproxy.tunnel.handshake.TunnelProtocol;

/** Every {@link OriginFramingTest} again over an HTTP/2 tunnel ({@code --tunnel-protocol h2}). */
class OriginFramingOverH2Test extends OriginFramingTest {
    @Override
    TunnelProtocol.Kind tunnelProtocol() {
        return TunnelProtocol.Kind.H2;
    }
}
