package io.spdyproxy.tunnel;

/**
 * Why a tunnel stream was reset, in words every tunnel protocol has (SPDY/3 section 2.6.3,
 * HTTP/2 section 7). Each protocol adapter maps these to its own codes.
 */
public enum StreamError {
    /** The stream broke the protocol (a bad head, bad framing of the message). */
    PROTOCOL_ERROR,
    /** The peer never processed the stream: safe to retry elsewhere. */
    REFUSED,
    /** Not wanted any more (the client went away, the answer came early). */
    CANCEL,
    /** This side failed (an I/O error reading a file, the app's connection broke). */
    INTERNAL_ERROR,
    /** The peer sent more than its window allowed. */
    FLOW_CONTROL_ERROR,
    /** Not a wire status: the session ended (connection closed, GOAWAY, keepalive) under the stream. */
    SESSION_CLOSED,
    /** Any other code a peer may send. */
    OTHER
}
