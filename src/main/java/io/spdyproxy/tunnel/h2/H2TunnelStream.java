package io.spdyproxy.tunnel.h2;

import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2FrameStream;
import io.netty.handler.codec.http2.Http2Headers;
import io.spdyproxy.tunnel.RequestHandler;
import io.spdyproxy.tunnel.StreamClosedException;
import io.spdyproxy.tunnel.StreamError;
import io.spdyproxy.tunnel.StreamEvents;
import io.spdyproxy.tunnel.StreamHandler;
import io.spdyproxy.tunnel.StreamObserver;
import io.spdyproxy.tunnel.TunnelExchange;
import io.spdyproxy.tunnel.TunnelSession;
import io.spdyproxy.tunnel.TunnelStream;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One tunnel stream over one HTTP/2 stream. The stream owns its state (which heads went either
 * way, its half-closes, the bytes received and not yet consumed, how it ended); the connection
 * ({@link H2Connection}) delivers frames to it and writes what it asks for.
 *
 * <p>Threading: state is confined to the session's event loop; the public methods may be called
 * from any thread and hop onto the loop. {@link #isWritable()} and the counters are safe to read
 * anywhere.
 *
 * <p>Writability has three sources: Netty's remote flow controller (the stream's window and the
 * connection's, reported through writability events), the stream's own queue (at most {@code
 * maxStreamQueuedBytes}, whatever window the peer grants) and the session's {@link H2SendBudget}.
 * A producer that found any closed gets one {@link StreamEvents#onWritabilityChanged} once all
 * are open again.
 */
final class H2TunnelStream implements TunnelStream {
    private final H2Connection conn;
    private final Http2FrameStream frame;
    private final boolean local;
    /** The events' receiver: the opener's handler, or the exchange once the request head came. */
    private StreamEvents events;
    private final StreamObserver observer;

    // Loop-confined.
    private boolean headReceived;
    private boolean localEnded;
    private boolean remoteEnded;
    private boolean closeNotified;
    private StreamClosedException cause;
    private int unconsumed;

    private volatile boolean closed;
    private volatile boolean flowWritable = true;
    private volatile long bytesSent;
    private volatile long bytesReceived;
    private final AtomicLong queued = new AtomicLong();
    private final AtomicLong maxQueued = new AtomicLong();
    private final AtomicBoolean unwritable = new AtomicBoolean();

    H2TunnelStream(H2Connection conn, Http2FrameStream frame, StreamHandler handler) {
        this.conn = conn;
        this.frame = frame;
        this.local = handler != null;
        this.events = handler;
        this.observer = conn.session().streamObserver();
    }

    Http2FrameStream frame() {
        return frame;
    }

    boolean isLocal() {
        return local;
    }

    @Override
    public int id() {
        return frame.id();
    }

    @Override
    public TunnelSession session() {
        return conn.session();
    }

    // ---- sending (any thread) ------------------------------------------------------------------

    @Override
    public void sendResponse(HttpResponse head, boolean endOfStream) {
        observer.responseSent(head.status().code());
        Http2Headers h = H2Heads.response(head, conn.upgrades());
        conn.execute(() -> sendHeaders(h, endOfStream));
    }

    @Override
    public void sendTrailers(HttpHeaders trailers) {
        Http2Headers h = H2Heads.trailers(trailers);
        conn.execute(() -> sendHeaders(h, true));
    }

    void sendRawHeaders(Http2Headers h, boolean endOfStream) {
        conn.execute(() -> sendHeaders(h, endOfStream));
    }

    @Override
    public void sendData(ByteBuf data, boolean endOfStream) {
        int n = data.readableBytes();
        long q = queued.addAndGet(n);
        maxQueued.accumulateAndGet(q, Math::max);
        if (q >= conn.config().maxStreamQueuedBytes()) {
            unwritable.set(true);
        }
        boolean overHardLimit = conn.budget().queued(n) > conn.budget().hardLimit();
        if (!conn.execute(() -> writeData(data, endOfStream, n, overHardLimit))) {
            dequeued(n); // the loop is gone with the session: nothing will send this
            data.release();
        }
    }

    @Override
    public void consume(int bytes) {
        if (bytes < 0) {
            throw new IllegalArgumentException("bytes: " + bytes + " (expected: >= 0)");
        }
        if (bytes > 0) {
            conn.execute(() -> {
                // Never more than was received: the codec ends the connection for a stream
                // returning bytes it never got.
                int n = Math.min(bytes, unconsumed);
                unconsumed -= n;
                if (n > 0 && !closed) {
                    conn.writer().windowUpdate(frame, n);
                }
            });
        }
    }

    @Override
    public void reset(StreamError error) {
        conn.execute(() -> resetLocally(error, "reset by application"));
    }

    @Override
    public boolean isWritable() {
        if (closed) {
            return true; // a closed stream drops what it is given: nothing to wait for
        }
        if (writableNow()) {
            return true;
        }
        unwritable.set(true); // a write completion, a flow event or the budget calls back
        // Checked again once the flag is up: the producer may run on another thread, and a window
        // or a drain that landed between the first check and the flag found no flag to call back
        // (a lost wake-up: the producer then waited until some unrelated event, seconds or never).
        return writableNow() && unwritable.compareAndSet(true, false);
    }

    private boolean writableNow() {
        if (queued.get() >= conn.config().maxStreamQueuedBytes() || !flowWritable) {
            return false;
        }
        H2SendBudget budget = conn.budget();
        if (budget.isOpen()) {
            return true;
        }
        budget.await(this);
        return false;
    }

    @Override
    public long queuedBytes() {
        return queued.get();
    }

    @Override
    public long maxQueuedBytes() {
        return maxQueued.get();
    }

    @Override
    public long bytesSent() {
        return bytesSent;
    }

    @Override
    public long bytesReceived() {
        return bytesReceived;
    }

    @Override
    public boolean isClosed() {
        return closed;
    }

    // ---- the loop's side -----------------------------------------------------------------------

    private void sendHeaders(Http2Headers h, boolean endOfStream) {
        if (closed || localEnded) {
            return; // reset or already ended: nothing to say any more
        }
        localEnded = endOfStream;
        conn.writer().headers(frame, h, endOfStream);
    }

    private void writeData(ByteBuf data, boolean endOfStream, int n, boolean overHardLimit) {
        if (overHardLimit) {
            dequeued(n);
            data.release();
            resetLocally(StreamError.INTERNAL_ERROR, "send queue over the session's hard limit of "
                    + conn.budget().hardLimit() + " bytes: the producer ignored isWritable()");
            conn.budget().wakeIfOpen();
            return;
        }
        if (closed || localEnded) {
            dequeued(n);
            data.release();
            return;
        }
        localEnded = endOfStream;
        conn.writer().data(frame, data, endOfStream).addListener(f -> {
            dequeued(n);
            if (f.isSuccess()) {
                bytesSent += n;
                conn.dataSent(n);
            }
            refreshFlow();
            conn.budget().wakeIfOpen();
        });
    }

    private void dequeued(int n) {
        queued.addAndGet(-n);
        conn.budget().dequeued(n);
    }

    /** On the loop: ends the stream with RST_STREAM; a no-op once it ended. */
    void resetLocally(StreamError error, String why) {
        if (closed) {
            return;
        }
        if (cause == null) {
            cause = new StreamClosedException(error, false, true, why);
        }
        conn.writer().reset(frame, H2Errors.toH2(error));
        closedByCodec(); // the codec closed it with the RST; said here too in case it never knew it
    }

    /** The request went out with END_STREAM in its HEADERS. */
    void onLocalEndSent() {
        localEnded = true;
    }

    /** On the loop: resets with the code the codec chose (a stream the peer broke). */
    void resetWith(io.netty.handler.codec.http2.Http2Error error) {
        if (!closed) {
            conn.writer().reset(frame, error);
            closedByCodec();
        }
    }

    /** The flow controller's view of this stream changed (a window, the channel). */
    void refreshFlow() {
        boolean was = flowWritable;
        flowWritable = conn.flowWritable(frame);
        if (was && !flowWritable && !closed) {
            observer.sendStalled();
        }
        if (was && !flowWritable && !closed && unwritable.compareAndSet(false, true)) {
            fireWritabilityChanged();
        }
        notifyWritability();
    }

    /** Calls the producer back when the stream is writable again after it found it not. */
    void notifyWritability() {
        if (!closed && isWritable() && unwritable.compareAndSet(true, false)) {
            fireWritabilityChanged();
        }
    }

    private void fireWritabilityChanged() {
        StreamEvents e = events;
        if (e != null) {
            try {
                e.onWritabilityChanged(this);
            } catch (RuntimeException ex) {
                failed(ex);
            }
        }
    }

    void onHeaders(Http2Headers h, boolean endOfStream, RequestHandler requests) {
        if (endOfStream) {
            remoteEnded = true;
        }
        try {
            if (local) {
                StreamHandler handler = (StreamHandler) events;
                if (!headReceived) {
                    headReceived = true;
                    handler.onHead(this, H2Heads.toResponseHead(h), endOfStream);
                } else {
                    handler.onTrailers(this, H2Heads.toRawTrailers(h), endOfStream);
                }
            } else if (events != null) {
                events.onTrailers(this, H2Heads.toRawTrailers(h), endOfStream);
            } else {
                request(h, endOfStream, requests);
            }
        } catch (RuntimeException e) {
            failed(e);
        }
    }

    private void request(Http2Headers h, boolean endOfStream, RequestHandler requests) {
        HttpRequest request;
        try {
            request = H2Heads.toRequest(h, conn.upgrades());
        } catch (IllegalArgumentException e) {
            // RFC 9113 section 8.1.1: a malformed request; answered 400 as the SPDY mapping does.
            TunnelExchange ex = new TunnelExchange(this, null, H2Heads.scheme(h), !endOfStream);
            events = ex;
            ex.respond(HttpResponseStatus.BAD_REQUEST, "text/plain; charset=utf-8", e.getMessage() + "\n");
            return;
        }
        TunnelExchange ex = new TunnelExchange(this, request, H2Heads.scheme(h), !endOfStream);
        events = ex;
        requests.onRequest(ex);
    }

    void onData(Http2DataFrame f) {
        ByteBuf data = f.content();
        int n = data.readableBytes();
        int padding = f.initialFlowControlledBytes() - n;
        if (padding > 0) {
            conn.writer().windowUpdate(frame, padding); // padding is nobody's to consume: returned at once
        }
        unconsumed += n;
        bytesReceived += n;
        conn.dataReceived(n);
        boolean end = f.isEndStream();
        if (end) {
            remoteEnded = true;
        }
        StreamEvents e = events;
        if (e == null || closed) {
            data.release();
            return;
        }
        try {
            e.onData(this, data, end);
        } catch (RuntimeException ex) {
            failed(ex);
        }
    }

    void onReset(long code) {
        if (cause == null) {
            boolean refused = code == io.netty.handler.codec.http2.Http2Error.REFUSED_STREAM.code();
            cause = new StreamClosedException(H2Errors.fromH2(code), refused, false,
                    "reset by peer: " + H2Errors.fromH2(code) + " (HTTP/2 code " + code + ")");
        }
    }

    /** The codec found the peer broke the protocol on this stream; it resets it. */
    void onStreamError(StreamError error, String why) {
        if (cause == null) {
            cause = new StreamClosedException(error, false, true, why);
        }
    }

    /** The codec closed the stream (both ends, a reset, the connection): tell the receiver once. */
    void closedByCodec() {
        if (closeNotified) {
            return;
        }
        closeNotified = true;
        closed = true;
        conn.budget().forget(this);
        conn.removed(this);
        if (cause == null && !(localEnded && remoteEnded)) {
            cause = conn.closedUnder(this);
        }
        observer.closed(cause, bytesSent, bytesReceived);
        StreamEvents e = events;
        if (e != null) {
            try {
                e.onClosed(this, cause);
            } catch (RuntimeException ex) {
                H2Connection.log.warn("stream {}: onClosed failed", frame.id(), ex);
            }
        }
    }

    private void failed(RuntimeException e) {
        H2Connection.log.warn("stream {}: listener failed; resetting it", frame.id(), e);
        resetLocally(StreamError.INTERNAL_ERROR, "listener failed: " + e);
    }

    @Override
    public String toString() {
        return "H2TunnelStream(id=" + frame.id() + ", local=" + local + ", closed=" + closed + ", queued="
                + queued.get() + ')';
    }
}
