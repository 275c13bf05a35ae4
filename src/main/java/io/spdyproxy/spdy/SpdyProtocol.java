package io.spdyproxy.spdy;

/** The wire dialect. Both use version 3 frames; only SPDY/3.1 has a session-level window. */
public enum SpdyProtocol {
    SPDY_3("spdy/3"),
    SPDY_3_1("spdy/3.1");

    private final String alpnId;

    SpdyProtocol(String alpnId) {
        this.alpnId = alpnId;
    }

    /** The ALPN protocol id. */
    public String alpnId() {
        return alpnId;
    }

    public static SpdyProtocol fromAlpn(String id) {
        for (SpdyProtocol p : values()) {
            if (p.alpnId.equals(id)) {
                return p;
            }
        }
        throw new IllegalArgumentException("alpn: " + id + " (expected: spdy/3 or spdy/3.1)");
    }
}
