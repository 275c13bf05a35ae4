package io.spdyproxy.proxy;

import io.spdyproxy.tunnel.handshake.TunnelProtocol;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;

/**
 * Everything the proxy is told, from flags or the YAML file.
 *
 * @param bind address of all listeners (admin excepted)
 * @param tunnelPort where origins connect (TLS); 0 picks a free port
 * @param httpPort the plain HTTP front end for clients; 0 picks one, -1 turns it off
 * @param httpsPort an HTTPS front end with the same certificate; -1 (default) off
 * @param adminPort the JSON status endpoint on loopback; -1 (default) off
 * @param domain requests for {@code <name>.<domain>} go to tunnel {@code name}; null: all to default
 * @param defaultTunnel the tunnel serving requests no name matches
 * @param authRequired origins must present a token (off: the original's open handshake)
 * @param tokenHashes tunnel name to hex SHA-256 of its token
 * @param dataDir where the generated certificate and token live
 * @param certFile PEM certificate chain to use instead of the generated one (with keyFile)
 * @param keyFile PEM private key for certFile
 * @param responseTimeout how long an origin may take to start answering (then 504)
 * @param shutdownGrace how long in-flight requests may run on after SIGTERM
 * @param pingInterval keepalive PING interval on tunnels
 * @param idleTimeout a client connection with no request in flight, or whose request body stalls,
 *     that sends nothing for this long is closed
 * @param requestHeadTimeout a request's head (from the connection's start or the request's first
 *     byte) must arrive within this, else {@code 408} and close (slowloris)
 * @param trustForwardedFor keep a client's {@code X-Forwarded-For} and append to it (only behind a
 *     trusted load balancer); off: the proxy starts the chain with the client's address
 * @param loopAffinity move each client connection onto the event loop of the tunnel its first
 *     request goes to (see {@code LoopAffinity}); the default comes from the system property
 *     {@code spdyproxy.affinity} ({@code true}/{@code false}), off when unset
 * @param adminTokenFile the admin API's bearer token (one line); null: the data directory's {@code
 *     admin-token}, generated on first start
 */
