package io.spdyproxy.origin.upstream;

import java.net.URI;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.Locale;
import java.util.Objects;

/**
 * Where and how the reverse proxy reaches the local app.
 *
 * @param url the app's base URL: {@code http://host:port[/prefix]} (HTTP/1.1), {@code
 *     h2c://host:port[/prefix]} (HTTP/2 with prior knowledge) or {@code https://host:port[/prefix]}
 *     (TLS; HTTP/2 or HTTP/1.1 as the app picks by ALPN)
 * @param connectTimeout how long a new connection may take (then 502)
 * @param responseTimeout how long the app may take to start answering (then 504)
 * @param maxIdlePerLoop idle keep-alive HTTP/1.1 connections kept per event loop
 * @param trustedCa for https: the CA (or the app's own certificate) to trust instead of the JDK's
 *     trust store; null for the trust store
 * @param insecure for https: accept any certificate, any name (never verified)
 */
public record UpstreamConfig(URI url, Duration connectTimeout, Duration responseTimeout, int maxIdlePerLoop,
        X509Certificate trustedCa, boolean insecure) {

    public UpstreamConfig {
        Objects.requireNonNull(url, "url");
        UpstreamProtocol.of(url); // throws on another scheme
        if (url.getHost() == null) {
            throw new IllegalArgumentException("upstream: " + url + " (expected: a host)");
        }
        Objects.requireNonNull(connectTimeout, "connectTimeout");
        Objects.requireNonNull(responseTimeout, "responseTimeout");
        if (maxIdlePerLoop < 0) {
            throw new IllegalArgumentException("maxIdlePerLoop: " + maxIdlePerLoop + " (expected: >= 0)");
        }
        if (trustedCa != null && insecure) {
            throw new IllegalArgumentException("trustedCa and insecure exclude each other");
        }
    }

    public UpstreamConfig(URI url, Duration connectTimeout, Duration responseTimeout, int maxIdlePerLoop) {
        this(url, connectTimeout, responseTimeout, maxIdlePerLoop, null, false);
    }

    public static UpstreamConfig of(URI url) {
        return new UpstreamConfig(url, Duration.ofSeconds(5), Duration.ofSeconds(60), 1024);
    }

    public UpstreamConfig withResponseTimeout(Duration d) {
        return new UpstreamConfig(url, connectTimeout, d, maxIdlePerLoop, trustedCa, insecure);
    }

    /** For an https upstream: trust {@code ca} (null: the JDK's trust store), or nothing at all. */
    public UpstreamConfig withTrust(X509Certificate ca, boolean trustAll) {
        return new UpstreamConfig(url, connectTimeout, responseTimeout, maxIdlePerLoop, ca, trustAll);
    }

    UpstreamProtocol protocol() {
        return UpstreamProtocol.of(url);
    }

    int port() {
        if (url.getPort() >= 0) {
            return url.getPort();
        }
        return protocol() == UpstreamProtocol.HTTPS ? 443 : 80;
    }

    /** The path prefix of the base URL, without a trailing slash ("" for none). */
    String pathPrefix() {
        String p = url.getRawPath();
        if (p == null || p.isEmpty() || p.equals("/")) {
            return "";
        }
        return p.endsWith("/") ? p.substring(0, p.length() - 1) : p;
    }

    /** How the origin talks to the app, from the URL's scheme. */
    enum UpstreamProtocol {
        /** {@code http://}: HTTP/1.1 over TCP, pooled keep-alive connections. */
        HTTP1,
        /** {@code h2c://}: HTTP/2 over TCP with prior knowledge (RFC 9113 section 3.3). */
        H2C,
        /** {@code https://}: TLS, HTTP/2 or HTTP/1.1 as the app picks by ALPN (RFC 7301). */
        HTTPS;

        static UpstreamProtocol of(URI url) {
            String scheme = url.getScheme() == null ? "" : url.getScheme().toLowerCase(Locale.ROOT);
            return switch (scheme) {
                case "http" -> HTTP1;
                case "h2c" -> H2C;
                case "https" -> HTTPS;
                default -> throw new IllegalArgumentException("upstream: " + url
                        + " (expected: http://, h2c:// or https://host:port)");
            };
        }
    }
}
