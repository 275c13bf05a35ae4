package io.spdyproxy.origin.inspect;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Map;

/**
 * What identifies this inspector to a browser: its port, the host names it answers to, the
 * random token of this start, and the page's files (plain HTML, JS and CSS from the jar; the
 * token is written into the page, which only the inspector's own origin can read).
 *
 * <p>Threading: immutable after construction.
 */
final class InspectorSite {
    /** One file of the page. */
    record Asset(String contentType, byte[] bytes) {}

    private static final String TOKEN_PLACEHOLDER = "@INSPECTOR_TOKEN@";

    private final int port;
    private final String token;
    private final Map<String, Asset> assets;

    InspectorSite(int port) {
        byte[] random = new byte[24];
        new SecureRandom().nextBytes(random);
        this.port = port;
        this.token = HexFormat.of().formatHex(random);
        Asset page = new Asset("text/html; charset=utf-8",
                read("index.html").replace(TOKEN_PLACEHOLDER, token).getBytes(StandardCharsets.UTF_8));
        Asset icon = new Asset("image/svg+xml", read("favicon.svg").getBytes(StandardCharsets.UTF_8));
        this.assets = Map.of("/", page, "/index.html", page,
                "/inspector.js", new Asset("text/javascript; charset=utf-8",
                        read("inspector.js").getBytes(StandardCharsets.UTF_8)),
                "/inspector.css", new Asset("text/css; charset=utf-8",
                        read("inspector.css").getBytes(StandardCharsets.UTF_8)),
                "/favicon.svg", icon, "/favicon.ico", icon);
    }

    int port() {
        return port;
    }

    String token() {
        return token;
    }

    /** The file at {@code path}, or null. */
    Asset asset(String path) {
        return assets.get(path);
    }

    /** {@code Host} names the inspector (RFC 9110 section 7.2): 127.0.0.1 or localhost with this port. */
    boolean isOwnHost(String host) {
        if (host == null) {
            return false;
        }
        String h = host.trim().toLowerCase(Locale.ROOT);
        return h.equals("127.0.0.1:" + port) || h.equals("localhost:" + port);
    }

    /** {@code Origin} (RFC 6454) is the inspector's own page. */
    boolean isOwnOrigin(String origin) {
        String o = origin.trim().toLowerCase(Locale.ROOT);
        return o.startsWith("http://") && isOwnHost(o.substring("http://".length()));
    }

    private static String read(String name) {
        try (InputStream in = InspectorSite.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new IllegalStateException("inspector resource " + name + " missing from the jar");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
