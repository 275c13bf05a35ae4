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
    /**
     * Extensions a peer supports, comma-separated, in both the PUT and the 200 (docs/PROTOCOL.md).
     * Each is used only when both sides list it; legacy peers send none and never see one used.
     */
    public static final String FEATURES_HEADER = "Tunnel-Features";
    /** The stream extension "Upgraded streams": an HTTP upgrade (101) and its raw bytes. */
    public static final String UPGRADE_FEATURE = "upgrade";
    public static final String ORIGIN_HELLO = "Hello from C";
    public static final String PROXY_HELLO = "Hello from P";
    /** The tunnel name legacy and unnamed origins get; it serves requests no other name matches. */
    public static final String DEFAULT_NAME = "default";
    public static final int DEFAULT_TUNNEL_PORT = 1444;
    public static final int DEFAULT_FRONTEND_PORT = 1443;

    private TunnelProtocol() {}

    /** True when the handshake message's headers list {@code feature} in {@link #FEATURES_HEADER}. */
    static boolean hasFeature(io.netty.handler.codec.http.HttpHeaders headers, String feature) {
        for (String v : headers.getAll(FEATURES_HEADER)) {
            for (String t : v.split(",")) {
                if (t.trim().equalsIgnoreCase(feature)) {
                    return true;
                }
            }
        }
        return false;
    }

    static String protocolId() {
        return SpdyProtocol.SPDY_3_1.alpnId();
    }
}
