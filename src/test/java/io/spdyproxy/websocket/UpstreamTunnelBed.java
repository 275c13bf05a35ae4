package io.spdyproxy.websocket;

import io.netty.channel.EventLoopGroup;
import io.spdyproxy.origin.OriginClient;
import io.spdyproxy.origin.OriginConfig;
import io.spdyproxy.tunnel.handshake.TunnelProtocol;
import io.spdyproxy.origin.upstream.ReverseProxyHandler;
import io.spdyproxy.origin.upstream.UpstreamConfig;
import io.spdyproxy.proxy.ProxyConfig;
import io.spdyproxy.proxy.ProxyIdentity;
import io.spdyproxy.proxy.ProxyServer;
import io.spdyproxy.testing.FaultRelay;
import io.spdyproxy.testing.TestCerts;
import io.spdyproxy.testing.WebSocketTestClient;
import io.spdyproxy.tls.PemFiles;
import io.spdyproxy.tls.TlsContexts;
import io.spdyproxy.transport.Transport;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.file.Path;
import java.security.KeyStore;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * The whole path of issue 10 on loopback: a proxy with HTTP and HTTPS front ends (the test
 * certificate), one origin whose reverse proxy ({@code --upstream}) points at an app, and a {@link
 * FaultRelay} on the tunnel between them so a test can drop the tunnel. Everything closes with
 * the bed. (The proxy package's {@code ProxyBed} serves in-process handlers, not an upstream app,
 * and has no relay on the tunnel.)
 *
 * <p>Threading: built and closed by the test thread.
 */
final class UpstreamTunnelBed implements AutoCloseable {
    static final String TOKEN = "ws-bed-token-0123456789abcdef";
    private static final String TUNNEL = "default";

    final ProxyServer proxy;
    private final FaultRelay relay;
    private final ReverseProxyHandler upstream;
    private final OriginClient origin;
    private final EventLoopGroup originLoops = Transport.newGroup(1, "ws-bed-origin");
    private final Path caPem;

    UpstreamTunnelBed(Path dir, int appPort) throws Exception {
        this(dir, appPort, TunnelProtocol.Kind.SPDY);
    }

    /** As above, the origin asking for {@code protocol} (suites run once per tunnel protocol). */
    UpstreamTunnelBed(Path dir, int appPort, TunnelProtocol.Kind protocol) throws Exception {
        ProxyConfig config = ProxyConfig.defaults(dir.resolve("proxy")).withBind("127.0.0.1").withPorts(0, 0, 0, -1)
                .withAuth(true, Map.of(TUNNEL, ProxyConfig.hashToken(TOKEN)));
        proxy = ProxyServer.start(config, new ProxyIdentity(TestCerts.LOCALHOST, config.tokenHashes(), null));
        relay = new FaultRelay(proxy.tunnelPort());
        upstream = new ReverseProxyHandler(UpstreamConfig.of(URI.create("http://127.0.0.1:" + appPort)));
        origin = new OriginClient(OriginConfig.of("127.0.0.1", relay.port()).withCredentials(TUNNEL, TOKEN)
                .withBackoff(Duration.ofMillis(50), Duration.ofSeconds(1)).withTunnelProtocol(protocol),
                TlsContexts.clientPinned(proxy.identity().fingerprint()), upstream, originLoops).start();
        proxy.tunnelConnected(TUNNEL).get(10, TimeUnit.SECONDS);
        caPem = dir.resolve("ca.pem");
        PemFiles.write(TestCerts.LOCALHOST, caPem, dir.resolve("ca-key.pem"));
    }

    /** The proxy's plain front end ({@code ws://}). */
    Target http() {
        return new Target("http front end", URI.create("ws://127.0.0.1:" + proxy.httpPort()),
                WebSocketTestClient.Options.plain(), null);
    }

    /** The proxy's TLS front end ({@code wss://}), trusting the test certificate. */
    Target https() {
        return new Target("https front end", URI.create("wss://127.0.0.1:" + proxy.httpsPort()),
                WebSocketTestClient.Options.plain().withTls(
                        TlsContexts.client(TestCerts.LOCALHOST.certificate(), List.of())), caPem);
    }

    Target frontEnd(String name) {
        return switch (name) {
            case "http" -> http();
            case "https" -> https();
            default -> throw new IllegalArgumentException("front end: " + name + " (expected: http or https)");
        };
    }

    /** A JDK HTTP/1.1 client trusting the test certificate, for plain requests through either front end. */
    static HttpClient httpClient() throws Exception {
        KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
        ks.load(null, null);
        ks.setCertificateEntry("test", TestCerts.LOCALHOST.certificate());
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(ks);
        SSLContext tls = SSLContext.getInstance("TLS");
        tls.init(null, tmf.getTrustManagers(), null);
        return HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).sslContext(tls)
                .connectTimeout(Duration.ofSeconds(5)).build();
    }

    /** {@code http://} or {@code https://} on the named front end. */
    URI httpUri(String frontEnd, String path) {
        int port = frontEnd.equals("https") ? proxy.httpsPort() : proxy.httpPort();
        return URI.create(frontEnd + "://127.0.0.1:" + port + path);
    }

    /** Drops the tunnel: every TCP connection between origin and proxy closed at once. */
    void dropTunnel() {
        relay.killAll();
    }

    @Override
    public void close() throws Exception {
        origin.close();
        upstream.close();
        relay.close();
        proxy.close();
        originLoops.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }
}
