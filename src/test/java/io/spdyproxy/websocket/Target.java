package io.spdyproxy.websocket;

import io.spdyproxy.testing.WebSocketTestClient;
import java.net.URI;
import java.nio.file.Path;

/**
 * Where a case's clients connect: an app directly, or the proxy's HTTP or HTTPS front end.
 *
 * @param name for test names and messages
 * @param base {@code ws://host:port} or {@code wss://host:port}
 * @param options the Java client's options (TLS trust, Host header)
 * @param caPem the certificate a node client must trust for {@code wss}, else null
 */
record Target(String name, URI base, WebSocketTestClient.Options options, Path caPem) {

    URI uri(String path) {
        return base.resolve(path);
    }

    /** The arguments ws-client.js needs besides the case and its count. */
    Object[] nodeArgs() {
        String host = options.host();
        if (caPem == null && host == null) {
            return new Object[0];
        }
        java.util.List<Object> a = new java.util.ArrayList<>();
        if (caPem != null) {
            a.add("--ca");
            a.add(caPem);
        }
        if (host != null) {
            a.add("--host");
            a.add(host);
        }
        return a.toArray();
    }

    @Override
    public String toString() {
        return name;
    }
}
