package io.spdyproxy.origin.upstream;

import java.net.URI;
import java.time.Duration;
import java.util.Locale;
import java.util.Objects;

/**
 * Where and how the reverse proxy reaches the local app.
 *
 * @param url the app's base URL, {@code http://host:port[/prefix]}
 * @param connectTimeout how long a new connection may take (then 502)
 * @param responseTimeout how long the app may take to start answering (then 504)
 * @param maxIdlePerLoop idle keep-alive connections kept per event loop
 */
public record UpstreamConfig(URI url, Duration connectTimeout, Duration responseTimeout, int maxIdlePerLoop) {

    public UpstreamConfig {
        Objects.requireNonNull(url, "url");
        String scheme = url.getScheme() == null ? "" : url.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("http")) {
            throw new IllegalArgumentException("upstream: " + url + " (expected: http://host:port)");
        }
        if (url.getHost() == null) {
            throw new IllegalArgumentException("upstream: " + url + " (expected: a host)");
        }
        Objects.requireNonNull(connectTimeout, "connectTimeout");
        Objects.requireNonNull(responseTimeout, "responseTimeout");
        if (maxIdlePerLoop < 0) {
            throw new IllegalArgumentException("maxIdlePerLoop: " + maxIdlePerLoop + " (expected: >= 0)");
        }
    }

    public static UpstreamConfig of(URI url) {
        return new UpstreamConfig(url, Duration.ofSeconds(5), Duration.ofSeconds(60), 1024);
    }

    public UpstreamConfig withResponseTimeout(Duration d) {
        return new UpstreamConfig(url, connectTimeout, d, maxIdlePerLoop);
    }

    int port() {
        return url.getPort() < 0 ? 80 : url.getPort();
    }

    /** The path prefix of the base URL, without a trailing slash ("" for none). */
    String pathPrefix() {
        String p = url.getRawPath();
        if (p == null || p.isEmpty() || p.equals("/")) {
            return "";
        }
        return p.endsWith("/") ? p.substring(0, p.length() - 1) : p;
    }
}
