package io.spdyproxy.observe.dashboard;

import io.netty.channel.EventLoopGroup;
import io.spdyproxy.example.ExampleHandler;
import io.spdyproxy.origin.OriginClient;
import io.spdyproxy.origin.OriginConfig;
import io.spdyproxy.proxy.ProxyConfig;
import io.spdyproxy.proxy.ProxyIdentity;
import io.spdyproxy.proxy.ProxyServer;
import io.spdyproxy.testing.TestCerts;
import io.spdyproxy.tls.TlsContexts;
import io.spdyproxy.transport.Transport;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A proxy on 127.0.0.1 with its admin listener (so its dashboard) on port 0, and on demand an
 * origin serving {@link ExampleHandler} as tunnel {@code default}; plain-socket HTTP/1.1 helpers
 * that send exactly the bytes asked for (paths a URI class would refuse included).
 */
final class DashboardBed implements AutoCloseable {
    static final String TOKEN = "dashboard-token-0123456789abcdef";
    private final EventLoopGroup originLoops = Transport.newGroup(1, "dash-origin");
    final ProxyServer proxy;
    private OriginClient origin;

    DashboardBed(Path dir) throws Exception {
        ProxyConfig config = ProxyConfig.defaults(dir).withBind("127.0.0.1").withPorts(0, 0, -1, 0)
                .withAuth(true, Map.of("default", ProxyConfig.hashToken(TOKEN)));
        proxy = ProxyServer.start(config, new ProxyIdentity(TestCerts.LOCALHOST, config.tokenHashes(), null));
    }

    /** Connects the origin; returns once the proxy has its tunnel. */
    void connectOrigin() throws Exception {
        origin = new OriginClient(OriginConfig.of("127.0.0.1", proxy.tunnelPort()).withCredentials("default", TOKEN)
                .withBackoff(Duration.ofMillis(50), Duration.ofSeconds(1)),
                TlsContexts.clientPinned(proxy.identity().fingerprint()), new ExampleHandler(), originLoops).start();
        proxy.tunnelConnected("default").get(10, TimeUnit.SECONDS);
    }

    /** One request on a new connection; the whole answer (head and body) as text. */
    static String exchange(int port, String method, String target, String host) throws IOException {
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(10_000);
            String req = method + " " + target + " HTTP/1.1\r\n" + (host == null ? "" : "Host: " + host + "\r\n")
                    + "Connection: close\r\n\r\n";
            s.getOutputStream().write(req.getBytes(StandardCharsets.ISO_8859_1));
            return readAll(s.getInputStream());
        }
    }

    static String readAll(InputStream in) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        in.transferTo(b);
        return b.toString(StandardCharsets.ISO_8859_1);
    }

    int adminPort() {
        return proxy.adminPort();
    }

    int httpPort() {
        return proxy.httpPort();
    }

    @Override
    public void close() {
        if (origin != null) {
            origin.close();
        }
        proxy.close();
        originLoops.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }
}
