package io.spdyproxy.tunnel.spdy;

import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponse;
import io.spdyproxy.spdy.SpdyStream;
import io.spdyproxy.tunnel.StreamError;
import io.spdyproxy.tunnel.StreamObserver;
import io.spdyproxy.tunnel.TunnelSession;
import io.spdyproxy.tunnel.TunnelStream;

/**
 * A {@link TunnelStream} over one SPDY stream. Thin: every call goes straight to the
 * {@link SpdyStream}, whose methods are safe from any thread.
 */
final class SpdyTunnelStream implements TunnelStream {
    private final SpdyStream stream;
    private final SpdyTunnelSession session;
    /** Set once, on the loop, before the stream is handed to anybody. */
    StreamObserver observer = StreamObserver.NONE;

    SpdyTunnelStream(SpdyStream stream, SpdyTunnelSession session) {
        this.stream = stream;
        this.session = session;
    }

    SpdyStream spdyStream() {
        return stream;
    }

    @Override
    public int id() {
        return stream.id();
    }

    @Override
    public TunnelSession session() {
        return session;
    }

    @Override
    public void sendResponse(HttpResponse head, boolean endOfStream) {
        observer.responseSent(head.status().code());
        stream.sendHeaders(SpdyHeads.response(head, session.supportsUpgrade()), endOfStream);
    }

    @Override
    public void sendData(ByteBuf data, boolean endOfStream) {
        stream.sendData(data, endOfStream);
    }

    @Override
    public void sendTrailers(HttpHeaders trailers) {
        stream.sendHeaders(SpdyHeads.trailers(trailers), true);
    }

    @Override
    public void consume(int bytes) {
        stream.consume(bytes);
    }

    @Override
    public void reset(StreamError error) {
        stream.reset(SpdyErrors.toSpdy(error));
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

    @Override
    public String toString() {
        return stream.toString();
    }
}
