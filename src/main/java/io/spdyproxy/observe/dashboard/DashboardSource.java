package io.spdyproxy.observe.dashboard;

import java.time.Instant;
import java.util.List;

/**
 * What the dashboard reads from the process it shows, once a second. The dashboard knows no tunnel
 * type: the proxy describes each of its tunnels as a {@link TunnelFigures}.
 *
 * <p>Threading: called on the dashboard's ticker thread; implementations read thread-safe state.
 */
public interface DashboardSource {
    /**
     * One tunnel connection now.
     *
     * @param id what tells this connection from another of the same name across samples (the
     *     session object: compared by identity)
     * @param name the tunnel name
     * @param remote the origin's address
     * @param protocol the tunnel protocol ({@code spdy/3.1}, {@code h2})
     * @param state its lifecycle state ({@code ACTIVE}, {@code DRAINING}, {@code CLOSED})
     * @param connectedAt when its handshake completed
     * @param streams streams open now
     * @param bytesToOrigin body bytes sent to the origin since it connected
     * @param bytesFromOrigin body bytes received from the origin since it connected
     */
    record TunnelFigures(Object id, String name, String remote, String protocol, String state, Instant connectedAt,
            int streams, long bytesToOrigin, long bytesFromOrigin) {}

    /** The tunnels connected now. */
    List<TunnelFigures> tunnels();

    /** Client connections open now (every front-end listener). */
    long clientConnections();

    /** Requests started and not yet ended. */
    long requestsInFlight();

    /** Requests started since the process started. */
    long requestsTotal();
}
