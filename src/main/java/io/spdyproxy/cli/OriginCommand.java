package io.spdyproxy.cli;

import io.netty.handler.ssl.SslContext;
import io.spdyproxy.origin.OriginClient;
import io.spdyproxy.origin.OriginConfig;
import io.spdyproxy.origin.files.FileServerConfig;
import io.spdyproxy.origin.files.StaticFileHandler;
import io.spdyproxy.origin.upstream.ReverseProxyHandler;
import io.spdyproxy.origin.upstream.UpstreamConfig;
import io.spdyproxy.spdy.http.HttpRequestHandler;
import io.spdyproxy.tls.PemFiles;
import io.spdyproxy.tls.TlsContexts;
import io.spdyproxy.tunnel.TunnelProtocol;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code spdy-proxy origin}: the origin C, serving a directory or a local app through the proxy. */
@Command(name = "origin", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Connect to a proxy and serve a directory (--root) or a local app (--upstream).")
final class OriginCommand implements Callable<Integer> {

    @Option(names = "--config", description = "YAML file of settings (keys: the flag names in camelCase).")
    Path configFile;

    @Option(names = "--proxy", description = "The proxy's tunnel address HOST:PORT (default: localhost:1444).")
    String proxy;

    @Option(names = "--name", description = "Tunnel name to serve (default: the proxy's default tunnel).")
    String name;

    @Option(names = "--token", description = "Token for the tunnel name (from the proxy's first start).")
    String token;

    @Option(names = "--root", description = "Directory to serve (default: the current directory).")
    Path root;

    @Option(names = "--upstream", description = "Serve a local app instead, e.g. http://127.0.0.1:8080.")
    String upstream;

    @Option(names = "--fingerprint", description = "Accept only the proxy certificate with this SHA-256 fingerprint.")
    String fingerprint;

    @Option(names = "--ca", description = "PEM certificate (CA or the proxy's own) to trust.")
    Path ca;

    @Option(names = "--insecure", description = "Do not verify the proxy's certificate (tests only).")
    Boolean insecure;

    @Option(names = "--connections", description = "Parallel tunnels (default: 1).")
    Integer connections;

    @Option(names = "--show-hidden", description = "Serve and list dot-files.")
    Boolean showHidden;

    @Option(names = "--allow-uploads", description = "Accept PUT uploads into --root.")
    Boolean allowUploads;

    @Option(names = "--file-cache-ttl", converter = Durations.class,
            description = "How long a small file (up to 64 KiB) read once is answered from memory without a disk check; 0 turns the cache off (default: 1s).")
    Duration fileCacheTtl;

    @Option(names = "--ping-interval", converter = Durations.class,
            description = "Keepalive PING interval (default: 15s).")
    Duration pingInterval;

    @Option(names = "--legacy-handshake", description = "Send the original's handshake exactly (for the original Go proxy).")
    Boolean legacyHandshake;

    static final Set<String> KEYS = Set.of("proxy", "name", "token", "root", "upstream", "fingerprint", "ca",
            "insecure", "connections", "showHidden", "allowUploads", "fileCacheTtl", "pingInterval",
            "legacyHandshake");

    @Override
    public Integer call() throws Exception {
        YamlConfig y = YamlConfig.load(configFile, KEYS);
        String address = proxy != null ? proxy : y.string("proxy", "localhost:" + TunnelProtocol.DEFAULT_TUNNEL_PORT);
        int colon = address.lastIndexOf(':');
        if (colon <= 0) {
            throw new IllegalArgumentException("proxy: " + address + " (expected: HOST:PORT)");
        }
        OriginConfig config = OriginConfig.of(address.substring(0, colon), Integer.parseInt(address.substring(colon + 1)))
                .withCredentials(name != null ? name : y.string("name", null), token != null ? token : y.string("token", null))
                .withConnections(connections != null ? connections : y.integer("connections", 1))
                .withPingInterval(pingInterval != null ? pingInterval : y.duration("pingInterval", Duration.ofSeconds(15)))
                .withLegacyHandshake(legacyHandshake != null ? legacyHandshake : y.bool("legacyHandshake", false));
        SslContext tls = tls(y);
        String up = upstream != null ? upstream : y.string("upstream", null);
        AutoCloseable resource;
        HttpRequestHandler handler;
        String what;
        if (up != null) {
            ReverseProxyHandler h = new ReverseProxyHandler(UpstreamConfig.of(URI.create(up)));
            handler = h;
            resource = h;
            what = "app at " + up;
        } else {
            Path dir = root != null ? root : Path.of(y.string("root", "."));
            FileServerConfig fc = FileServerConfig.of(dir)
                    .withShowHidden(showHidden != null ? showHidden : y.bool("showHidden", false))
                    .withAllowUploads(allowUploads != null ? allowUploads : y.bool("allowUploads", false))
                    .withCacheValidity(fileCacheTtl != null ? fileCacheTtl
                            : y.duration("fileCacheTtl", FileServerConfig.DEFAULT_CACHE_VALIDITY));
            StaticFileHandler h = new StaticFileHandler(fc);
            handler = h;
            resource = h;
            what = "directory " + h.root();
        }
        OriginClient client = new OriginClient(config, tls, handler, null).start();
        System.out.println("spdy-proxy origin: serving " + what + " through " + address
                + (config.connections() > 1 ? " over " + config.connections() + " tunnels" : ""));
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            client.shutdownGracefully(Duration.ofSeconds(10));
            try {
                resource.close();
            } catch (Exception e) {
                // exiting anyway
            }
            stopped.countDown();
        }, "shutdown"));
        client.authFailure().whenComplete((v, e) -> {
            if (e != null) {
                System.err.println("spdy-proxy origin: " + e.getMessage() + "; check --name and --token");
                Runtime.getRuntime().halt(2);
            }
        });
        stopped.await(Long.MAX_VALUE, TimeUnit.DAYS);
        return 0;
    }

    private SslContext tls(YamlConfig y) throws java.io.IOException {
        String pin = fingerprint != null ? fingerprint : y.string("fingerprint", null);
        String caFile = ca != null ? ca.toString() : y.string("ca", null);
        boolean trustAll = insecure != null ? insecure : y.bool("insecure", false);
        if (pin != null) {
            return TlsContexts.clientPinned(pin);
        }
        if (caFile != null) {
            return TlsContexts.client(PemFiles.readCertificate(Path.of(caFile)), List.of());
        }
        if (trustAll) {
            System.err.println("warning: --insecure: the proxy's certificate is not verified");
            return TlsContexts.client(null, List.of());
        }
        return TlsContexts.systemTrust();
    }
}
