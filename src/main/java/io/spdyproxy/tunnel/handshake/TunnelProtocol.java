package io.spdyproxy.tunnel.handshake;

import io.spdyproxy.spdy.SpdyProtocol;

/**
 * The handshake that turns a TLS connection into a tunnel (see PROTOCOL.md): the origin sends
 * {@code PUT / HTTP/1.1} with a 12-byte body, the proxy answers {@code 200}, and the same
 * connection then carries SPDY with the proxy as client and the origin as server.
 */
public final class TunnelProtocol {
    /** Names the protocol our peers speak; its absence marks a legacy (original Go) peer. */
    public static final String PROTOCOL_HEADER = "Tunnel-Protocol";
    /** The tunnel an origin serves; routes {@code <name>.<domain>} to it. */
    public static final String NAME_HEADER = "Tunnel-Name";
    public static final String ORIGIN_HELLO = "Hello from C";
    public static final String PROXY_HELLO = "Hello from P";
    /** The tunnel name legacy and unnamed origins get; it serves requests no other name matches. */
    public static final String DEFAULT_NAME = "default";
    public static final int DEFAULT_TUNNEL_PORT = 1444;
    public static final int DEFAULT_FRONTEND_PORT = 1443;

    private TunnelProtocol() {}

    static String protocolId() {
        return SpdyProtocol.SPDY_3_1.alpnId();
    }
}
