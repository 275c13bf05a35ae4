package io.spdyproxy.tunnel.handshake;

/** The proxy's decision on an origin's handshake. */
@FunctionalInterface
public interface TunnelAuthenticator {

    /** Accept under {@code name}, or refuse with a reason (the origin gets 401). */
    record Decision(boolean accepted, String name, String reason) {
        public static Decision accept(String name) {
            return new Decision(true, name, null);
        }

        public static Decision refuse(String reason) {
            return new Decision(false, null, reason);
        }
    }

    /**
     * @param requestedName the {@code Tunnel-Name} header, or null
     * @param bearerToken the token of an {@code Authorization: Bearer} header, or null
     * @param legacy the handshake lacks the protocol header (the original origin)
     */
    Decision authenticate(String requestedName, String bearerToken, boolean legacy);
}
