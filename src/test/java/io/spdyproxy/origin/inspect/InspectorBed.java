package io.spdyproxy.origin.inspect;

import io.netty.channel.EventLoopGroup;
import io.spdyproxy.origin.OriginClient;
import io.spdyproxy.origin.OriginConfig;
import io.spdyproxy.origin.files.FileServerConfig;
import io.spdyproxy.origin.files.StaticFileHandler;
import io.spdyproxy.origin.upstream.ReverseProxyHandler;
import io.spdyproxy.origin.upstream.UpstreamConfig;
import io.spdyproxy.proxy.ProxyConfig;
import io.spdyproxy.proxy.ProxyIdentity;
import io.spdyproxy.proxy.ProxyServer;
import io.spdyproxy.testing.TestCerts;
import io.spdyproxy.tls.TlsContexts;
import io.spdyproxy.transport.Transport;
import io.spdyproxy.tunnel.RequestHandler;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Proxy, origin and app on loopback as {@code spdy-proxy origin --upstream URL --inspect 0} (or
 * {@code --root DIR}) runs them: the origin's handler wrapped by an {@link Inspector}. Requests go
 * through the proxy's plain front end with the JDK client.
 *
 * <p>Threading: built and closed by the test thread.
 */
final class InspectorBed implements AutoCloseable {
    private static final String TOKEN = "inspector-bed-token-0123456789ab";

    final ProxyServer proxy;
    final Inspector inspector;
    private final AutoCloseable served;
    private final OriginClient origin;
    private final EventLoopGroup originLoops = Transport.newGroup(1, "inspector-origin");
    final HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();

    private InspectorBed(Path dir, RequestHandler handler, AutoCloseable served) throws Exception {
        this.served = served;
        ProxyConfig config = ProxyConfig.defaults(dir.resolve("proxy")).withBind("127.0.0.1").withPorts(0, 0, -1, -1)
                .withAuth(true, Map.of("default", ProxyConfig.hashToken(TOKEN)));
        proxy = ProxyServer.start(config, new ProxyIdentity(TestCerts.LOCALHOST, config.tokenHashes(), null));
        inspector = Inspector.start(0, handler);
        origin = new OriginClient(OriginConfig.of("127.0.0.1", proxy.tunnelPort()).withCredentials("default", TOKEN)
                .withBackoff(Duration.ofMillis(50), Duration.ofSeconds(1)),
                TlsContexts.clientPinned(proxy.identity().fingerprint()), inspector.handler(), originLoops).start();
        proxy.tunnelConnected("default").get(10, TimeUnit.SECONDS);
    }

    /** {@code --upstream http://127.0.0.1:APP --inspect 0}. */
    static InspectorBed upstream(Path dir, int appPort) throws Exception {
        ReverseProxyHandler h = new ReverseProxyHandler(UpstreamConfig.of(URI.create("http://127.0.0.1:" + appPort)));
        return new InspectorBed(dir, h, h);
    }

    /** {@code --root DIR --inspect 0}. */
    static InspectorBed files(Path dir, Path root) throws Exception {
        StaticFileHandler h = new StaticFileHandler(FileServerConfig.of(root));
        return new InspectorBed(dir, h, h);
    }

    URI proxied(String path) {
        return URI.create("http://127.0.0.1:" + proxy.httpPort() + path);
    }

    URI api(String path) {
        return URI.create("http://127.0.0.1:" + inspector.port() + path);
    }

    HttpResponse<String> send(HttpRequest.Builder request) throws IOException, InterruptedException {
        return client.send(request.timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
    }

    HttpResponse<byte[]> sendBytes(HttpRequest.Builder request) throws IOException, InterruptedException {
        return client.send(request.timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofByteArray());
    }

    /** The newest capture, once its exchange ended (waits on the capture's own future). */
    Capture newestDone() throws Exception {
        return inspector.store().newestFirst().get(0).done.get(10, TimeUnit.SECONDS);
    }

    @Override
    public void close() throws Exception {
        origin.close();
        served.close(); // its upstream connections of replays live on the inspector's loop
        inspector.close();
        proxy.close();
        originLoops.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }
}
