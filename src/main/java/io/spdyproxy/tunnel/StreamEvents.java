package io.spdyproxy.tunnel;

import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http.HttpHeaders;

/**
 * What happens on a stream after its head, on either side. Called on the session's event loop
 * ({@link TunnelSession#eventLoop()}), in order; must not throw.
 *
 * <p>Data buffers are owned by the callee, which releases them and calls
 * {@link TunnelStream#consume(int)} once it is done with the bytes: that alone grants the peer
 * more window, so a slow consumer slows only its own stream.
 */
public interface StreamEvents {
    /**
     * A chunk of body, or after a {@code 101} response the raw bytes of the upgraded
     * connection; {@code endOfStream} is the peer's half-close.
     */
    void onData(TunnelStream stream, ByteBuf data, boolean endOfStream);

    /**
     * Header fields after the head (trailers), unvalidated, pseudo-fields included so the callee
     * can refuse them.
     */
    void onTrailers(TunnelStream stream, HttpHeaders trailers, boolean endOfStream);

    /** The stream's writability changed (see {@link TunnelStream#isWritable()}). */
    default void onWritabilityChanged(TunnelStream stream) {}

    /** Called once when the stream ends: {@code cause} null after a clean end in both directions. */
    default void onClosed(TunnelStream stream, StreamClosedException cause) {}
}
