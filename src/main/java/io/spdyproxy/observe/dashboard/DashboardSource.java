package io.spdyproxy.observe.dashboard;

import io.spdyproxy.tunnel.Tunnel;
import java.util.List;

/**
 * What the dashboard reads from the process it shows, once a second.
 *
 * <p>Threading: called on the dashboard's ticker thread; implementations read thread-safe state.
 */
public interface DashboardSource {
    /** The tunnels connected now. */
    List<Tunnel> tunnels();

    /** Client connections open now (every front-end listener). */
    long clientConnections();

    /** Requests started and not yet ended. */
    long requestsInFlight();

    /** Requests started since the process started. */
    long requestsTotal();
}
