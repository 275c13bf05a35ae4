package io.spdyproxy.cli;

import io.spdyproxy.origin.OriginClient;
import io.spdyproxy.origin.OriginConfig;
import io.spdyproxy.origin.files.FileServerConfig;
import io.spdyproxy.origin.files.StaticFileHandler;
import io.spdyproxy.proxy.ProxyConfig;
import io.spdyproxy.proxy.ProxyServer;
import io.spdyproxy.tls.TlsContexts;
import io.spdyproxy.tunnel.handshake.TunnelProtocol;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.Base64;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The embedded default: proxy and origin in one process on loopback, the origin serving a
 * directory through a real TLS tunnel with a fresh token and a pinned certificate.
 */
@Command(name = "demo", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Run proxy and origin together on loopback, serving a directory; prints the URL to open.")
final class DemoCommand implements Callable<Integer> {

    @Option(names = "--root", defaultValue = ".", description = "Directory to serve (default: the current directory).")
    Path root;

    @Option(names = "--port", defaultValue = "1443", description = "Client port (default: ${DEFAULT-VALUE}; 0 picks one).")
    int port;

    @Option(names = "--tunnel-port", defaultValue = "1444", description = "Tunnel port (default: ${DEFAULT-VALUE}; 0 picks one).")
    int tunnelPort;

    @Option(names = "--exit", description = "Fetch the root listing once through the tunnel, print the result, exit.")
    boolean exit;

    @Override
    public Integer call() throws Exception {
        Path data = Files.createTempDirectory("spdy-proxy-demo");
        byte[] raw = new byte[24];
        new SecureRandom().nextBytes(raw);
        String token = Base64.getUrlEncoder().withoutPadding().encodeToString(raw);
        ProxyConfig pc = ProxyConfig.defaults(data).withBind("127.0.0.1").withPorts(tunnelPort, port, -1, -1)
                .withAuth(true, Map.of(TunnelProtocol.DEFAULT_NAME, ProxyConfig.hashToken(token)));
        ProxyServer proxy = ProxyServer.start(pc);
        StaticFileHandler files = new StaticFileHandler(FileServerConfig.of(root));
        OriginConfig oc = OriginConfig.of("127.0.0.1", proxy.tunnelPort())
                .withCredentials(TunnelProtocol.DEFAULT_NAME, token);
        OriginClient origin = new OriginClient(oc, TlsContexts.clientPinned(proxy.identity().fingerprint()), files, null)
                .start();
        String url = "http://localhost:" + proxy.httpPort() + "/";
        Runnable stop = () -> {
            origin.shutdownGracefully(Duration.ofSeconds(5));
            proxy.shutdownGracefully();
            files.close();
            deleteQuietly(data);
        };
        try {
            awaitTunnel(origin);
            System.out.println("spdy-proxy demo: serving " + files.root() + " through a SPDY/3.1 tunnel");
            System.out.println("  open " + url + "  (proxy: clients on :" + proxy.httpPort()
                    + ", origins on :" + proxy.tunnelPort() + " TLS)");
            if (exit) {
                HttpResponse<String> r = HttpClient.newHttpClient().send(
                        HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10)).build(),
                        HttpResponse.BodyHandlers.ofString());
                System.out.println("GET " + url + " -> " + r.statusCode() + ", " + r.body().length() + " bytes of "
                        + r.headers().firstValue("content-type").orElse("?"));
                stop.run();
                return r.statusCode() == 200 ? 0 : 1;
            }
        } catch (Exception e) {
            stop.run();
            throw e;
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            stop.run();
            stopped.countDown();
        }, "shutdown"));
        System.out.println("  Ctrl-C to stop.");
        stopped.await();
        return 0;
    }

    private static void awaitTunnel(OriginClient origin) throws InterruptedException {
        // Wait on the first session's arrival: poll the client's count with a bounded number of
        // short waits on a latch that is never counted down (no busy spin, bounded time).
        CountDownLatch never = new CountDownLatch(1);
        for (int i = 0; i < 200 && origin.connectedTunnels() == 0; i++) {
            never.await(50, java.util.concurrent.TimeUnit.MILLISECONDS);
        }
        if (origin.connectedTunnels() == 0) {
            throw new IllegalStateException("the origin could not connect to the proxy");
        }
    }

    private static void deleteQuietly(Path dir) {
        try (var s = Files.walk(dir)) {
            s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (Exception e) {
            // a temp directory: the OS cleans it eventually
        }
    }
}
