package io.spdyproxy.proxy.access;

import java.util.List;
import java.util.Map;

/**
 * What the access-control file says about one tunnel. Empty lists and maps mean "no such rule".
 *
 * @param name the tunnel name
 * @param basicUsers user name to bcrypt hash ({@code $2a$}, {@code $2b$} or {@code $2y$})
 * @param bearerHashes SHA-256 digests (32 bytes each) of the accepted bearer tokens
 * @param allow when not empty, only these ranges may connect
 * @param deny these ranges may not connect, whatever {@code allow} says
 * @param maxConcurrentRequests requests in flight at once across all clients; 0: no limit
 * @param bytesPerSecond the bandwidth limit of each direction; 0: no limit
 * @param burst bytes a direction may send at once after being idle
 */
record TunnelPolicy(String name, Map<String, String> basicUsers, List<byte[]> bearerHashes, List<Cidr> allow,
        List<Cidr> deny, int maxConcurrentRequests, long bytesPerSecond, long burst) {

    TunnelPolicy {
        basicUsers = Map.copyOf(basicUsers);
        bearerHashes = List.copyOf(bearerHashes);
        allow = List.copyOf(allow);
        deny = List.copyOf(deny);
    }

    /** Visitors must authenticate: basic auth, a bearer token, or both accepted. */
    boolean authRequired() {
        return !basicUsers.isEmpty() || !bearerHashes.isEmpty();
    }
}
