package io.spdyproxy.proxy;

import io.spdyproxy.tunnel.handshake.TunnelProtocol;

/** Every {@link ClientHardeningTest} again over an HTTP/2 tunnel ({@code --tunnel-protocol h2}). */
class ClientHardeningOverH2Test extends ClientHardeningTest {
    @Override
    TunnelProtocol.Kind tunnelProtocol() {
        return TunnelProtocol.Kind.H2;
    }
}
