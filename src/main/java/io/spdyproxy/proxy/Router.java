package io.spdyproxy.proxy;

import java.util.Locale;

/**
 * Maps a request's host to a tunnel name: {@code <name>.<domain>} goes to tunnel {@code name} when
 * such a tunnel is connected; everything else goes to the default tunnel (the original's
 * behaviour: the origin that connected serves every request).
 */
final class Router {
    private final String domainSuffix;
    private final String defaultTunnel;

    /** @param domain the proxy's domain, or null/empty to route everything to the default */
    Router(String domain, String defaultTunnel) {
        this.domainSuffix = domain == null || domain.isEmpty() ? null : "." + domain.toLowerCase(Locale.ROOT);
        this.defaultTunnel = defaultTunnel;
    }

    String route(String hostHeader, TunnelRegistry registry) {
        if (hostHeader != null && domainSuffix != null) {
            String host = stripPort(hostHeader).toLowerCase(Locale.ROOT);
            if (host.endsWith(domainSuffix)) {
                String name = host.substring(0, host.length() - domainSuffix.length());
                if (!name.isEmpty() && name.indexOf('.') < 0 && registry.has(name)) {
                    return name;
                }
            }
        }
        return defaultTunnel;
    }

    /** The name a host asks for, for error messages. */
    String requestedName(String hostHeader) {
        if (hostHeader == null || domainSuffix == null) {
            return defaultTunnel;
        }
        String host = stripPort(hostHeader).toLowerCase(Locale.ROOT);
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
