package io.spdyproxy.proxy.access;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.util.NetUtil;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Base64;
import java.util.Locale;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

/**
 * Checks one request against its tunnel's rules, in this order: the visitor's address (deny wins
 * over allow: 403), credentials (basic or bearer: 401 with a challenge for each scheme the tunnel
 * accepts, RFC 9110 section 11.6.1; 503 when too many passwords wait for bcrypt), then the
 * concurrency limit (429). A request let in holds a slot until it ends. The {@code Authorization}
 * header that authenticated the visitor belongs to the proxy and is removed before forwarding; on
 * a tunnel without visitor auth it passes untouched.
 *
 * <p>Threading: thread-safe; {@link #admit} is called on the client connection's loop and
 * answers on it (at once, or after a bcrypt check on another thread).
 */
final class Gate {
    private final AccessControl access;
    private final PasswordCheck passwords;

    Gate(AccessControl access, PasswordCheck passwords) {
        this.access = access;
        this.passwords = passwords;
    }

    /**
     * Decides on {@code request} for {@code tunnel} and hands the {@link Admission} to {@code then}
     * on {@code loop}.
     *
     * @param peer the client connection's remote address
     * @param trustForwardedFor take the visitor's address from the last {@code X-Forwarded-For}
     *     entry (the one the trusted load balancer in front appended) instead of the TCP peer
     */
    void admit(String tunnel, HttpRequest request, SocketAddress peer, boolean trustForwardedFor,
            Executor loop, Consumer<Admission> then) {
        TunnelPolicy p = access.policy(tunnel);
        if (p == null) {
            then.accept(Admission.OPEN);
            return;
        }
        InetAddress visitor = visitor(peer, request, trustForwardedFor);
        if (!addressAllowed(p, visitor)) {
            then.accept(Admission.refused(HttpResponseStatus.FORBIDDEN, "your address may not use this tunnel"));
            return;
        }
        if (!p.authRequired()) {
            then.accept(limit(p, request, null));
            return;
        }
        String authz = request.headers().get(HttpHeaderNames.AUTHORIZATION);
        String scheme = authz == null ? "" : authz.trim();
        int sp = scheme.indexOf(' ');
        String credentials = sp < 0 ? "" : scheme.substring(sp + 1).trim();
        scheme = sp < 0 ? scheme : scheme.substring(0, sp);
        if (scheme.equalsIgnoreCase("Bearer") && !p.bearerHashes().isEmpty()) {
            then.accept(bearerMatches(p, credentials) ? limit(p, request, null) : challenge(p, "invalid token"));
            return;
        }
        if (scheme.equalsIgnoreCase("Basic") && !p.basicUsers().isEmpty()) {
            String pair = decodeBasic(credentials);
            int colon = pair == null ? -1 : pair.indexOf(':');
            if (colon < 0) {
                then.accept(challenge(p, "malformed basic credentials"));
                return;
            }
            String user = pair.substring(0, colon);
            passwords.check(p.name(), user, pair.substring(colon + 1), p.basicUsers().get(user), loop, r -> then.accept(
                    switch (r) {
                        case OK -> limit(p, request, user);
                        case WRONG -> challenge(p, "wrong user name or password");
                        case BUSY -> Admission.retryLater(HttpResponseStatus.SERVICE_UNAVAILABLE,
                                "too many password checks at once; try again", 1);
                    }));
            return;
        }
        then.accept(challenge(p, "this tunnel needs credentials"));
    }

    /** The concurrency limit, once the visitor may come in; then the way in. */
    private Admission limit(TunnelPolicy p, HttpRequest request, String user) {
        if (p.authRequired()) {
            request.headers().remove(HttpHeaderNames.AUTHORIZATION); // the proxy's, not the origin's
        }
        AccessControl.TunnelLimits l = access.limits(p.name());
        AtomicInteger slot = null;
        if (p.maxConcurrentRequests() > 0) {
            if (l.inFlight.incrementAndGet() > p.maxConcurrentRequests()) {
                l.inFlight.decrementAndGet();
                return Admission.retryLater(HttpResponseStatus.TOO_MANY_REQUESTS, "tunnel '" + p.name()
                        + "' has " + p.maxConcurrentRequests() + " requests in flight, its limit", 1);
            }
            slot = l.inFlight;
        }
        return Admission.allowed(l.upload(), l.download(), slot, user);
    }

    private static Admission challenge(TunnelPolicy p, String why) {
        Admission a = Admission.refused(HttpResponseStatus.UNAUTHORIZED, why);
        // RFC 7617 section 2 (realm, charset) and RFC 6750 section 3 (Bearer realm).
        String realm = "\"" + p.name().replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
        if (!p.basicUsers().isEmpty()) {
            a.headers().add(HttpHeaderNames.WWW_AUTHENTICATE, "Basic realm=" + realm + ", charset=\"UTF-8\"");
        }
        if (!p.bearerHashes().isEmpty()) {
            a.headers().add(HttpHeaderNames.WWW_AUTHENTICATE, "Bearer realm=" + realm);
        }
        return a;
    }

    /** Compares digests in constant time, and against every configured one. */
    private static boolean bearerMatches(TunnelPolicy p, String token) {
        byte[] digest = sha256(token);
        boolean match = false;
        for (byte[] h : p.bearerHashes()) {
            match |= MessageDigest.isEqual(h, digest);
        }
        return match;
    }

    private static String decodeBasic(String b64) {
        try {
            return new String(Base64.getDecoder().decode(b64), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    static boolean addressAllowed(TunnelPolicy p, InetAddress visitor) {
        if (p.allow().isEmpty() && p.deny().isEmpty()) {
            return true;
        }
        if (visitor == null) {
            return false; // no IP address to judge: lists exist, so not allowed
        }
        for (Cidr c : p.deny()) {
            if (c.matches(visitor)) {
                return false;
            }
        }
        if (p.allow().isEmpty()) {
            return true;
        }
        for (Cidr c : p.allow()) {
            if (c.matches(visitor)) {
                return true;
            }
        }
        return false;
    }

    /** The TCP peer, or the last X-Forwarded-For entry when trusted (and an address literal). */
    static InetAddress visitor(SocketAddress peer, HttpRequest request, boolean trustForwardedFor) {
        if (trustForwardedFor) {
            java.util.List<String> all = request.headers().getAll("X-Forwarded-For");
            if (!all.isEmpty()) {
                String xff = all.get(all.size() - 1);
                String last = xff.substring(xff.lastIndexOf(',') + 1).trim().toLowerCase(Locale.ROOT);
                if (last.startsWith("[") && last.endsWith("]")) {
                    last = last.substring(1, last.length() - 1);
                }
                InetAddress a = NetUtil.createInetAddressFromIpAddressString(last);
                if (a != null) {
                    return a;
                }
            }
        }
        return peer instanceof InetSocketAddress s ? s.getAddress() : null;
    }

    static byte[] sha256(String s) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
