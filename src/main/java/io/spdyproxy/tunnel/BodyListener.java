package io.spdyproxy.tunnel;

import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http.HttpHeaders;

/**
 * Receives a request body chunk by chunk (or, after a {@code 101}, the client's raw bytes).
 * The listener owns each chunk: it releases it and calls {@link TunnelExchange#consume(int)}
 * once the bytes are used, which is what lets the peer send more. Called on the event loop.
 */
public interface BodyListener {
    void onChunk(ByteBuf chunk, boolean last);

    /** Trailers, checked, before the final (empty, last) chunk. */
    default void onTrailers(HttpHeaders trailers) {}
}
