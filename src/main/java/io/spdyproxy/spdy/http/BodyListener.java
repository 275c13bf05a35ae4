package io.spdyproxy.spdy.http;

import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http.HttpHeaders;

/**
 * Receives a streamed HTTP body, on the session's event loop. The listener owns each chunk: it
 * releases it and calls {@link HttpStreamBase#consume(int)} once the bytes are used, which is
 * what lets the peer send more.
 *
 * <p>A chunk is a slice of the connection's read buffer. To use it on another thread, read it
 * through {@link ByteBuf#nioBuffers()} or {@code getBytes(int, byte[])} (or copy it): methods that
 * go through the parent's internal NIO buffer, such as {@code readBytes(channel, n)}, race with the
 * event loop filling that buffer.
 */
public interface BodyListener {
    void onChunk(ByteBuf chunk, boolean last);

    /** Trailers ended the body (no further chunks follow). */
    default void onTrailers(HttpHeaders trailers) {}
}
