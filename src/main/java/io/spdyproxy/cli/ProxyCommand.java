package io.spdyproxy.cli;

import io.spdyproxy.observe.accesslog.AccessLog;
import io.spdyproxy.observe.accesslog.AccessLogFormat;
import io.spdyproxy.proxy.ProxyConfig;
import io.spdyproxy.proxy.ProxyServer;
import io.spdyproxy.proxy.live.Sighup;
import io.spdyproxy.tunnel.handshake.TunnelProtocol;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code spdy-proxy proxy}: the public proxy P. */
@Command(name = "proxy", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Run the proxy: origins connect to the tunnel port, clients to the HTTP port.")
final class ProxyCommand implements Callable<Integer> {

    @Option(names = "--config", description = "YAML file of settings (keys: the flag names in camelCase).")
    Path configFile;

    @Option(names = "--bind", description = "Listen address (default: 0.0.0.0).")
    String bind;

    @Option(names = "--port", description = "HTTP front end port for clients (default: 1443; -1: off).")
    Integer port;

    @Option(names = "--tunnel-port", description = "TLS port where origins connect (default: 1444).")
    Integer tunnelPort;

    @Option(names = "--https-port", description = "HTTPS front end port, same certificate (default: off).")
    Integer httpsPort;

    @Option(names = "--admin-port", description = "Admin listener on 127.0.0.1: dashboard (/), JSON status (/debug),"
            + " Prometheus metrics (/metrics), token API (/api/tokens) (default: off).")
    Integer adminPort;

    @Option(names = "--domain", description = "Route <name>.<domain> to tunnel <name> (default: none).")
    String domain;

    @Option(names = "--default-tunnel", description = "Tunnel for hosts no name matches (default: default).")
    String defaultTunnel;

    @Option(names = "--auth", description = "token (origins need a token) or none (the original's open handshake).")
    String auth;

    @Option(names = "--token", description = "NAME=TOKEN accepted for tunnel NAME (repeatable); TOKEN may be sha256:HEX.")
    List<String> tokens;

    @Option(names = "--data-dir", description = "Where the generated certificate and token live (default: ./spdy-proxy-data).")
    Path dataDir;

    @Option(names = "--cert", description = "PEM certificate chain to serve instead of a generated one.")
    Path cert;

    @Option(names = "--key", description = "PEM private key for --cert.")
    Path key;

    @Option(names = "--admin-token-file",
            description = "File holding the admin API's bearer token"
                    + " (default: <data-dir>/admin-token, made on first start).")
    Path adminTokenFile;

    @Option(names = "--response-timeout", converter = Durations.class,
            description = "Time an origin has to start answering before 504 (default: 60s).")
    Duration responseTimeout;

    @Option(names = "--shutdown-grace", converter = Durations.class,
            description = "Time in-flight requests get after SIGTERM (default: 10s).")
    Duration shutdownGrace;

    @Option(names = "--ping-interval", converter = Durations.class,
            description = "Keepalive PING interval on tunnels (default: 15s).")
    Duration pingInterval;

    @Option(names = "--idle-timeout", converter = Durations.class,
            description = "Close a client connection silent this long between requests or mid-body (default: 60s).")
    Duration idleTimeout;

    @Option(names = "--request-head-timeout", converter = Durations.class,
            description = "Time a client has to send a request's line and headers, then 408 (default: 10s).")
    Duration requestHeadTimeout;

    @Option(names = "--trust-forwarded-for",
            description = "Keep clients' X-Forwarded-For (only behind a trusted load balancer; default: off).")
    Boolean trustForwardedFor;

    @Option(names = "--access-control", paramLabel = "FILE",
            description = "YAML file of visitor rules and limits per tunnel (basic auth, bearer tokens, "
                    + "allow/deny, maxConcurrentRequests, bandwidth); reloaded when it changes (default: none).")
    Path accessControl;

    @Option(names = "--access-log", description = "Log every request to FILE, or - for stdout (default: off).")
    String accessLog;

    @Option(names = "--access-log-format", description = "combined (default) or json.")
    String accessLogFormat;

    static final Set<String> KEYS = Set.of("bind", "port", "tunnelPort", "httpsPort", "adminPort", "domain",
            "accessLog", "accessLogFormat", "defaultTunnel", "auth", "tokens", "dataDir", "cert", "key", "responseTimeout", "shutdownGrace",
            "pingInterval", "idleTimeout", "requestHeadTimeout", "trustForwardedFor", "adminTokenFile",
            "accessControl");

    @Override
    public Integer call() throws Exception {
        ProxyConfig config = config();
        AccessLog requests = openAccessLog(YamlConfig.load(configFile, KEYS));
        ProxyServer server;
        try {
            server = ProxyServer.start(config);
        } catch (Exception e) {
            if (requests != null) {
                requests.close();
            }
            UserError clear = ListenFailure.explain(e, config);
            throw clear != null ? clear : e;
        }
        if (requests != null) {
            server.onRequest(requests);
            if (server.metrics() != null) {
                requests.bindTo(server.metrics().registry());
            }
            // logrotate renames the file, then sends SIGHUP: a new file of the configured name.
            server.reloads().register("access log", () -> {
                try {
                    requests.reopen();
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            server.shutdownGracefully();
            if (requests != null) {
                requests.close(); // writes what is queued
            }
            stopped.countDown();
        }, "shutdown"));
        // SIGHUP re-reads tokens, certificate and the other reloadable files; it never stops us.
        Sighup.install(server::reload);
        printBanner(config, server);
        stopped.await();
        return 0;
    }

    ProxyConfig config() throws java.io.IOException {
        YamlConfig y = YamlConfig.load(configFile, KEYS);
        ProxyConfig d = ProxyConfig.defaults(Path.of("spdy-proxy-data"));
        String authMode = auth != null ? auth : y.string("auth", "token");
        if (!authMode.equals("token") && !authMode.equals("none")) {
            throw new IllegalArgumentException("auth: " + authMode + " (expected: token or none)");
        }
        Map<String, String> hashes = new LinkedHashMap<>();
        y.map("tokens").forEach((name, t) -> hashes.put(name, hashOf(name, t.toString())));
        if (tokens != null) {
            for (String t : tokens) {
                int eq = t.indexOf('=');
                if (eq <= 0) {
                    throw new IllegalArgumentException("token: " + t + " (expected: NAME=TOKEN)");
                }
                hashes.put(t.substring(0, eq), hashOf(t.substring(0, eq), t.substring(eq + 1)));
            }
        }
        Path certFile = cert != null ? cert : pathOrNull(y.string("cert", null));
        Path keyFile = key != null ? key : pathOrNull(y.string("key", null));
        if ((certFile == null) != (keyFile == null)) {
            throw new UserError(certFile == null ? "--key needs --cert (the certificate chain for the key)"
                    : "--cert needs --key (the certificate's private key)");
        }
        requireFile("--cert", certFile);
        requireFile("--key", keyFile);
        Path adminToken = adminTokenFile != null ? adminTokenFile : pathOrNull(y.string("adminTokenFile", null));
        requireFile("--admin-token-file", adminToken);
        Path accessFile = accessControl != null ? accessControl : pathOrNull(y.string("accessControl", null));
        requireFile("--access-control", accessFile);
        ProxyConfig c = d.withBind(bind != null ? bind : y.string("bind", d.bind()))
                .withPorts(
                        tunnelPort != null ? tunnelPort : y.integer("tunnelPort", d.tunnelPort()),
                        port != null ? port : y.integer("port", d.httpPort()),
                        httpsPort != null ? httpsPort : y.integer("httpsPort", d.httpsPort()),
                        adminPort != null ? adminPort : y.integer("adminPort", d.adminPort()))
                .withDomain(domain != null ? domain : y.string("domain", null),
                        defaultTunnel != null ? defaultTunnel : y.string("defaultTunnel", TunnelProtocol.DEFAULT_NAME))
                .withAuth(authMode.equals("token"), hashes)
                .withCertificate(certFile, keyFile)
                .withTimeouts(
                        responseTimeout != null ? responseTimeout : y.duration("responseTimeout", d.responseTimeout()),
                        shutdownGrace != null ? shutdownGrace : y.duration("shutdownGrace", d.shutdownGrace()),
                        pingInterval != null ? pingInterval : y.duration("pingInterval", d.pingInterval()))
                .withFrontend(
                        idleTimeout != null ? idleTimeout : y.duration("idleTimeout", d.idleTimeout()),
                        requestHeadTimeout != null ? requestHeadTimeout
                                : y.duration("requestHeadTimeout", d.requestHeadTimeout()),
                        trustForwardedFor != null ? trustForwardedFor
                                : y.bool("trustForwardedFor", d.trustForwardedFor()))
                .withDataDir(dataDir != null ? dataDir : Path.of(y.string("dataDir", d.dataDir().toString())))
                .withAdminTokenFile(adminToken)
                .withAccessControl(accessFile);
        ListenFailure.checkDistinct(c);
        return c;
    }

    /** The access log the flags ask for, open; null when none. */
    AccessLog openAccessLog(YamlConfig y) {
        String target = accessLog != null ? accessLog : y.string("accessLog", null);
        AccessLogFormat format = AccessLogFormat.parse(
                accessLogFormat != null ? accessLogFormat : y.string("accessLogFormat", "combined"));
        if (target == null) {
            return null;
        }
        try {
            return AccessLog.open(target, format);
        } catch (java.io.UncheckedIOException e) {
            throw new UserError("--access-log " + target + ": cannot write to it");
        }
    }

    static void requireFile(String flag, Path file) {
        if (file != null && !java.nio.file.Files.isRegularFile(file)) {
            throw new UserError(flag + " " + file + ": no such file");
        }
    }

    private static Path pathOrNull(String s) {
        return s == null ? null : Path.of(s);
    }

    private static String hashOf(String name, String token) {
        if (!token.startsWith("sha256:")) {
            return ProxyConfig.hashToken(token);
        }
        String hex = token.substring(7).toLowerCase(java.util.Locale.ROOT);
        if (!hex.matches("[0-9a-f]{64}")) {
            throw new IllegalArgumentException("token for '" + name + "': " + token
                    + " (expected: sha256: and 64 hex digits)");
        }
        return hex;
    }

    static void printBanner(ProxyConfig config, ProxyServer server) {
        for (String line : Banner.lines(config, server, Banner.runningJar(), Banner.localHostName())) {
            System.out.println(line);
        }
    }
}
