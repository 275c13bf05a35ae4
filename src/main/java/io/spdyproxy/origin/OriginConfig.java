package io.spdyproxy.origin;

import io.spdyproxy.tunnel.handshake.TunnelProtocol;
import java.time.Duration;
import java.util.Objects;

/**
 * How an origin reaches its proxy.
 *
 * @param proxyHost the proxy's host
 * @param proxyPort its tunnel port
 * @param name the tunnel name to serve (null: the proxy's default)
 * @param token the bearer token (null: none, for {@code --auth none} proxies)
 * @param connections parallel tunnels kept open
 * @param initialBackoff first reconnect delay, doubled per failure
 * @param maxBackoff the cap on the reconnect delay
 * @param pingInterval keepalive PING interval; a peer silent for 3 intervals is dead
 * @param handshakeTimeout connect + TLS + handshake budget
 * @param legacyHandshake send the original's handshake byte for byte
 * @param shutdownGrace how long in-flight requests may run on after a graceful shutdown began
 * @param tunnelProtocol the tunnel protocol to ask the proxy for; {@code H2} falls back to SPDY
 *     with a proxy that does not speak HTTP/2 tunnels
 */
public record OriginConfig(
        String proxyHost,
        int proxyPort,
        String name,
        String token,
        int connections,
        Duration initialBackoff,
        Duration maxBackoff,
        Duration pingInterval,
        Duration handshakeTimeout,
        boolean legacyHandshake,
        Duration shutdownGrace,
        TunnelProtocol.Kind tunnelProtocol) {

    public OriginConfig {
        Objects.requireNonNull(tunnelProtocol, "tunnelProtocol");
        Objects.requireNonNull(proxyHost, "proxyHost");
        if (connections <= 0) {
            throw new IllegalArgumentException("connections: " + connections + " (expected: > 0)");
        }
        Objects.requireNonNull(initialBackoff, "initialBackoff");
        Objects.requireNonNull(maxBackoff, "maxBackoff");
        Objects.requireNonNull(pingInterval, "pingInterval");
        Objects.requireNonNull(handshakeTimeout, "handshakeTimeout");
        Objects.requireNonNull(shutdownGrace, "shutdownGrace");
        if (proxyPort < 0 || proxyPort > 65535) {
            throw new IllegalArgumentException("proxyPort: " + proxyPort + " (expected: 0 to 65535)");
        }
        if (shutdownGrace.isNegative()) {
            throw new IllegalArgumentException("shutdownGrace: " + shutdownGrace + " (expected: >= 0)");
        }
    }

    public static OriginConfig of(String host, int port) {
        return new OriginConfig(host, port, null, null, 1, Duration.ofMillis(100), Duration.ofSeconds(30),
                Duration.ofSeconds(15), Duration.ofSeconds(10), false, Duration.ofSeconds(10),
                TunnelProtocol.Kind.SPDY);
    }

    public OriginConfig withCredentials(String tunnelName, String bearerToken) {
        return new OriginConfig(proxyHost, proxyPort, tunnelName, bearerToken, connections, initialBackoff,
                maxBackoff, pingInterval, handshakeTimeout, legacyHandshake, shutdownGrace, tunnelProtocol);
    }

    public OriginConfig withConnections(int n) {
        return new OriginConfig(proxyHost, proxyPort, name, token, n, initialBackoff, maxBackoff, pingInterval,
                handshakeTimeout, legacyHandshake, shutdownGrace, tunnelProtocol);
    }

    public OriginConfig withBackoff(Duration initial, Duration max) {
        return new OriginConfig(proxyHost, proxyPort, name, token, connections, initial, max, pingInterval,
                handshakeTimeout, legacyHandshake, shutdownGrace, tunnelProtocol);
    }

    public OriginConfig withPingInterval(Duration d) {
        return new OriginConfig(proxyHost, proxyPort, name, token, connections, initialBackoff, maxBackoff, d,
                handshakeTimeout, legacyHandshake, shutdownGrace, tunnelProtocol);
    }

    public OriginConfig withLegacyHandshake(boolean v) {
        return new OriginConfig(proxyHost, proxyPort, name, token, connections, initialBackoff, maxBackoff,
                pingInterval, handshakeTimeout, v, shutdownGrace, tunnelProtocol);
    }

    public OriginConfig withShutdownGrace(Duration grace) {
        return new OriginConfig(proxyHost, proxyPort, name, token, connections, initialBackoff, maxBackoff,
                pingInterval, handshakeTimeout, legacyHandshake, grace, tunnelProtocol);
    }

    public OriginConfig withTunnelProtocol(TunnelProtocol.Kind protocol) {
        return new OriginConfig(proxyHost, proxyPort, name, token, connections, initialBackoff, maxBackoff,
                pingInterval, handshakeTimeout, legacyHandshake, shutdownGrace, protocol);
    }
}
