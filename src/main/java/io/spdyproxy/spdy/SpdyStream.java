package io.spdyproxy.spdy;

import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.spdy.SpdyHeaders;
import io.netty.util.ReferenceCountUtil;
import java.util.ArrayDeque;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One SPDY stream: a bidirectional, flow-controlled exchange of header blocks and data.
 *
 * <p>Threading: all state is confined to the session's event loop. The public methods may be
 * called from any thread; they hop onto the loop. {@link #isWritable()} and the counters are safe
 * to read anywhere, so a producer on another thread can pace itself.
 *
 * <p>Writability has two sources: the stream's own queue (bounded by its send window and by
 * {@code maxStreamQueuedBytes}) and the session's {@link SendBudget} (the connection's own
 * buffer, and all streams' queues together). A producer that found either closed gets one
 * {@link SpdyStreamListener#onWritabilityChanged} once both are open again.
 */
public final class SpdyStream {

    /** SPDY/3 section 2.3: a stream half-closes once per direction, with FIN. */
    enum State {
        OPEN,
        HALF_CLOSED_LOCAL,
        HALF_CLOSED_REMOTE,
        CLOSED
    }

    /** Where the stream sits in the session's write scheduling. */
    enum Scheduling {
        IDLE,
        READY,
        SESSION_BLOCKED
    }

    /** An outbound item waiting for window or for the data ahead of it: a ByteBuf or headers. */
    record Pending(Object payload, boolean endOfStream) {}

    private final SpdySession session;
    private final int id;
    private final byte priority;
    private final boolean local;

    SpdyStreamListener listener;
    State state = State.OPEN;
    Scheduling scheduling = Scheduling.IDLE;
    boolean headersSent;
    boolean headersReceived;
    boolean remoteFin;
    boolean endQueued;
    int sendWindow;
    int recvWindow;
    /** The receive window this stream is granted in all: the initial one plus any growth. */
    int recvTarget;
    /** When the last WINDOW_UPDATE went out for this stream (0: none yet); paces growth. */
    long lastCreditNanos;
    int unackedConsumed;
    /** Delivered to the listener and not yet consumed. */
    long unconsumed;
    boolean sessionCreditReturned;
    final ArrayDeque<Pending> queue = new ArrayDeque<>(4);

    private final AtomicLong queuedBytes = new AtomicLong();
    private final AtomicLong maxQueuedBytes = new AtomicLong();
    private volatile long writeLimit;
    /** Set by whoever made the stream unwritable; cleared (with a callback) when it drains. */
    private final AtomicBoolean unwritable = new AtomicBoolean();
    volatile long bytesSent;
    volatile long bytesReceived;

    SpdyStream(SpdySession session, int id, byte priority, int sendWindow, int recvWindow) {
        this.session = session;
        this.id = id;
        this.priority = priority;
        this.local = session.config().role().isLocal(id);
        this.sendWindow = sendWindow;
        this.recvWindow = recvWindow;
        this.recvTarget = recvWindow;
        this.writeLimit = session.writeLimit(sendWindow);
    }

    public int id() {
        return id;
    }

    /** 0 is the highest priority, 7 the lowest (SPDY/3 section 2.6.1). */
    public int priority() {
        return priority;
    }

    /** True when this side opened the stream. */
    public boolean isLocal() {
        return local;
    }

    public SpdySession session() {
        return session;
    }

    /**
     * Sends a header block: the SYN_REPLY on a stream the peer opened, HEADERS otherwise (further
     * headers, or trailers after data). Headers queue behind any data not yet sent.
     */
    public void sendHeaders(SpdyHeaders headers, boolean endOfStream) {
        java.util.Objects.requireNonNull(headers, "headers");
        session.execute(() -> session.sendHeaders(this, headers, endOfStream));
    }

    /**
     * Queues {@code data} (ownership passes to the stream) and sends it as the stream's and the
     * session's windows allow. A producer should stop once {@link #isWritable()} turns false and
     * resume on {@link SpdyStreamListener#onWritabilityChanged}.
     */
    public void sendData(ByteBuf data, boolean endOfStream) {
        int n = data.readableBytes();
        long queued = queuedBytes.addAndGet(n);
        maxQueuedBytes.accumulateAndGet(queued, Math::max);
        if (queued >= writeLimit) {
            unwritable.set(true);
        }
        boolean overHardLimit = session.sendBudget().queued(n) > session.sendBudget().hardLimit();
        boolean accepted = session.execute(() -> {
            if (overHardLimit) {
                session.refuseData(this, data);
            } else {
                session.sendData(this, data, endOfStream);
            }
        });
        if (!accepted) {
            // The session's event loop is gone, and the session with it: nothing will send this.
            dequeued(n);
            data.release();
        }
    }

    /**
     * Says that {@code bytes} of received data were used (for a proxy: written downstream), which
     * is what grants the peer more window, in batches.
     */
    public void consume(int bytes) {
        if (bytes < 0) {
            throw new IllegalArgumentException("bytes: " + bytes + " (expected: >= 0)");
        }
        if (bytes > 0) {
            session.execute(() -> session.consume(this, bytes));
        }
    }

    /** Ends the stream at once with RST_STREAM; queued data is dropped. */
    public void reset(SpdyError error) {
        session.execute(() -> session.resetStream(this, error, "reset by application"));
    }

    /**
     * True while the send queue is below the stream's bound (its send window, at most {@code
     * maxStreamQueuedBytes}: at least one chunk fits) and the session takes more data. When false,
     * {@link SpdyStreamListener#onWritabilityChanged} follows once it is true again.
     */
    public boolean isWritable() {
        if (queuedBytes.get() >= writeLimit) {
            return false; // whoever filled the queue flagged it (sendData, windowChanged)
        }
        SendBudget budget = session.sendBudget();
        if (budget.isOpen() || state == State.CLOSED) {
            return true; // a closed stream drops what it is given: nothing to wait for
        }
        unwritable.set(true);
        budget.await(this);
        return false;
    }

    /** Bytes accepted by {@link #sendData} and not yet handed to the connection. */
    public long queuedBytes() {
        return queuedBytes.get();
    }

    /** The most bytes ever queued at once on this stream: the memory it held for sending. */
    public long maxQueuedBytes() {
        return maxQueuedBytes.get();
    }

    public long bytesSent() {
        return bytesSent;
    }

    public long bytesReceived() {
        return bytesReceived;
    }

    /** True once neither side can send on it any more. */
    public boolean isClosed() {
        return state == State.CLOSED;
    }

    // ---- loop-confined helpers used by SpdySession ----

    boolean canSendLocal() {
        return state == State.OPEN || state == State.HALF_CLOSED_REMOTE;
    }

    boolean canReceiveRemote() {
        return state == State.OPEN || state == State.HALF_CLOSED_LOCAL;
    }

    void dequeued(int bytes) {
        queuedBytes.addAndGet(-bytes);
        session.sendBudget().dequeued(bytes);
    }

    void windowChanged() {
        writeLimit = session.writeLimit(sendWindow);
        if (!isWritable() && unwritable.compareAndSet(false, true) && state != State.CLOSED) {
            session.fireWritabilityChanged(this);
        }
    }

    /**
     * Fires the writability callback when the stream drained after being unwritable. The flag is
     * set by the producer's own {@link #sendData} (any thread), so no transition can be missed.
     */
    void notifyWritability() {
        if (state != State.CLOSED && isWritable() && unwritable.compareAndSet(true, false)) {
            session.fireWritabilityChanged(this);
        }
    }

    void releaseQueue() {
        Pending p;
        long bytes = 0;
        while ((p = queue.poll()) != null) {
            if (p.payload() instanceof ByteBuf b) {
                bytes += b.readableBytes();
            }
            ReferenceCountUtil.release(p.payload());
        }
        // Only what was in the queue: a sendData still on its way to the loop counts itself out.
        queuedBytes.addAndGet(-bytes);
        session.sendBudget().dequeued(bytes);
    }

    @Override
    public String toString() {
        return "SpdyStream(id=" + id + ", state=" + state + ", sendWindow=" + sendWindow
                + ", recvWindow=" + recvWindow + ", queued=" + queuedBytes.get() + ')';
    }
}
