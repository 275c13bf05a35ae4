package io.spdyproxy.spdy;

import io.netty.handler.codec.spdy.SpdyHeaders;

/** Session-wide events, called on the session's event loop. */
public interface SpdySessionListener {

    /**
     * The peer opened a stream. Return the listener for its events; the SYN_STREAM headers follow
     * at once through {@link SpdyStreamListener#onHeaders}. Returning null resets it REFUSED_STREAM.
     */
    SpdyStreamListener onStream(SpdyStream stream, SpdyHeaders headers);

    /** The peer sent GOAWAY: no new streams; those above {@code lastGoodStreamId} already failed. */
    default void onGoAway(SpdySession session, int lastGoodStreamId) {}

    /** Fewer than the configured watermark of local stream ids remain: rotate to a new session. */
    default void onStreamIdsLow(SpdySession session) {}

    /** The session is closed; {@code cause} is null for an orderly close. */
    default void onClosed(SpdySession session, Throwable cause) {}

    /** A listener for sessions that never accept peer-initiated streams (a pure client). */
    static SpdySessionListener refusingStreams() {
        return (stream, headers) -> null;
    }
}
