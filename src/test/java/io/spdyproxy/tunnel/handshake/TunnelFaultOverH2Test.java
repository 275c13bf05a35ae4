package io.spdyproxy.tunnel.handshake;

/** Every {@link TunnelFaultTest} again over an HTTP/2 tunnel ({@code --tunnel-protocol h2}). */
class TunnelFaultOverH2Test extends TunnelFaultTest {
    @Override
    TunnelProtocol.Kind tunnelProtocol() {
        return TunnelProtocol.Kind.H2;
    }
}
