package io.spdyproxy.tunnel;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpRequest;

/**
 * The head of a request a tunnel stream carries: method, request target, headers (the
 * {@code Host} header is the authority) and the scheme the client used. Hop-by-hop headers are
 * dropped by the protocol mapping, except an upgrade's {@code Upgrade} on a session that
 * {@linkplain TunnelSession#supportsUpgrade() supports upgrades}.
 */
public record RequestHead(HttpRequest request, String scheme) {

    /**
     * The protocol a request asks to switch to (RFC 9110 section 7.8): its {@code Upgrade} value
     * when its {@code Connection} lists {@code upgrade}; null otherwise.
     */
    public static String upgradeOf(HttpRequest request) {
        String upgrade = request.headers().get(HttpHeaderNames.UPGRADE);
        if (upgrade == null || upgrade.isBlank()) {
            return null;
        }
        return request.headers().containsValue(HttpHeaderNames.CONNECTION, HttpHeaderValues.UPGRADE, true)
                ? upgrade.trim() : null;
    }

    /** The protocol this request asks to switch to, or null. */
    public String upgrade() {
        return upgradeOf(request);
    }
}
