package io.spdyproxy.websocket;

import io.spdyproxy.tunnel.handshake.TunnelProtocol;

/**
 * Every {@link WebSocketTunnelTest} again over an HTTP/2 tunnel: the upgrade extension (a {@code
 * :status 101} and DATA both ways, docs/PROTOCOL.md) carrying WebSockets end to end.
 */
class WebSocketTunnelOverH2Test extends WebSocketTunnelTest {
    @Override
    TunnelProtocol.Kind tunnelProtocol() {
        return TunnelProtocol.Kind.H2;
    }
}
