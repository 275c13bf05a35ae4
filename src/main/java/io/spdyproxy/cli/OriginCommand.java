package io.spdyproxy.cli;

import io.netty.handler.ssl.SslContext;
import io.spdyproxy.observe.metrics.MetricsServer;
import io.spdyproxy.observe.metrics.OriginMetrics;
import io.spdyproxy.origin.OriginClient;
import io.spdyproxy.origin.OriginConfig;
import io.spdyproxy.origin.files.FileServerConfig;
import io.spdyproxy.origin.files.StaticFileHandler;
import io.spdyproxy.origin.inspect.Inspector;
import io.spdyproxy.origin.upstream.ReverseProxyHandler;
import io.spdyproxy.origin.upstream.UpstreamConfig;
import io.spdyproxy.tunnel.RequestHandler;
import io.spdyproxy.tls.PemFiles;
import io.spdyproxy.tls.TlsContexts;
import io.spdyproxy.tunnel.handshake.TunnelDialer;
import io.spdyproxy.tunnel.handshake.TunnelProtocol;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

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

    @Option(names = "--upstream", description = "Serve a local app instead: http://HOST:PORT (HTTP/1.1),"
            + " h2c://HOST:PORT (HTTP/2 prior knowledge) or https://HOST:PORT (TLS, HTTP/2 or HTTP/1.1 by ALPN).")
    String upstream;

    @Option(names = "--upstream-ca", description = "PEM certificate (CA or the app's own) to trust for an https:// upstream.")
    Path upstreamCa;

    @Option(names = "--upstream-insecure", description = "Do not verify the https:// upstream's certificate (tests only).")
    Boolean upstreamInsecure;

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

    @Option(names = "--tunnel-protocol", paramLabel = "spdy|h2",
            description = "Tunnel protocol to ask the proxy for: spdy (SPDY/3.1, every proxy) or h2 (HTTP/2; a proxy"
                    + " without HTTP/2 tunnels answers SPDY and the tunnel runs SPDY) (default: spdy).")
    String tunnelProtocol;

    @Option(names = "--shutdown-grace", converter = Durations.class,
            description = "Time in-flight requests get after SIGTERM; the proxy sends no new ones (default: 10s).")
    Duration shutdownGrace;

    @Option(names = "--inspect", paramLabel = "PORT",
            description = "Serve the request inspector (a page listing the requests reaching this origin, with replay)"
                    + " on http://127.0.0.1:PORT/; loopback only (default: off).")
    String inspect;

    @Option(names = "--admin-port", description = "Serve /metrics (Prometheus) on 127.0.0.1:PORT (default: off).")
    Integer adminPort;

    @Spec
    CommandSpec spec;

    static final Set<String> KEYS = Set.of("proxy", "name", "token", "root", "upstream", "fingerprint", "ca",
            "insecure", "connections", "showHidden", "allowUploads", "fileCacheTtl", "pingInterval",
            "legacyHandshake", "shutdownGrace", "upstreamCa", "upstreamInsecure", "tunnelProtocol", "inspect",
            "adminPort");

    /**
     * Exit code when the proxy can never accept this origin as configured (token, certificate,
     * port). Like ngrok and cloudflared with an invalid token, the agent stops at once with the
     * reason rather than redialling silently: only a change of settings fixes it, and a supervisor
     * (systemd's Restart=, a container restart policy) shows the reason and applies its own
     * backoff. Network failures, which do heal, are redialled for ever.
     */
    static final int GAVE_UP = 2;

    /**
     * What the flags and the config file say, checked: a directory to serve ({@code files}) or an
     * app ({@code upstream}), never both; {@code inspect} the inspector's port, null when off.
     */
    record Settings(OriginConfig config, SslContext tls, FileServerConfig files, UpstreamConfig upstream,
            Integer inspect) {}

    /** A started origin: the client and the handler it serves with. */
    record Running(OriginClient client, AutoCloseable handler, String what) implements AutoCloseable {
        /** GOAWAY, in-flight requests finish within the configured grace, then everything closes. */
        void stopGracefully() {
            client.shutdownGracefully();
            closeHandler();
        }

        @Override
        public void close() {
            client.close();
            closeHandler();
        }

        private void closeHandler() {
            close(handler);
        }

        static void close(AutoCloseable handler) {
            try {
                handler.close();
            } catch (Exception e) {
                // stopping anyway
            }
        }
    }

    @Override
    public Integer call() throws Exception {
        Running running = start(settings(), adminPort != null ? adminPort
                : YamlConfig.load(configFile, KEYS).integer("adminPort", -1));
        System.out.println("spdy-proxy origin: serving " + running.what() + " through "
                + running.client().config().proxyHost() + ":" + running.client().config().proxyPort()
                + (running.client().config().connections() > 1
                        ? " over " + running.client().config().connections() + " tunnels" : ""));
        CompletableFuture<Integer> exit = new CompletableFuture<>();
        Thread hook = new Thread(() -> {
            running.stopGracefully(); // SIGTERM, Ctrl-C
            exit.complete(0);
        }, "shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        running.client().fatalError().whenComplete((v, e) -> {
            if (e != null) {
                spec.commandLine().getErr().println("spdy-proxy origin: " + e.getMessage()
                        + (e instanceof TunnelDialer.HandshakeRefusedException ? "; check --name and --token" : ""));
                exit.complete(GAVE_UP);
            }
        });
        int code = exit.get();
        if (code != 0) {
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException shuttingDown) {
                return code; // the hook stops it
            }
            running.close();
        }
        return code;
    }

    /** Starts dialling the proxy; returns at once. */
    static Running start(Settings s) throws java.io.IOException {
        return start(s, -1);
    }

    /** With {@code /metrics} on 127.0.0.1:{@code adminPort} unless it is -1. */
    static Running start(Settings s, int adminPort) throws java.io.IOException {
        RequestHandler handler;
        AutoCloseable resource;
        String what;
        if (s.upstream() != null) {
            ReverseProxyHandler h = new ReverseProxyHandler(s.upstream());
            handler = h;
            resource = h;
            what = "app at " + s.upstream().url();
        } else {
            StaticFileHandler h = new StaticFileHandler(s.files());
            handler = h;
            resource = h;
            what = "directory " + h.root();
        }
        if (s.inspect() != null) { // without --inspect the handler is not wrapped at all
            AutoCloseable served = resource;
            Inspector inspector;
            try {
                inspector = Inspector.start(s.inspect(), handler);
            } catch (java.io.IOException e) {
                Running.close(served);
                throw new UserError("--inspect " + s.inspect() + ": " + e.getMessage());
            }
            handler = inspector.handler();
            // The handler first: its upstream connections of replays live on the inspector's loop.
            resource = () -> {
                try (inspector) {
                    served.close();
                }
            };
            what += " (request inspector at " + inspector.url() + ")";
        }
        if (adminPort < 0) {
            return new Running(new OriginClient(s.config(), s.tls(), handler, null).start(), resource, what);
        }
        OriginMetrics metrics = new OriginMetrics(null);
        OriginClient client = new OriginClient(s.config(), s.tls(), metrics.wrap(handler), null)
                .onTunnelUp(metrics::sessionUp);
        metrics.eventLoops(client.group());
        MetricsServer server;
        try {
            server = MetricsServer.start(client.group(), adminPort, metrics);
        } catch (Exception e) {
            client.close();
            metrics.close();
            Running.close(resource);
            throw new UserError("--admin-port " + adminPort + ": cannot listen on 127.0.0.1 (" + e.getMessage() + ")");
        }
        System.out.println("spdy-proxy origin: metrics on http://127.0.0.1:" + server.port() + "/metrics");
        AutoCloseable app = resource;
        AutoCloseable all = () -> {
            server.close();
            metrics.close();
            app.close();
        };
        return new Running(client.start(), all, what);
    }

    Settings settings() throws java.io.IOException {
        YamlConfig y = YamlConfig.load(configFile, KEYS);
        HostPort address = HostPort.parse("--proxy",
                proxy != null ? proxy : y.string("proxy", "localhost:" + TunnelProtocol.DEFAULT_TUNNEL_PORT));
        String tunnelName = name != null ? name : y.string("name", null);
        if (tunnelName != null && !tunnelName.matches("[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")) {
            throw new UserError("--name " + tunnelName + ": not a tunnel name (expected: a DNS label of a-z, 0-9"
                    + " and '-', e.g. blog)");
        }
        OriginConfig config = OriginConfig.of(address.host(), address.port())
                .withCredentials(tunnelName, token != null ? token : y.string("token", null))
                .withConnections(connections != null ? connections : y.integer("connections", 1))
                .withPingInterval(pingInterval != null ? pingInterval : y.duration("pingInterval", Duration.ofSeconds(15)))
                .withLegacyHandshake(legacyHandshake != null ? legacyHandshake : y.bool("legacyHandshake", false))
                .withShutdownGrace(shutdownGrace != null ? shutdownGrace
                        : y.duration("shutdownGrace", Duration.ofSeconds(10)))
                .withTunnelProtocol(tunnelProtocol(tunnelProtocol != null ? tunnelProtocol
                        : y.string("tunnelProtocol", "spdy")));
        Integer inspectPort = inspectPort(inspect != null ? inspect : y.string("inspect", null));
        String up = upstream != null ? upstream : y.string("upstream", null);
        String dir = root != null ? root.toString() : y.string("root", null);
        if (up != null && dir != null) {
            throw new UserError("--root and --upstream exclude each other: serve a directory (--root) or a local"
                    + " app (--upstream), not both");
        }
        if (up != null) {
            return new Settings(config, tls(y), null, upstreamConfig(upstreamUrl(up), y), inspectPort);
        }
        Path rootDir = Path.of(dir != null ? dir : ".");
        if (!Files.isDirectory(rootDir)) {
            throw new UserError("--root " + rootDir + ": " + (Files.exists(rootDir) ? "not a directory"
                    : "no such directory") + " (expected: the directory to serve)");
        }
        FileServerConfig fc = FileServerConfig.of(rootDir)
                .withShowHidden(showHidden != null ? showHidden : y.bool("showHidden", false))
                .withAllowUploads(allowUploads != null ? allowUploads : y.bool("allowUploads", false))
                .withCacheValidity(fileCacheTtl != null ? fileCacheTtl
                        : y.duration("fileCacheTtl", FileServerConfig.DEFAULT_CACHE_VALIDITY));
        return new Settings(config, tls(y), fc, null, inspectPort);
    }

    /** The upstream with its certificate checks ({@code --upstream-ca}, {@code --upstream-insecure}). */
    private UpstreamConfig upstreamConfig(URI url, YamlConfig y) throws java.io.IOException {
        String caFile = upstreamCa != null ? upstreamCa.toString() : y.string("upstreamCa", null);
        boolean trustAll = upstreamInsecure != null ? upstreamInsecure : y.bool("upstreamInsecure", false);
        if ((caFile != null || trustAll) && !"https".equalsIgnoreCase(url.getScheme())) {
            throw new UserError((caFile != null ? "--upstream-ca" : "--upstream-insecure")
                    + " applies to an https:// upstream only (--upstream " + url + ")");
        }
        if (caFile != null && trustAll) {
            throw new UserError("--upstream-ca and --upstream-insecure exclude each other: trust one CA, or none");
        }
        X509Certificate caCert = null;
        if (caFile != null) {
            ProxyCommand.requireFile("--upstream-ca", Path.of(caFile));
            try {
                caCert = PemFiles.readCertificate(Path.of(caFile));
            } catch (java.io.IOException e) {
                throw new UserError("--upstream-ca " + caFile + ": " + e.getMessage());
            }
        }
        return UpstreamConfig.of(url).withTrust(caCert, trustAll);
    }

    /**
     * {@code --inspect}: a port, or 127.0.0.1:PORT / localhost:PORT. Any other host is refused:
     * the captured requests (cookies, tokens, bodies) and the replay button are for this machine only.
     */
    static Integer inspectPort(String value) {
        if (value == null) {
            return null;
        }
        String v = value.trim();
        int colon = v.lastIndexOf(':');
        if (colon >= 0) {
            String host = v.substring(0, colon);
            if (!host.equals("127.0.0.1") && !host.equalsIgnoreCase("localhost")) {
                throw new UserError("--inspect " + value + ": the inspector listens on 127.0.0.1 only (expected: a"
                        + " port, e.g. --inspect 4040)");
            }
            v = v.substring(colon + 1);
        }
        try {
            int port = Integer.parseInt(v);
            if (port >= 0 && port <= 65535) { // 0: any free port (tests)
                return port;
            }
        } catch (NumberFormatException e) {
            // the message below
        }
        throw new UserError("--inspect " + value + ": not a port (expected: 0 to 65535, e.g. --inspect 4040)");
    }

    private static URI upstreamUrl(String up) {
        String expected = " (expected: http://, h2c:// or https://HOST:PORT of the local app,"
                + " e.g. http://127.0.0.1:8080)";
        URI uri;
        try {
            uri = new URI(up.trim());
        } catch (java.net.URISyntaxException e) {
            throw new UserError("--upstream " + up + ": not a URL" + expected);
        }
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(java.util.Locale.ROOT);
        if (!Set.of("http", "h2c", "https").contains(scheme) || uri.getHost() == null) { // "http://h:abc" has no host
            throw new UserError("--upstream " + up + ": not an http://, h2c:// or https:// URL with a host and a"
                    + " numeric port" + expected);
        }
        try {
            UpstreamConfig.of(uri);
        } catch (IllegalArgumentException e) {
            throw new UserError("--upstream " + up + ": " + e.getMessage());
        }
        return uri;
    }

    /** The origin's TLS: offers ALPN http/1.1 so that a wrong port is told apart (see TunnelDialer.ALPN). */
    private static TunnelProtocol.Kind tunnelProtocol(String value) {
        try {
            return TunnelProtocol.Kind.parse(value);
        } catch (IllegalArgumentException e) {
            throw new UserError("--tunnel-protocol " + value + ": not a tunnel protocol (expected: spdy or h2)");
        }
    }

    private SslContext tls(YamlConfig y) throws java.io.IOException {
        String pin = fingerprint != null ? fingerprint : y.string("fingerprint", null);
        String caFile = ca != null ? ca.toString() : y.string("ca", null);
        boolean trustAll = insecure != null ? insecure : y.bool("insecure", false);
        if (pin != null) {
            try {
                TlsContexts.parseFingerprint(pin);
            } catch (IllegalArgumentException e) {
                throw new UserError("--fingerprint " + pin + ": not a SHA-256 fingerprint (expected: 64 hex digits,"
                        + " colons allowed, as the proxy prints it at start)");
            }
            return TlsContexts.clientPinned(pin, TunnelDialer.ALPN);
        }
        if (caFile != null) {
            ProxyCommand.requireFile("--ca", Path.of(caFile));
            X509Certificate caCert;
            try {
                caCert = PemFiles.readCertificate(Path.of(caFile));
            } catch (java.io.IOException e) {
                throw new UserError("--ca " + caFile + ": " + e.getMessage());
            }
            return TlsContexts.client(caCert, TunnelDialer.ALPN);
        }
        if (trustAll) {
            System.err.println("warning: --insecure: the proxy's certificate is not verified");
            return TlsContexts.client(null, TunnelDialer.ALPN);
        }
        return TlsContexts.systemTrust(TunnelDialer.ALPN);
    }
}
