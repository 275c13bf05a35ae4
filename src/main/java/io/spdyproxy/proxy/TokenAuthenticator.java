package io.spdyproxy.proxy;

import io.spdyproxy.tunnel.handshake.TunnelAuthenticator;
import io.spdyproxy.tunnel.handshake.TunnelProtocol;
import io.spdyproxy.proxy.live.TokensFile;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Checks an origin's bearer token against the SHA-256 hash configured for its tunnel name,
 * in constant time. Tokens are never stored in clear. With no tokens (auth none) every handshake
 * is accepted, the original's way. The hashes are asked for at each handshake, so a reload of the
 * tokens applies to the next one.
 *
 * <p>Threading: safe from any thread when the supplier is (it returns immutable snapshots).
 */
final class TokenAuthenticator implements TunnelAuthenticator {
    private final Supplier<Map<String, String>> hashesByName;
    private final boolean required;

    /** @param hashesByName tunnel name to hex SHA-256 of its token; {@code required} false: auth none */
    TokenAuthenticator(Map<String, String> hashesByName, boolean required) {
        this(constant(Map.copyOf(hashesByName)), required);
    }

    private static Supplier<Map<String, String>> constant(Map<String, String> hashes) {
        return () -> hashes;
    }

    /** @param hashesByName the tokens in force at each call (tunnel name to hex SHA-256 of its token) */
    TokenAuthenticator(Supplier<Map<String, String>> hashesByName, boolean required) {
        this.hashesByName = hashesByName;
        this.required = required;
    }

    @Override
    public Decision authenticate(String requestedName, String bearerToken, boolean legacy) {
        String name = requestedName == null || requestedName.isBlank() ? TunnelProtocol.DEFAULT_NAME
                : requestedName.trim();
        if (!name.matches("[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")) {
            return Decision.refuse("tunnel name '" + name + "' is not a DNS label (a-z, 0-9, '-')");
        }
        if (!required) {
            return Decision.accept(name);
        }
        if (bearerToken == null) {
            return Decision.refuse("a token is required (Authorization: Bearer ...)");
        }
        String expected = hashesByName.get().get(name);
        byte[] given = sha256(bearerToken);
        // Compare even when the name is unknown, so timing does not tell which names exist.
        byte[] want = expected == null ? new byte[given.length] : HexFormat.of().parseHex(expected);
        boolean ok = MessageDigest.isEqual(given, want) && expected != null;
        return ok ? Decision.accept(name) : Decision.refuse("wrong token for tunnel '" + name + "'");
    }

    static byte[] sha256(String token) {
        return TokensFile.sha256(token);
    }

    static String hash(String token) {
        return TokensFile.hash(token);
    }
}
