package io.spdyproxy.proxy;

import java.util.Locale;

/**
 * Maps a request's host to the one tunnel name that may serve it. With a domain, {@code
 * <name>.<domain>} belongs to tunnel {@code name} alone: when that tunnel is not connected the
 * request fails (503), it never falls back to another tenant's tunnel. Hosts outside the domain,
 * or every host without a domain (the original's behaviour), go to the default tunnel.
 *
 * <p>Stateless.
 */
final class Router {
    private final String domainSuffix;
    private final String defaultTunnel;

    /** @param domain the proxy's domain, or null/empty to route everything to the default */
    Router(String domain, String defaultTunnel) {
        this.domainSuffix = domain == null || domain.isEmpty() ? null : "." + domain.toLowerCase(Locale.ROOT);
        this.defaultTunnel = defaultTunnel;
    }

    /**
     * The tunnel name for {@code hostHeader}. A host under the domain gives what stands before it,
     * even when that is no valid tunnel name ({@code a.b}, empty): no tunnel has such a name, so
     * the request gets 503 rather than the default tunnel.
     */
    String route(String hostHeader) {
        if (hostHeader == null || domainSuffix == null) {
            return defaultTunnel;
        }
        String host = stripPort(hostHeader).toLowerCase(Locale.ROOT);
        if (host.endsWith(".")) {
            host = host.substring(0, host.length() - 1); // the absolute form names the same host
        }
        return host.endsWith(domainSuffix) ? host.substring(0, host.length() - domainSuffix.length()) : defaultTunnel;
    }

    private static String stripPort(String host) {
        if (host.startsWith("[")) {
            int end = host.indexOf(']');
            return end > 0 ? host.substring(1, end) : host;
        }
        int colon = host.lastIndexOf(':');
        return colon > 0 && host.indexOf(':') == colon ? host.substring(0, colon) : host;
    }
}
