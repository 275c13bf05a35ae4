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
 * <p>The stream owns its state: its lifecycle (SPDY/3 section 2.3), which header blocks went
 * either way, its send queue and window, its {@link ReceiveWindow}. The session's parts ask it to
 * change through the package-private methods below; none writes its fields.
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

    // Loop-confined: changed only through the methods below, by the session's parts.
    private SpdyStreamListener listener;
    private State state = State.OPEN;
    private Scheduling scheduling = Scheduling.IDLE;
    /** Our SYN_STREAM (local stream) or SYN_REPLY (remote stream) went out. */
    private boolean headersSent;
    /** The peer's SYN_STREAM (remote stream) or SYN_REPLY (local stream) arrived. */
    private boolean headersReceived;
    /** The peer's FIN arrived (set before its delivery; the state follows once delivered). */
    private boolean remoteFin;
    /** Our FIN is queued or sent: nothing more may be queued. */
    private boolean endQueued;
    private int sendWindow;
    private final ReceiveWindow recv;
    private final ArrayDeque<Pending> queue = new ArrayDeque<>(4);

    private final AtomicLong queuedBytes = new AtomicLong();
    private final AtomicLong maxQueuedBytes = new AtomicLong();
    private volatile long writeLimit;
    /** Set by whoever made the stream unwritable; cleared (with a callback) when it drains. */
    private final AtomicBoolean unwritable = new AtomicBoolean();
    private volatile long bytesSent;
    private volatile long bytesReceived;

    SpdyStream(SpdySession session, int id, byte priority, int sendWindow, int recvWindow) {
        this.session = session;
        this.id = id;
        this.priority = priority;
        this.local = session.config().role().isLocal(id);
        this.sendWindow = sendWindow;
        this.recv = new ReceiveWindow(recvWindow);
        this.writeLimit = session.writeLimit(sendWindow);
        // Each side's opening header block is the SYN_STREAM that created the stream.
        this.headersSent = local;
        this.headersReceived = !local;
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
        session.execute(() -> session.send.sendHeaders(this, headers, endOfStream));
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
                session.send.refuseData(this, data);
            } else {
                session.send.sendData(this, data, endOfStream);
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
            session.execute(() -> session.receive.consume(this, bytes));
        }
    }

    /** Ends the stream at once with RST_STREAM; queued data is dropped. */
    public void reset(SpdyError error) {
        session.execute(() -> session.streams.reset(this, error, "reset by application"));
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

    // ---- loop-confined: how the session's parts ask the stream to change ----

    SpdyStreamListener listener() {
        return listener;
    }

    void attach(SpdyStreamListener listener) {
        this.listener = listener;
    }

    // Lifecycle (SPDY/3 section 2.3)

    boolean canSendLocal() {
        return state == State.OPEN || state == State.HALF_CLOSED_REMOTE;
    }

    boolean canReceiveRemote() {
        return state == State.OPEN || state == State.HALF_CLOSED_LOCAL;
    }

    /** True while more may be queued to send: not closed our way, and no FIN queued yet. */
    boolean acceptsOutbound() {
        return canSendLocal() && !endQueued;
    }

    /** Our FIN went out (or is decided). True when the stream is now closed both ways: remove it. */
    boolean localEnded() {
        endQueued = true;
        if (state == State.OPEN) {
            state = State.HALF_CLOSED_LOCAL;
            return false;
        }
        return state == State.HALF_CLOSED_REMOTE;
    }

    /** The peer's FIN was delivered. True when the stream is now closed both ways: remove it. */
    boolean remoteEnded() {
        remoteFin = true;
        if (state == State.OPEN) {
            state = State.HALF_CLOSED_REMOTE;
            return false;
        }
        return state == State.HALF_CLOSED_LOCAL;
    }

    void markClosed() {
        state = State.CLOSED;
    }

    // Header blocks

    /** A stream the peer opened, whose SYN_REPLY has not gone out yet. */
    boolean replyPending() {
        return !headersSent;
    }

    void replySent() {
        headersSent = true;
    }

    /** A stream we opened, whose SYN_REPLY has not arrived yet: only a SYN_REPLY or RST may come. */
    boolean awaitingReply() {
        return local && !headersReceived;
    }

    void replyReceived() {
        headersReceived = true;
    }

    /** Nobody answered yet: resetting it now is what a rapid reset does (CVE-2023-44487). */
    boolean isUnanswered() {
        return local ? !headersReceived : !headersSent;
    }

    /** A header block from the peer is being delivered; {@code fin} ends the peer's side. */
    void receivedHeaders(boolean fin) {
        remoteFin = fin;
    }

    // Send queue and window (the session's SendFlow)

    /** Appends a header block or a ByteBuf (owned by the queue from now) to send in turn. */
    void enqueue(Object payload, boolean endOfStream) {
        endQueued = endOfStream;
        queue.add(new Pending(payload, endOfStream));
    }

    Pending peekQueued() {
        return queue.peek();
    }

    /** The head of the queue was sent whole. */
    void dropQueuedHead() {
        queue.poll();
    }

    boolean hasQueued() {
        return !queue.isEmpty();
    }

    /** True when the stream was idle and is now waiting in the write scheduler. */
    boolean markReady() {
        if (scheduling == Scheduling.IDLE) {
            scheduling = Scheduling.READY;
            return true;
        }
        return false;
    }

    /** Taken off the scheduler (or off the session-blocked queue). */
    void markIdle() {
        scheduling = Scheduling.IDLE;
    }

    /** Has stream window but waits for the session's (or the legacy allowance). */
    void markSessionBlocked() {
        scheduling = Scheduling.SESSION_BLOCKED;
    }

    int sendWindow() {
        return sendWindow;
    }

    /** {@code n} bytes went out as DATA: they leave the queue and the window. */
    void dataSent(int n, WindowOverrun overrun) {
        overrun.moved(sendWindow, sendWindow - n);
        sendWindow -= n;
        bytesSent += n;
        dequeued(n);
        windowChanged();
        notifyWritability();
    }

    /**
     * The peer moved our window by {@code delta} (WINDOW_UPDATE, or a new initial window by
     * SETTINGS). False, and unchanged, when it would pass 2^31-1 (SPDY/3 section 2.6.8).
     */
    boolean moveSendWindow(int delta, WindowOverrun overrun) {
        long w = (long) sendWindow + delta;
        if (w > Integer.MAX_VALUE) {
            return false;
        }
        overrun.moved(sendWindow, (int) w);
        sendWindow = (int) w;
        windowChanged();
        return true;
    }

    // Receive side (its window state is a ReceiveWindow, changed by the session's ReceiveFlow)

    ReceiveWindow receiveWindow() {
        return recv;
    }

    /** DATA of {@code len} bytes, within the window, is being delivered. */
    void receivedData(int len, boolean fin, WindowOverrun overrun) {
        recv.received(len, overrun);
        bytesReceived += len;
        remoteFin = fin;
    }

    /** True while the peer may send more: window updates are still worth sending. */
    boolean expectsData() {
        return canReceiveRemote() && !remoteFin;
    }

    // Writability and the send queue's memory

    void dequeued(int bytes) {
        queuedBytes.addAndGet(-bytes);
        session.sendBudget().dequeued(bytes);
    }

    private void windowChanged() {
        writeLimit = session.writeLimit(sendWindow);
        if (!isWritable() && unwritable.compareAndSet(false, true) && state != State.CLOSED) {
            fireWritabilityChanged();
        }
    }

    /**
     * Fires the writability callback when the stream drained after being unwritable. The flag is
     * set by the producer's own {@link #sendData} (any thread), so no transition can be missed.
     */
    void notifyWritability() {
        if (state != State.CLOSED && isWritable() && unwritable.compareAndSet(true, false)) {
            fireWritabilityChanged();
        }
    }

    private void fireWritabilityChanged() {
        SpdyStreamListener l = listener;
        if (l != null) {
            try {
                l.onWritabilityChanged(this);
            } catch (Exception e) {
                session.listenerFailed(this, e);
            }
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
                + ", recvWindow=" + recv.window() + ", queued=" + queuedBytes.get() + ')';
    }
}