public record ProxyConfig(
        String bind,
        int tunnelPort,
        int httpPort,
        int httpsPort,
        int adminPort,
        String domain,
        String defaultTunnel,
        boolean authRequired,
        Map<String, String> tokenHashes,
        Path dataDir,
        Path certFile,
        Path keyFile,
        Duration responseTimeout,
        Duration shutdownGrace,
        Duration pingInterval,
        Duration idleTimeout,
        Duration requestHeadTimeout,
        boolean trustForwardedFor,
        boolean loopAffinity,
        Path adminTokenFile) {

    /** See {@code loopAffinity}: measured in the benchmark, off unless asked for. */
    private static final boolean LOOP_AFFINITY_DEFAULT = Boolean.getBoolean("spdyproxy.affinity");

    public ProxyConfig {
        Objects.requireNonNull(bind, "bind");
        Objects.requireNonNull(defaultTunnel, "defaultTunnel");
        tokenHashes = Map.copyOf(tokenHashes);
        Objects.requireNonNull(dataDir, "dataDir");
        Objects.requireNonNull(responseTimeout, "responseTimeout");
        Objects.requireNonNull(shutdownGrace, "shutdownGrace");
        Objects.requireNonNull(pingInterval, "pingInterval");
        positive(idleTimeout, "idleTimeout");
        positive(requestHeadTimeout, "requestHeadTimeout");
        if ((certFile == null) != (keyFile == null)) {
            throw new IllegalArgumentException("certFile and keyFile go together");
        }
    }

    /** The original's ports, authentication on, data in {@code dataDir}. */
    public static ProxyConfig defaults(Path dataDir) {
        return new ProxyConfig("0.0.0.0", TunnelProtocol.DEFAULT_TUNNEL_PORT, TunnelProtocol.DEFAULT_FRONTEND_PORT,
                -1, -1, null, TunnelProtocol.DEFAULT_NAME, true, Map.of(), dataDir, null, null,
                Duration.ofSeconds(60), Duration.ofSeconds(10), Duration.ofSeconds(15),
                Duration.ofSeconds(60), Duration.ofSeconds(10), false, LOOP_AFFINITY_DEFAULT, null);
    }

    public ProxyConfig withPorts(int tunnel, int http, int https, int admin) {
        return new ProxyConfig(bind, tunnel, http, https, admin, domain, defaultTunnel, authRequired,
                tokenHashes, dataDir, certFile, keyFile, responseTimeout, shutdownGrace, pingInterval,
                idleTimeout, requestHeadTimeout, trustForwardedFor, loopAffinity, adminTokenFile);
    }

    public ProxyConfig withBind(String address) {
        return new ProxyConfig(address, tunnelPort, httpPort, httpsPort, adminPort, domain, defaultTunnel,
                authRequired, tokenHashes, dataDir, certFile, keyFile, responseTimeout, shutdownGrace, pingInterval,
                idleTimeout, requestHeadTimeout, trustForwardedFor, loopAffinity, adminTokenFile);
    }

    public ProxyConfig withAuth(boolean required, Map<String, String> hashes) {
        return new ProxyConfig(bind, tunnelPort, httpPort, httpsPort, adminPort, domain, defaultTunnel, required,
                hashes, dataDir, certFile, keyFile, responseTimeout, shutdownGrace, pingInterval,
                idleTimeout, requestHeadTimeout, trustForwardedFor, loopAffinity, adminTokenFile);
    }

    public ProxyConfig withDomain(String d, String defaultName) {
        return new ProxyConfig(bind, tunnelPort, httpPort, httpsPort, adminPort, d, defaultName, authRequired,
                tokenHashes, dataDir, certFile, keyFile, responseTimeout, shutdownGrace, pingInterval,
                idleTimeout, requestHeadTimeout, trustForwardedFor, loopAffinity, adminTokenFile);
    }

    public ProxyConfig withCertificate(Path cert, Path key) {
        return new ProxyConfig(bind, tunnelPort, httpPort, httpsPort, adminPort, domain, defaultTunnel,
                authRequired, tokenHashes, dataDir, cert, key, responseTimeout, shutdownGrace, pingInterval,
                idleTimeout, requestHeadTimeout, trustForwardedFor, loopAffinity, adminTokenFile);
    }

    public ProxyConfig withTimeouts(Duration response, Duration grace, Duration ping) {
        return new ProxyConfig(bind, tunnelPort, httpPort, httpsPort, adminPort, domain, defaultTunnel,
                authRequired, tokenHashes, dataDir, certFile, keyFile, response, grace, ping,
                idleTimeout, requestHeadTimeout, trustForwardedFor, loopAffinity, adminTokenFile);
    }

    /** With client connections moved onto their tunnel's loop, or left where they were accepted. */
    public ProxyConfig withLoopAffinity(boolean on) {
        return new ProxyConfig(bind, tunnelPort, httpPort, httpsPort, adminPort, domain, defaultTunnel,
                authRequired, tokenHashes, dataDir, certFile, keyFile, responseTimeout, shutdownGrace, pingInterval,
                idleTimeout, requestHeadTimeout, trustForwardedFor, on, adminTokenFile);
    }

    public ProxyConfig withFrontend(Duration idle, Duration head, boolean trustXff) {
        return new ProxyConfig(bind, tunnelPort, httpPort, httpsPort, adminPort, domain, defaultTunnel,
                authRequired, tokenHashes, dataDir, certFile, keyFile, responseTimeout, shutdownGrace, pingInterval,
                idle, head, trustXff, loopAffinity, adminTokenFile);
    }

    /** With the admin API's token read from {@code file} (null: the data directory's, generated). */
    public ProxyConfig withAdminTokenFile(Path file) {
        return new ProxyConfig(bind, tunnelPort, httpPort, httpsPort, adminPort, domain, defaultTunnel,
                authRequired, tokenHashes, dataDir, certFile, keyFile, responseTimeout, shutdownGrace, pingInterval,
                idleTimeout, requestHeadTimeout, trustForwardedFor, loopAffinity, file);
    }

    private static void positive(Duration d, String name) {
        Objects.requireNonNull(d, name);
        if (d.isNegative() || d.isZero()) {
            throw new IllegalArgumentException(name + ": " + d + " (expected: > 0)");
        }
    }

    /** The hex SHA-256 under which a token is stored and compared. */
    public static String hashToken(String token) {
        return TokenAuthenticator.hash(token);
    }

    public ProxyConfig withDataDir(Path dir) {
        return new ProxyConfig(bind, tunnelPort, httpPort, httpsPort, adminPort, domain, defaultTunnel,
                authRequired, tokenHashes, dir, certFile, keyFile, responseTimeout, shutdownGrace, pingInterval,
                idleTimeout, requestHeadTimeout, trustForwardedFor, loopAffinity, adminTokenFile);
    }
}
