package io.spdyproxy.tunnel;

import io.spdyproxy.spdy.SpdySession;
import java.net.SocketAddress;

/**
 * One established tunnel: a SPDY session over a connection an origin dialled.
 *
 * @param name the tunnel name the origin serves
 * @param session the SPDY session (client role at the proxy, server role at the origin)
 * @param legacy the peer is the original Go program (no protocol header in its handshake)
 * @param remote the peer's address
 */
public record Tunnel(String name, SpdySession session, boolean legacy, SocketAddress remote) {}
