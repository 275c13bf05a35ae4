package io.spdyproxy.websocket;

import io.spdyproxy.tunnel.handshake.TunnelProtocol;

/**
 * Every {@link WebSocketTunnelTest} again over an HTTP/2 tunnel: the upgrade extension (a {@code
 * :status 101} and DATA both ways, docs/PROTOCOL.md) carrying WebSockets end to end. The sizes are
 * smaller than the SPDY run's, which proves the full ones: what is h2's own shows at these.
 */
class WebSocketTunnelOverH2Test extends WebSocketTunnelTest {
    @Override
    TunnelProtocol.Kind tunnelProtocol() {
        return TunnelProtocol.Kind.H2;
    }

    /** 16 MiB: still sixteen h2 stream windows each way, and many frames of the tunnel's size. */
    @Override
    int bigMessageBytes() {
        return 16 << 20;
    }

    /** 300: well past the 100 to 128 concurrent streams common h2 peers allow on one connection. */
    @Override
    int manySockets() {
        return 300;
    }
}
