package io.spdyproxy.tunnel;

import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponse;

/**
 * One request/response exchange inside a tunnel session, whatever the tunnel protocol: a head
 * each way, a streamed body each way with backpressure, trailers, a reset with a reason, and a
 * half-close in each direction. After a {@code 101 Switching Protocols} head the same stream is a
 * raw two-way byte pipe: data in either direction is the upgraded connection's bytes, under the
 * same flow control, and the end of stream in one direction is that direction's half-close.
 *
 * <p>Backpressure contract: a producer sends while {@link #isWritable()} and otherwise waits for
 * {@link StreamHandler#onWritabilityChanged} (or its equivalent on the server side). The receiver
 * calls {@link #consume(int)} once it has used received bytes; only that grants the peer window.
 *
 * <p>Threading: every method may be called from any thread (they hop onto the session's event
 * loop); callbacks arrive on that loop. {@link #isWritable()} is exact from any thread.
 */
public interface TunnelStream {
    int id();

    TunnelSession session();

    /** Sends the response head (server side); {@code endOfStream} when no body follows. */
    void sendResponse(HttpResponse head, boolean endOfStream);

    /** Sends body bytes (ownership passes to the stream); {@code endOfStream} half-closes. */
    void sendData(ByteBuf data, boolean endOfStream);

    /** Ends this direction with trailers. */
    void sendTrailers(HttpHeaders trailers);

    /** Grants the peer window for {@code bytes} of received data this side is done with. */
    void consume(int bytes);

    /** Ends the stream in both directions; a no-op once it ended. */
    void reset(StreamError error);

    /** False once the stream's send queue holds a window's worth: stop reading the source. */
    boolean isWritable();

    /** Bytes queued for sending and not yet written to the connection. */
    long queuedBytes();

    /** The most this stream ever held for sending (its queue), for memory checks. */
    long maxQueuedBytes();

    long bytesSent();

    long bytesReceived();

    boolean isClosed();
}
