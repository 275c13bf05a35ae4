package io.spdyproxy.origin.inspect;

import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponse;
import io.spdyproxy.tunnel.StreamClosedException;
import io.spdyproxy.tunnel.StreamError;
import io.spdyproxy.tunnel.TunnelExchange;
import io.spdyproxy.tunnel.TunnelSession;
import io.spdyproxy.tunnel.TunnelStream;

/**
 * The stream of a replayed request: no tunnel behind it. The request body is handed over whole
 * (it is at most what the inspector captured, or what the user typed); the response is dropped
 * once the {@link CapturingStream} above copied what it keeps, so it is always writable and holds
 * nothing. The exchange ends, as a tunnel stream would, when both directions ended or on a reset.
 *
 * <p>Threading: confined to its session's event loop; calls from other threads hop onto it.
 */
final class LocalStream implements TunnelStream {
    private final LocalSession session;
    private final int id;
    private TunnelExchange exchange;
    private boolean requestEnded;
    private boolean responseEnded;
    private boolean closed;
    /** Counted on whichever thread sends (the file server's reads run on an I/O pool). */
    private final java.util.concurrent.atomic.AtomicLong bytesSent = new java.util.concurrent.atomic.AtomicLong();
    private long bytesReceived;

    LocalStream(LocalSession session, int id) {
        this.session = session;
        this.id = id;
    }

    /** The exchange this stream's events go to; before the handler sees it. */
    void attach(TunnelExchange ex) {
        this.exchange = ex;
    }

    /**
     * Delivers {@code body} (ownership passes; null: none) as the whole request body, in a later
     * loop task as a tunnel would; called on the loop once the handler took the exchange (which may
     * have answered already).
     */
    void start(ByteBuf body) {
        if (body == null) {
            requestEnded = true;
            maybeClose();
            return;
        }
        bytesReceived += body.readableBytes();
        session.eventLoop().execute(() -> {
            requestEnded = true;
            if (closed) {
                body.release();
                return;
            }
            exchange.onData(this, body, true);
            maybeClose();
        });
    }

    @Override
    public void sendResponse(HttpResponse head, boolean endOfStream) {
        onLoop(() -> {
            if (endOfStream) {
                responseEnded = true;
                maybeClose();
            }
        });
    }

    @Override
    public void sendData(ByteBuf data, boolean endOfStream) {
        bytesSent.addAndGet(data.readableBytes());
        data.release();
        if (endOfStream) {
            onLoop(() -> {
                responseEnded = true;
                maybeClose();
            });
        }
    }

    @Override
    public void sendTrailers(HttpHeaders trailers) {
        onLoop(() -> {
            responseEnded = true;
            maybeClose();
        });
    }

    @Override
    public void reset(StreamError error) {
        onLoop(() -> close(new StreamClosedException(error, false, true, "replay reset: " + error)));
    }

    private void maybeClose() {
        if (requestEnded && responseEnded) {
            close(null);
        }
    }

    private void close(StreamClosedException cause) {
        if (closed) {
            return;
        }
        closed = true;
        exchange.onClosed(this, cause);
    }

    private void onLoop(Runnable task) {
        if (session.eventLoop().inEventLoop()) {
            task.run();
        } else {
            session.eventLoop().execute(task);
        }
    }

    @Override
    public int id() {
        return id;
    }

    @Override
    public TunnelSession session() {
        return session;
    }

    @Override
    public void consume(int bytes) {
        // nothing to grant: the whole body was handed over at once
    }

    @Override
    public boolean isWritable() {
        return true;
    }

    @Override
    public long queuedBytes() {
        return 0;
    }

    @Override
    public long maxQueuedBytes() {
        return 0;
    }

    @Override
    public long bytesSent() {
        return bytesSent.get();
    }

    @Override
    public long bytesReceived() {
        return bytesReceived;
    }

    @Override
    public boolean isClosed() {
        return closed;
    }
}
