package io.spdyproxy.observe.dashboard;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Map;

/**
 * The page's files, read from the jar once: HTML, one script, one style sheet and an icon, with no
 * build step and nothing from elsewhere (the policy allows only this origin).
 *
 * <p>Threading: immutable after class initialisation.
 */
final class Assets {
    /** One file and its media type. */
    record Asset(String type, byte[] body) {}

    private static final Map<String, Asset> BY_PATH = Map.of(
            "/", load("index.html", "text/html; charset=utf-8"),
            "/dashboard", load("index.html", "text/html; charset=utf-8"),
            "/dashboard.js", load("dashboard.js", "text/javascript; charset=utf-8"),
            "/dashboard.css", load("dashboard.css", "text/css; charset=utf-8"),
            "/dashboard.svg", load("dashboard.svg", "image/svg+xml"));

    private Assets() {}

    /** The file served at {@code path}, or null. */
    static Asset at(String path) {
        return BY_PATH.get(path);
    }

    private static Asset load(String name, String type) {
        try (InputStream in = Assets.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new IllegalStateException("dashboard resource missing from the jar: " + name);
            }
            return new Asset(type, in.readAllBytes());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
