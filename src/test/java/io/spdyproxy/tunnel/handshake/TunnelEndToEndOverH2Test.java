package io.spdyproxy.tunnel.handshake;

/** Every {@link TunnelEndToEndTest} again over an HTTP/2 tunnel ({@code --tunnel-protocol h2}). */
class TunnelEndToEndOverH2Test extends TunnelEndToEndTest {
    @Override
    TunnelProtocol.Kind tunnelProtocol() {
        return TunnelProtocol.Kind.H2;
    }
}
