package io.spdyproxy.tunnel;

import java.net.SocketAddress;
import java.time.Instant;

/**
 * One established tunnel: a session over a connection an origin dialled.
 *
 * @param name the tunnel name the origin serves
 * @param session the tunnel session (the proxy opens streams, the origin answers them)
 * @param legacy the peer is the original Go program (no protocol header in its handshake)
 * @param remote the peer's address
 * @param connectedAt when the handshake completed
 */
public record Tunnel(String name, TunnelSession session, boolean legacy, SocketAddress remote, Instant connectedAt) {

    /** A tunnel whose handshake completed now. */
    public Tunnel(String name, TunnelSession session, boolean legacy, SocketAddress remote) {
        this(name, session, legacy, remote, Instant.now());
    }
}
