package io.spdyproxy.spdy;

import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.spdy.SpdyHeaders;

/**
 * Events of one stream, always called on the session's event loop, in wire order. At most one of
 * the terminal events ({@link #onClosed}) is delivered, and nothing after it.
 */
public interface SpdyStreamListener {

    /**
     * The peer's header block: SYN_STREAM (a new request), SYN_REPLY (the response) or HEADERS
     * (more headers, or trailers once data was seen).
     */
    void onHeaders(SpdyStream stream, SpdyHeaders headers, boolean endOfStream);

    /**
     * A chunk of the peer's body. The listener owns {@code data}: it must release it, and call
     * {@link SpdyStream#consume(int)} with its size once the bytes are used (for a proxy: written
     * downstream). Only consumption grants the peer more window, which is what bounds memory.
     */
    void onData(SpdyStream stream, ByteBuf data, boolean endOfStream);

    /** {@link SpdyStream#isWritable()} changed; a producer resumes reading its source when true. */
    default void onWritabilityChanged(SpdyStream stream) {}

    /**
     * The stream is gone: {@code cause} is null when both sides ended it with FIN, otherwise the
     * reset or session failure that ended it.
     */
    default void onClosed(SpdyStream stream, SpdyStreamException cause) {}
}
