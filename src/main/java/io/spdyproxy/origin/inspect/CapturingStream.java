package io.spdyproxy.origin.inspect;

import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponse;
import io.spdyproxy.tunnel.StreamError;
import io.spdyproxy.tunnel.TunnelSession;
import io.spdyproxy.tunnel.TunnelStream;

/**
 * The stream the origin's handler answers on while the inspector watches: every call goes to the
 * real stream unchanged, after the response's head and first body bytes were copied into the
 * {@link Capture} (copied before the buffer's ownership passes on, never retained).
 *
 * <p>Threading: as {@link TunnelStream}: any thread; the capture locks for itself.
 */
final class CapturingStream implements TunnelStream {
    private final TunnelStream stream;
    private final Capture capture;

    CapturingStream(TunnelStream stream, Capture capture) {
        this.stream = stream;
        this.capture = capture;
    }

    @Override
    public void sendResponse(HttpResponse head, boolean endOfStream) {
        capture.response(head);
        stream.sendResponse(head, endOfStream);
    }

    @Override
    public void sendData(ByteBuf data, boolean endOfStream) {
        capture.responseChunk(data);
        stream.sendData(data, endOfStream);
    }

    @Override
    public void sendTrailers(HttpHeaders trailers) {
        capture.responseTrailers(trailers);
        stream.sendTrailers(trailers);
    }

    @Override
    public int id() {
        return stream.id();
    }

    @Override
    public TunnelSession session() {
        return stream.session();
    }

    @Override
    public void consume(int bytes) {
        stream.consume(bytes);
    }

    @Override
    public void reset(StreamError error) {
        stream.reset(error);
    }

    @Override
    public boolean isWritable() {
        return stream.isWritable();
    }

    @Override
    public long queuedBytes() {
        return stream.queuedBytes();
    }

    @Override
    public long maxQueuedBytes() {
        return stream.maxQueuedBytes();
    }

    @Override
    public long bytesSent() {
        return stream.bytesSent();
    }

    @Override
    public long bytesReceived() {
        return stream.bytesReceived();
    }

    @Override
    public boolean isClosed() {
        return stream.isClosed();
    }
}
