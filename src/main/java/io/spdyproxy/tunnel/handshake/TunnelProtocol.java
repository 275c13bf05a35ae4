package io.spdyproxy.tunnel.handshake;

import io.spdyproxy.spdy.SpdyProtocol;
import io.spdyproxy.tunnel.h2.H2TunnelSession;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The handshake that turns a TLS connection into a tunnel (see PROTOCOL.md): the origin sends
 * {@code PUT / HTTP/1.1} with a 12-byte body, the proxy answers {@code 200}, and the same
 * connection then carries SPDY with the proxy as client and the origin as server.
 *
 * <p>Negotiation (PROTOCOL.md, "Choosing the tunnel protocol"): the origin's {@link
 * #PROTOCOL_HEADER} lists the protocols it speaks in preference order ({@code h2, spdy/3.1}, or
 * just {@code spdy/3.1}); the proxy answers with the one it chose. A proxy from before HTTP/2
 * tunnels read no list and always answers {@code spdy/3.1}, so an origin asking for h2 falls back
 * to SPDY with it.
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

    /** A protocol the tunnel can run after the handshake. */
    public enum Kind {
        SPDY(SpdyProtocol.SPDY_3_1.alpnId()),
        H2(H2TunnelSession.PROTOCOL);

        private final String id;

        Kind(String id) {
            this.id = id;
        }

        /** As the handshake (and ALPN) spells it: {@code spdy/3.1}, {@code h2}. */
        public String id() {
            return id;
        }

        /** The protocol a handshake token names, or null for one we do not speak. */
        static Kind ofId(String token) {
            for (Kind k : values()) {
                if (k.id.equalsIgnoreCase(token.trim())) {
                    return k;
                }
            }
            return null;
        }

        /** The CLI's and the YAML file's spelling: {@code spdy} or {@code h2}. */
        public static Kind parse(String value) {
            String v = value == null ? "" : value.trim().toLowerCase(Locale.ROOT);
            return switch (v) {
                case "spdy", "spdy/3.1" -> SPDY;
                case "h2", "http2", "http/2" -> H2;
                default -> throw new IllegalArgumentException("tunnel protocol: " + value + " (expected: spdy or h2)");
            };
        }
    }

    private TunnelProtocol() {}

    /**
     * What an origin that prefers {@code wanted} offers: h2 first with SPDY as the fallback, or
     * SPDY alone (the header exactly as before HTTP/2 tunnels).
     */
    static String offer(Kind wanted) {
        return wanted == Kind.H2 ? Kind.H2.id() + ", " + Kind.SPDY.id() : Kind.SPDY.id();
    }

    /** The protocols a handshake header lists, in its order, those we do not speak left out. */
    static List<Kind> offered(io.netty.handler.codec.http.HttpHeaders headers) {
        List<Kind> out = new ArrayList<>();
        for (String v : headers.getAll(PROTOCOL_HEADER)) {
            for (String t : v.split(",")) {
                Kind k = Kind.ofId(t);
                if (k != null && !out.contains(k)) {
                    out.add(k);
                }
            }
        }
        return out;
    }

    /**
     * The proxy's choice: the origin's most preferred protocol this proxy accepts; SPDY when
     * none (every non-legacy origin speaks it: that is what proxies answered before the list).
     */
    static Kind choose(io.netty.handler.codec.http.HttpHeaders headers, java.util.Set<Kind> accepted) {
        for (Kind k : offered(headers)) {
            if (accepted.contains(k)) {
                return k;
            }
        }
        return Kind.SPDY;
    }

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
}
