package io.spdyproxy.spdy;

/**
 * Which side of a session we play. Set by configuration, not by who dialled: the tunnel runs a
 * client session on an accepted connection and a server session on a dialled one.
 */
public enum SpdyRole {
    /** Opens odd-numbered streams and sends odd PING ids (SPDY/3 section 2.3.2, 2.6.5). */
    CLIENT,
    /** Answers odd-numbered streams; may open even-numbered ones. */
    SERVER;

    int firstLocalStreamId() {
        return this == CLIENT ? 1 : 2;
    }

    /** True when {@code id} has the parity of ids this side initiates (streams and pings alike). */
    boolean isLocal(int id) {
        return ((id & 1) == 1) == (this == CLIENT);
    }
}
