package io.spdyproxy.spdy;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.spdy.DefaultSpdyGoAwayFrame;
import io.netty.handler.codec.spdy.DefaultSpdyHeadersFrame;
import io.netty.handler.codec.spdy.DefaultSpdyPingFrame;
import io.netty.handler.codec.spdy.DefaultSpdyRstStreamFrame;
import io.netty.handler.codec.spdy.DefaultSpdySettingsFrame;
import io.netty.handler.codec.spdy.DefaultSpdySynReplyFrame;
import io.netty.handler.codec.spdy.DefaultSpdySynStreamFrame;
import io.netty.handler.codec.spdy.DefaultSpdyWindowUpdateFrame;
import io.netty.handler.codec.spdy.SpdyDataFrame;
import io.netty.handler.codec.spdy.SpdyFrame;
import io.netty.handler.codec.spdy.SpdyGoAwayFrame;
import io.netty.handler.codec.spdy.SpdyHeaders;
import io.netty.handler.codec.spdy.SpdyHeadersFrame;
import io.netty.handler.codec.spdy.SpdyPingFrame;
import io.netty.handler.codec.spdy.SpdyRstStreamFrame;
import io.netty.handler.codec.spdy.SpdySessionStatus;
import io.netty.handler.codec.spdy.SpdySettingsFrame;
import io.netty.handler.codec.spdy.SpdySynReplyFrame;
import io.netty.handler.codec.spdy.SpdySynStreamFrame;
import io.netty.handler.codec.spdy.SpdyWindowUpdateFrame;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.collection.IntObjectHashMap;
import io.netty.util.concurrent.ScheduledFuture;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A SPDY/3.1 session over one connection: stream lifecycle, flow control on both levels,
 * priorities, SETTINGS, PING, GOAWAY and the abuse limits. Built on Netty's {@code SpdyFrameCodec};
 * it replaces Netty's {@code SpdySessionHandler}, which queues without bound and grants window
 * before the application consumed the data.
 *
 * <p>Threading: every field is confined to the channel's event loop, so there are no locks. Public
 * methods may be called from any thread and hop onto the loop; listeners are called on the loop.
 */
public final class SpdySession {
    private static final Logger log = LoggerFactory.getLogger(SpdySession.class);

    /** SETTINGS ids (SPDY/3 section 2.6.4). */
    private static final int SETTINGS_MAX_CONCURRENT_STREAMS = 4;
    private static final int SETTINGS_INITIAL_WINDOW_SIZE = 7;
    private static final int MAX_WINDOW = Integer.MAX_VALUE;

    /** Lifecycle: {@code ACTIVE → DRAINING → CLOSED}. */
    public enum State {
        ACTIVE,
        DRAINING,
        CLOSED
    }

    private final Channel channel;
    private final EventLoop loop;
    private final SpdySessionConfig config;
    private final SpdySessionListener listener;
    private final AbuseGuard guard;
    private final SendBudget budget;
    /** How far our send windows may run past zero (towards a legacy origin), and the peer's past ours. */
    private final WindowOverrun sendOverrun;
    private final WindowOverrun recvOverrun;
    private final RemoteStreamIds remoteIds;
    private final FirstFrameDeadline firstFrame = new FirstFrameDeadline();
    private final ReceiveWindowTuner tuner;
    private final WriteScheduler scheduler = new WriteScheduler();
    /** Our own header-frame encoder when header compression is off (the default); else Netty's. */
    private final StoredHeaderFrames storedHeaders;
    private final ArrayDeque<SpdyStream> sessionBlocked = new ArrayDeque<>();
    private final IntObjectHashMap<SpdyStream> streams = new IntObjectHashMap<>();
    private final IntObjectHashMap<PendingPing> pings = new IntObjectHashMap<>();
    private final CompletableFuture<Void> closeFuture = new CompletableFuture<>();

    private ChannelHandlerContext ctx;
    private volatile State state = State.ACTIVE;
    private int nextLocalStreamId;
    private int nextPingId;
    private int silentPingId = -1;
    private long silentPingNanos;
    private int localActive;
    private int remoteActive;
    private int peerInitialWindow = SpdySessionConfig.DEFAULT_WINDOW;
    private int peerMaxConcurrentStreams = Integer.MAX_VALUE;
    private int sessionSendWindow = SpdySessionConfig.DEFAULT_WINDOW;
    private int sessionRecvWindow = SpdySessionConfig.DEFAULT_WINDOW;
    private int sessionUnacked;
    private boolean goAwaySent;
    private boolean goAwayReceived;
    private boolean streamIdsLowSignalled;
    private boolean inRead;
    private boolean flushNeeded;
    private boolean flushScheduled;
    private boolean writing;
    private boolean started;
    /** Set once the session decided to close: frames still in the read buffer are ignored. */
    private boolean closing;
    private Throwable closeCause;
    private ScheduledFuture<?> keepalive;
    private ScheduledFuture<?> drainDeadline;
    private int framesSinceKeepalive;
    private int missedPings;

    private volatile long framesSent;
    private volatile long framesReceived;
    private volatile long dataBytesSent;
    private volatile long dataBytesReceived;
    private volatile long streamsOpened;
    private volatile int activeStreamCount;

    private record PendingPing(long startNanos, CompletableFuture<Duration> future) {}

    private SpdySession(Channel channel, SpdySessionConfig config, SpdySessionListener listener) {
        this.channel = channel;
        this.loop = channel.eventLoop();
        this.config = config;
        this.listener = listener;
        this.guard = new AbuseGuard(config);
        this.budget = new SendBudget(channel, config.maxSessionQueuedBytes());
        this.sendOverrun = config.newSendOverrun();
        this.recvOverrun = config.newReceiveOverrun();
        this.remoteIds = new RemoteStreamIds(config.legacyPeer());
        this.tuner = new ReceiveWindowTuner(config);
        this.storedHeaders = config.compressHeaders() ? null : new StoredHeaderFrames();
        this.nextLocalStreamId = config.role().firstLocalStreamId();
        this.nextPingId = config.role().firstLocalStreamId();
        this.sessionRecvWindow = config.sessionFlowControl()
                ? config.sessionWindow() : SpdySessionConfig.DEFAULT_WINDOW;
    }

    /**
     * Turns {@code channel} (connected, and past any TLS or HTTP handshake) into a SPDY session by
     * adding the frame codec and the session handler at the end of its pipeline. SETTINGS are sent
     * at once.
     */
    public static SpdySession install(Channel channel, SpdySessionConfig config,
            SpdySessionListener listener) {
        SpdySession session = new SpdySession(channel, config, listener);
        WriteBufferWaterMark marks = channel.config().getWriteBufferWaterMark();
        if (marks.high() < 512 * 1024) {
            channel.config().setWriteBufferWaterMark(new WriteBufferWaterMark(256 * 1024, 512 * 1024));
        }
        channel.pipeline().addLast("spdy-codec", new SpdyCodec(config));
        channel.pipeline().addLast("spdy-session", new SessionHandler(session));
        // A channel that closes without ever becoming active fires no channelInactive: make sure
        // its streams and pings still fail.
        channel.closeFuture().addListener(f -> session.loop.execute(session::channelInactive));
        return session;
    }

    public SpdySessionConfig config() {
        return config;
    }

    public Channel channel() {
        return channel;
    }

    public State state() {
        return state;
    }

    /** Completes when the connection is closed. */
    public CompletableFuture<Void> closeFuture() {
        return closeFuture;
    }

    /** A snapshot of the session's counters (approximate when read off the event loop). */
    public SpdySessionStats stats() {
        return new SpdySessionStats(framesSent, framesReceived, dataBytesSent, dataBytesReceived,
                streamsOpened, activeStreamCount, budget.queuedBytes(), budget.maxQueuedBytes());
    }

    /** Stream ids this side can still open; rotate to a new session before they run out. */
    public long remainingStreamIds() {
        long next = nextLocalStreamId & 0xFFFFFFFFL;
        return next > Integer.MAX_VALUE ? 0 : (Integer.MAX_VALUE - next) / 2 + 1;
    }

    /** True while new streams may be opened here (ACTIVE, ids left, peer not gone away). */
    public boolean isAcceptingStreams() {
        return state == State.ACTIVE && remainingStreamIds() > 0;
    }

    /**
     * Opens a stream with a SYN_STREAM. Fails with a retryable {@link SpdyStreamException} when the
     * session is draining, out of stream ids, or at the peer's concurrent-stream limit.
     */
    public CompletableFuture<SpdyStream> newStream(SpdyHeaders headers, int priority,
            boolean endOfStream, SpdyStreamListener streamListener) {
        if (priority < 0 || priority > 7) {
            throw new IllegalArgumentException("priority: " + priority + " (expected: 0..7)");
        }
        java.util.Objects.requireNonNull(headers, "headers");
        java.util.Objects.requireNonNull(streamListener, "streamListener");
        CompletableFuture<SpdyStream> result = new CompletableFuture<>();
        boolean accepted = execute(() -> {
            try {
                openStream(headers, (byte) priority, endOfStream, streamListener, result);
            } catch (RuntimeException e) {
                result.completeExceptionally(e);
                throw e;
            }
        });
        if (!accepted) {
            result.completeExceptionally(closedException());
        }
        return result;
    }

    /** Sends a PING; the future completes with the round-trip time. */
    public CompletableFuture<Duration> ping() {
        CompletableFuture<Duration> result = new CompletableFuture<>();
        boolean accepted = execute(() -> {
            if (state == State.CLOSED) {
                result.completeExceptionally(closedException());
                return;
            }
            int id = nextPingId;
            nextPingId += 2;
            pings.put(id, new PendingPing(System.nanoTime(), result));
            writeControl(new DefaultSpdyPingFrame(id));
        });
        if (!accepted) {
            result.completeExceptionally(closedException());
        }
        return result;
    }

    /**
     * Graceful close: GOAWAY (not to a legacy peer), no new streams, existing ones may finish
     * until {@code deadline}, then the connection closes. Returns the close future.
     */
    public CompletableFuture<Void> shutdownGracefully(Duration deadline) {
        execute(() -> {
            if (state == State.CLOSED) {
                return;
            }
            sendGoAway(SpdySessionStatus.OK);
            state = State.DRAINING;
            if (streams.isEmpty()) {
                closeChannel(null);
            } else if (drainDeadline == null) {
                drainDeadline = loop.schedule(() -> closeChannel(null), deadline.toNanos(),
                        TimeUnit.NANOSECONDS);
            }
        });
        return closeFuture;
    }

    /** Closes the connection at once; open streams fail with {@link SpdyError#SESSION_CLOSED}. */
    public CompletableFuture<Void> close() {
        execute(() -> closeChannel(null));
        return closeFuture;
    }

    // ------------------------------------------------------------------------------------------
    // Outbound (called on the loop)

    /**
     * Runs {@code task} on the loop (at once when already there). False when the loop no longer
     * takes tasks (shut down, so the session is gone): the caller releases what the task owned.
     */
    boolean execute(Runnable task) {
        if (loop.inEventLoop()) {
            runTask(task);
            return true;
        }
        try {
            loop.execute(() -> runTask(task));
            return true;
        } catch (java.util.concurrent.RejectedExecutionException e) {
            return false;
        }
    }

    /**
     * Runs an application's request on the loop. None of them throws by design (bad input fails
     * its stream or future), so an exception here is a bug whose state we cannot trust: it ends the
     * session instead of escaping into the event loop.
     */
    private void runTask(Runnable task) {
        try {
            task.run();
        } catch (Exception e) {
            log.error("session task failed on {}; closing the session", channel, e);
            sessionError(SpdyError.INTERNAL_ERROR, "internal error: " + e);
        }
        flushSoon();
    }

    private void openStream(SpdyHeaders headers, byte priority, boolean endOfStream,
            SpdyStreamListener streamListener, CompletableFuture<SpdyStream> result) {
        if (state != State.ACTIVE) {
            result.completeExceptionally(new SpdyStreamException(SpdyError.REFUSED_STREAM, true, true,
                    "session is " + state + (goAwayReceived ? " (peer sent GOAWAY)" : "")));
            return;
        }
        if (remainingStreamIds() == 0) {
            result.completeExceptionally(new SpdyStreamException(SpdyError.REFUSED_STREAM, true, true,
                    "stream ids exhausted"));
            return;
        }
        String bad = HeaderLimits.invalid(headers, config.maxHeaderBlockSize());
        if (bad != null) {
            result.completeExceptionally(new IllegalArgumentException(bad));
            return;
        }
        if (localActive >= peerMaxConcurrentStreams) {
            result.completeExceptionally(new SpdyStreamException(SpdyError.REFUSED_STREAM, true, true,
                    "peer's MAX_CONCURRENT_STREAMS reached: " + peerMaxConcurrentStreams));
            return;
        }
        int id = nextLocalStreamId;
        nextLocalStreamId += 2;
        SpdyStream stream = new SpdyStream(this, id, priority, initialSendWindow(),
                config.effectiveStreamWindow());
        stream.attach(streamListener);
        streams.put(id, stream);
        localActive++;
        activeStreamCount = streams.size();
        streamsOpened++;
        write(storedHeaders != null ? storedHeaders.synStream(ctx.alloc(), id, priority, endOfStream, headers)
                : withHeaders(new DefaultSpdySynStreamFrame(id, 0, priority, false), headers, endOfStream));
        if (endOfStream) {
            stream.localEnded(); // from OPEN: half-closed, never closed
        }
        if (!streamIdsLowSignalled && remainingStreamIds() < config.streamIdsLowWatermark()) {
            streamIdsLowSignalled = true;
            try {
                listener.onStreamIdsLow(this);
            } catch (Exception e) {
                log.warn("onStreamIdsLow listener failed", e);
            }
        }
        result.complete(stream);
    }

    /**
     * The send window of a new stream. A legacy origin never grants window for request bodies
     * (PROTOCOL.md): towards it the window may run past zero as {@link #sendOverrun} allows.
     */
    private int initialSendWindow() {
        return peerInitialWindow;
    }

    SendBudget sendBudget() {
        return budget;
    }

    /** A stream's queue bound: its send window (plus any legacy allowance), at most the per-stream cap. */
    long writeLimit(int sendWindow) {
        return Math.max(1, Math.min(sendOverrun.ownRoom(sendWindow), config.maxStreamQueuedBytes()));
    }

    /** A producer went past the session's hard limit: its chunk is dropped and its stream reset. */
    void refuseData(SpdyStream stream, ByteBuf data) {
        stream.dequeued(data.readableBytes());
        data.release();
        resetStream(stream, SpdyError.INTERNAL_ERROR, "send queue over the session's hard limit of "
                + budget.hardLimit() + " bytes: the producer ignored isWritable()");
        budget.wakeIfOpen();
    }

    void sendHeaders(SpdyStream stream, SpdyHeaders headers, boolean endOfStream) {
        if (!stream.acceptsOutbound()) {
            return; // reset or already ended: nothing to say any more
        }
        String bad = HeaderLimits.invalid(headers, config.maxHeaderBlockSize());
        if (bad != null) {
            log.warn("stream {}: {}", stream.id(), bad);
            resetStream(stream, SpdyError.INTERNAL_ERROR, bad);
            return;
        }
        if (stream.replyPending()) {
            // The reply to a stream the peer opened (SPDY/3 section 2.6.2).
            stream.replySent();
            write(storedHeaders != null ? storedHeaders.synReply(ctx.alloc(), stream.id(), endOfStream, headers)
                    : withHeaders(new DefaultSpdySynReplyFrame(stream.id(), false), headers, endOfStream));
            if (endOfStream) {
                localEnded(stream);
            }
            return;
        }
        if (config.legacyPeer()) {
            // The original library panics on HEADERS: trailers are dropped, the end is kept.
            if (endOfStream) {
                sendData(stream, channel.alloc().buffer(0), true);
            }
            return;
        }
        stream.enqueue(headers, endOfStream);
        schedule(stream);
        writePending();
    }

    void sendData(SpdyStream stream, ByteBuf data, boolean endOfStream) {
        if (!stream.acceptsOutbound()) {
            stream.dequeued(data.readableBytes());
            data.release();
            budget.wakeIfOpen();
            return;
        }
        if (stream.replyPending()) {
            stream.dequeued(data.readableBytes());
            data.release();
            resetStream(stream, SpdyError.INTERNAL_ERROR, "data sent before the reply headers");
            budget.wakeIfOpen();
            return;
        }
        stream.enqueue(data, endOfStream);
        schedule(stream);
        writePending();
        budget.wakeIfOpen();
    }

    private void schedule(SpdyStream stream) {
        if (stream.markReady()) {
            scheduler.add(stream);
        }
    }

    /**
     * Moves queued stream data to the connection while it is writable: one frame per turn, by
     * priority, within min(stream, session) window. Never flushes; the caller's batch does.
     */
    void writePending() {
        if (writing || ctx == null) {
            return;
        }
        writing = true;
        try {
            SpdyStream s;
            while (channel.isWritable() && (s = scheduler.poll()) != null) {
                s.markIdle();
                if (!s.canSendLocal()) {
                    continue;
                }
                SpdyStream.Pending head = s.peekQueued();
                if (head == null) {
                    continue;
                }
                if (head.payload() instanceof SpdyHeaders h) {
                    s.dropQueuedHead();
                    write(storedHeaders != null ? storedHeaders.headers(ctx.alloc(), s.id(), head.endOfStream(), h)
                            : withHeaders(new DefaultSpdyHeadersFrame(s.id(), false), h, head.endOfStream()));
                    if (head.endOfStream()) {
                        localEnded(s);
                        continue;
                    }
                } else {
                    ByteBuf data = (ByteBuf) head.payload();
                    int len = data.readableBytes();
                    int window = (int) Math.min(sendOverrun.room(s.sendWindow()),
                            config.sessionFlowControl() ? sessionSendWindow : MAX_WINDOW);
                    if (len > 0 && window <= 0) {
                        if (sendOverrun.ownRoom(s.sendWindow()) > 0) {
                            // The stream has window, the session (or the legacy allowance) not.
                            s.markSessionBlocked();
                            sessionBlocked.add(s);
                        }
                        continue; // else parked until the stream's WINDOW_UPDATE
                    }
                    // An empty frame (a bare FIN) uses no window and goes out even when it is negative.
                    int n = len == 0 ? 0 : Math.min(len, Math.min(window, config.maxFrameSize()));
                    boolean last = n == len;
                    ByteBuf payload = last ? data : data.readRetainedSlice(n);
                    if (last) {
                        s.dropQueuedHead();
                    }
                    boolean fin = last && head.endOfStream();
                    writeDataFrame(s.id(), payload, fin);
                    sessionSendWindow -= n;
                    dataBytesSent += n;
                    s.dataSent(n, sendOverrun);
                    if (fin) {
                        localEnded(s);
                        continue;
                    }
                }
                if (s.hasQueued() && s.canSendLocal()) {
                    schedule(s);
                }
            }
        } finally {
            writing = false;
        }
        budget.wakeIfOpen();
    }

    private void writeDataFrame(int streamId, ByteBuf payload, boolean fin) {
        // SPDY/3 section 2.2.2: stream id (31 bits), flags, 24-bit length, then the payload as is.
        ByteBuf header = ctx.alloc().ioBuffer(8);
        header.writeInt(streamId & 0x7FFFFFFF);
        header.writeByte(fin ? 0x01 : 0x00);
        header.writeMedium(payload.readableBytes());
        ctx.write(header, ctx.voidPromise());
        ctx.write(payload, ctx.voidPromise());
        framesSent++;
        flushNeeded = true;
    }

    private void localEnded(SpdyStream s) {
        if (s.localEnded()) {
            removeStream(s, null);
        }
    }

    private void remoteEnded(SpdyStream s) {
        if (s.remoteEnded()) {
            removeStream(s, null);
        }
    }

    void consume(SpdyStream stream, int bytes) {
        if (state == State.CLOSED) {
            return;
        }
        if (stream == null || stream.consumed(bytes)) {
            sessionConsumed(bytes);
        }
        if (stream != null) {
            int due = stream.windowCreditDue(bytes);
            if (due > 0) {
                int credit = due + tuner.growth(stream);
                stream.windowGranted(credit, recvOverrun);
                write(new DefaultSpdyWindowUpdateFrame(stream.id(), credit));
            }
        }
    }

    private void sessionConsumed(long bytes) {
        if (!config.sessionFlowControl() || bytes <= 0) {
            return;
        }
        sessionUnacked += (int) bytes;
        if (sessionUnacked >= config.sessionWindow() / 2) {
            sessionRecvWindow += sessionUnacked;
            write(new DefaultSpdyWindowUpdateFrame(0, sessionUnacked));
            sessionUnacked = 0;
        }
    }

    void resetStream(SpdyStream stream, SpdyError error, String why) {
        if (stream.isClosed()) {
            return;
        }
        writeRst(stream.id(), error);
        removeStream(stream, new SpdyStreamException(error, false, true, why));
    }

    private void writeRst(int streamId, SpdyError error) {
        writeControl(new DefaultSpdyRstStreamFrame(streamId, error.rstStatus()));
    }

    /** Writes a frame the peer provoked, counted against the control-frame flood limit. */
    private void writeControl(SpdyFrame frame) {
        if (ctx == null || state == State.CLOSED) {
            return;
        }
        String flood = guard.onControlFrameQueued();
        if (flood != null) {
            guard.onControlFrameWritten();
            sessionError(SpdyError.PROTOCOL_ERROR, flood);
            return;
        }
        ctx.write(frame).addListener(f -> guard.onControlFrameWritten());
        framesSent++;
        flushNeeded = true;
    }

    /** {@code frame} carrying {@code headers}, for Netty's encoder (header compression on). */
    private static SpdyHeadersFrame withHeaders(SpdyHeadersFrame frame, SpdyHeaders headers, boolean last) {
        frame.headers().set(headers);
        frame.setLast(last);
        return frame;
    }

    /** A frame for Netty's encoder, or one we encoded ourselves (a ByteBuf passes through). */
    private void write(Object frame) {
        ctx.write(frame, ctx.voidPromise());
        framesSent++;
        flushNeeded = true;
    }

    private void sendGoAway(SpdySessionStatus status) {
        if (goAwaySent || config.legacyPeer() || ctx == null) {
            return;
        }
        goAwaySent = true;
        write(new DefaultSpdyGoAwayFrame(remoteIds.highest(), status));
    }

    /** Flushes once per batch: at the end of a read, or once per round of loop tasks. */
    private void flushSoon() {
        if (!flushNeeded || inRead || flushScheduled || ctx == null) {
            return;
        }
        flushScheduled = true;
        loop.execute(this::flushNow);
    }

    private void flushNow() {
        flushScheduled = false;
        if (flushNeeded && ctx != null) {
            flushNeeded = false;
            ctx.flush();
        }
    }

    private void removeStream(SpdyStream s, SpdyStreamException cause) {
        if (s.isClosed() && !streams.containsKey(s.id())) {
            return;
        }
        s.markClosed();
        if (streams.remove(s.id()) != null) {
            if (s.isLocal()) {
                localActive--;
            } else {
                remoteActive--;
            }
            recvOverrun.released(s.recvWindow());
            if (sendOverrun.released(s.sendWindow()) && !sessionBlocked.isEmpty()) {
                unblockSessionBlocked(); // its legacy allowance is free for the others
                writePending();
            }
        }
        budget.forget(s);
        activeStreamCount = streams.size();
        tuner.released(s);
        s.releaseQueue();
        budget.wakeIfOpen();
        // Bytes delivered but never consumed would shrink the session window for good if the
        // application forgets them once the stream is gone: return them now, and ignore later
        // consume() calls for this stream at the session level.
        long owed = s.returnSessionCredit();
        if (state != State.CLOSED) {
            sessionConsumed(owed);
        }
        SpdyStreamListener l = s.listener();
        if (l != null) {
            try {
                l.onClosed(s, cause);
            } catch (Exception e) {
                log.warn("stream {} onClosed listener failed", s.id(), e);
            }
        }
        if (state == State.DRAINING && streams.isEmpty()) {
            closeChannel(null);
        }
    }

    void listenerFailed(SpdyStream s, Exception e) {
        log.warn("stream {} listener failed; resetting it", s.id(), e);
        resetStream(s, SpdyError.INTERNAL_ERROR, "listener failed: " + e);
    }

    /** Ends the whole session: GOAWAY with the status (never to a legacy peer), then close. */
    void sessionError(SpdyError error, String why) {
        if (state == State.CLOSED) {
            return;
        }
        log.warn("session error {} on {}: {}", error, channel, why);
        sendGoAway(error.goAwayStatus());
        closeChannel(new SpdySessionException(error, why));
    }

    private void closeChannel(Throwable cause) {
        closing = true;
        if (closeCause == null) {
            closeCause = cause;
        }
        if (ctx != null) {
            ctx.flush();
        }
        channel.close();
    }

    private SpdyStreamException closedException() {
        String why = closeCause == null ? "session closed" : "session closed: " + closeCause.getMessage();
        return new SpdyStreamException(SpdyError.SESSION_CLOSED, false, false, why);
    }

    // ------------------------------------------------------------------------------------------
    // Inbound (called by SessionHandler on the loop)

    void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        if (channel.isActive()) {
            start();
        }
    }

    void start() {
        if (started) {
            return; // installed on an active channel: handlerAdded started it, channelActive may follow
        }
        started = true;
        DefaultSpdySettingsFrame settings = new DefaultSpdySettingsFrame();
        settings.setValue(SETTINGS_MAX_CONCURRENT_STREAMS, config.maxConcurrentStreams());
        settings.setValue(SETTINGS_INITIAL_WINDOW_SIZE, config.effectiveStreamWindow());
        write(settings);
        if (config.sessionFlowControl() && config.sessionWindow() > SpdySessionConfig.DEFAULT_WINDOW) {
            write(new DefaultSpdyWindowUpdateFrame(0,
                    config.sessionWindow() - SpdySessionConfig.DEFAULT_WINDOW));
        }
        if (!config.legacyPeer()) {
            firstFrame.start(loop, config.firstFrameTimeout(), () -> sessionError(SpdyError.PROTOCOL_ERROR,
                    "no frame from the peer within " + config.firstFrameTimeout() + " of the session's start"));
        }
        if (!config.pingInterval().isZero()) {
            long nanos = config.pingInterval().toNanos();
            keepalive = loop.scheduleAtFixedRate(this::keepaliveTick, nanos, nanos, TimeUnit.NANOSECONDS);
        }
        ctx.flush();
        flushNeeded = false;
    }

    private void keepaliveTick() {
        if (state == State.CLOSED) {
            return;
        }
        if (framesSinceKeepalive == 0) {
            missedPings++;
            if (missedPings >= config.maxMissedPings()) {
                log.warn("keepalive: no frame from peer in {} intervals of {}; closing {}",
                        missedPings, config.pingInterval(), channel);
                closeChannel(new SpdySessionException(SpdyError.SESSION_CLOSED,
                        "keepalive: peer silent for " + missedPings + " ping intervals"));
                return;
            }
        } else {
            missedPings = 0;
        }
        framesSinceKeepalive = 0;
        silentPing();
        flushSoon();
    }

    /** A keepalive PING, whose answer feeds the RTT estimate. */
    private void silentPing() {
        silentPingId = nextPingId;
        silentPingNanos = System.nanoTime();
        nextPingId += 2;
        write(new DefaultSpdyPingFrame(silentPingId));
    }

    void readStarted() {
        inRead = true;
    }

    void readComplete() {
        inRead = false;
        writePending();
        flushNow();
    }

    void writabilityChanged() {
        if (channel.isWritable()) {
            writePending(); // which wakes producers that found the session unwritable
            flushSoon();
        }
    }

    void frameRead(Object msg) {
        framesReceived++;
        framesSinceKeepalive++;
        firstFrame.frameReceived();
        if (state == State.CLOSED || closing) {
            ReferenceCountUtil.release(msg);
            return;
        }
        if (msg instanceof SpdyDataFrame f) {
            onData(f);
        } else if (msg instanceof SpdySynStreamFrame f) {
            onSynStream(f);
        } else if (msg instanceof SpdySynReplyFrame f) {
            onSynReply(f);
        } else if (msg instanceof SpdyHeadersFrame f) {
            onHeadersFrame(f);
        } else if (msg instanceof SpdyRstStreamFrame f) {
            onRst(f);
        } else if (msg instanceof SpdySettingsFrame f) {
            onSettings(f);
        } else if (msg instanceof SpdyPingFrame f) {
            onPing(f);
        } else if (msg instanceof SpdyGoAwayFrame f) {
            onGoAway(f);
        } else if (msg instanceof SpdyWindowUpdateFrame f) {
            onWindowUpdate(f);
        } else {
            ReferenceCountUtil.release(msg);
        }
    }

    private void onData(SpdyDataFrame f) {
        int id = f.streamId();
        ByteBuf data = f.content();
        int len = data.readableBytes();
        boolean fin = f.isLast();
        dataBytesReceived += len;
        String abuse = guard.onDataFrame(len, fin);
        if (abuse != null) {
            data.release();
            sessionError(SpdyError.PROTOCOL_ERROR, abuse);
            return;
        }
        if (config.sessionFlowControl()) {
            sessionRecvWindow -= len;
            if (sessionRecvWindow < 0) {
                data.release();
                sessionError(SpdyError.FLOW_CONTROL_ERROR, "session window exceeded by "
                        + (-sessionRecvWindow) + " bytes");
                return;
            }
        }
        SpdyStream s = streams.get(id);
        if (s == null) {
            data.release();
            consume(null, len); // never delivered, so credit the session window at once
            if (!isKnownStreamId(id)) {
                writeRst(id, SpdyError.INVALID_STREAM);
            }
            return; // a stream we closed or reset: frames in flight are dropped quietly
        }
        if (!s.canReceiveRemote()) {
            data.release();
            consume(null, len);
            resetStream(s, SpdyError.STREAM_ALREADY_CLOSED, "DATA after the peer's FIN");
            return;
        }
        if (s.awaitingReply()) {
            data.release();
            consume(null, len);
            resetStream(s, SpdyError.PROTOCOL_ERROR, "DATA before SYN_REPLY");
            return;
        }
        if (len > recvOverrun.room(s.recvWindow())) {
            data.release();
            consume(null, len);
            resetStream(s, SpdyError.FLOW_CONTROL_ERROR, len > recvOverrun.ownRoom(s.recvWindow())
                    ? "stream window exceeded by " + (len - (long) s.recvWindow()) + " bytes"
                    : "legacy allowance of the session used up: " + recvOverrun.total() + " bytes past the windows");
            return;
        }
        s.receivedData(len, fin, recvOverrun);
        try {
            s.listener().onData(s, data, fin);
        } catch (Exception e) {
            listenerFailed(s, e);
            return;
        }
        if (fin) {
            remoteEnded(s);
        }
    }

    /** True when {@code id} belongs to a stream that existed at some point. */
    private boolean isKnownStreamId(int id) {
        if (config.role().isLocal(id)) {
            return Integer.compareUnsigned(id, nextLocalStreamId) < 0; // the counter wraps past 2^31-1
        }
        return id <= remoteIds.highest(); // below it and unseen (legacy ids out of order): quietly dropped too
    }

    private void onSynStream(SpdySynStreamFrame f) {
        int id = f.streamId();
        if (config.role().isLocal(id)) {
            writeRst(id, SpdyError.PROTOCOL_ERROR);
            return;
        }
        SpdyStream existing = streams.get(id);
        if (existing != null) {
            resetStream(existing, SpdyError.PROTOCOL_ERROR, "duplicate SYN_STREAM");
            return;
        }
        int highest = remoteIds.highest();
        switch (remoteIds.open(id)) {
            case NEW -> { }
            case NOT_ABOVE_LAST -> {
                sessionError(SpdyError.PROTOCOL_ERROR, "SYN_STREAM id " + id + " not above last id " + highest);
                return;
            }
            case REUSED, TOO_OLD -> {
                // A legacy peer's out-of-order id that is not new: only this stream is refused.
                writeRst(id, SpdyError.PROTOCOL_ERROR);
                return;
            }
        }
        if (f.isInvalid() || f.isTruncated()) {
            writeRst(id, SpdyError.PROTOCOL_ERROR);
            return;
        }
        if (f.headers().names().size() > config.maxHeaderCount()) {
            writeRst(id, SpdyError.PROTOCOL_ERROR);
            return;
        }
        if (state != State.ACTIVE || remoteActive >= config.maxConcurrentStreams()) {
            writeRst(id, SpdyError.REFUSED_STREAM);
            return;
        }
        SpdyStream s = new SpdyStream(this, id, f.priority(), initialSendWindow(),
                config.effectiveStreamWindow());
        streams.put(id, s);
        remoteActive++;
        activeStreamCount = streams.size();
        streamsOpened++;
        SpdyStreamListener l;
        try {
            l = listener.onStream(s, f.headers());
        } catch (Exception e) {
            log.warn("onStream listener failed", e);
            l = null;
        }
        if (l == null) {
            resetStream(s, SpdyError.REFUSED_STREAM, "refused by the application");
            return;
        }
        s.attach(l);
        boolean fin = f.isLast();
        if (fin) {
            s.remoteEnded(); // from OPEN: half-closed, never closed
        }
        try {
            l.onHeaders(s, f.headers(), fin);
        } catch (Exception e) {
            listenerFailed(s, e);
        }
    }

    private void onSynReply(SpdySynReplyFrame f) {
        int id = f.streamId();
        SpdyStream s = streams.get(id);
        if (s == null) {
            if (!isKnownStreamId(id)) {
                writeRst(id, SpdyError.INVALID_STREAM);
            }
            return;
        }
        if (!s.isLocal()) {
            resetStream(s, SpdyError.PROTOCOL_ERROR, "SYN_REPLY on a stream the peer opened");
            return;
        }
        if (!s.awaitingReply()) {
            resetStream(s, SpdyError.STREAM_IN_USE, "second SYN_REPLY");
            return;
        }
        if (!s.canReceiveRemote()) {
            resetStream(s, SpdyError.STREAM_ALREADY_CLOSED, "SYN_REPLY after the peer's FIN");
            return;
        }
        if (f.isInvalid() || f.isTruncated() || f.headers().names().size() > config.maxHeaderCount()) {
            resetStream(s, SpdyError.PROTOCOL_ERROR, "invalid or oversized reply headers");
            return;
        }
        s.replyReceived();
        deliverHeaders(s, f.headers(), f.isLast());
    }

    private void onHeadersFrame(SpdyHeadersFrame f) {
        int id = f.streamId();
        SpdyStream s = streams.get(id);
        if (s == null) {
            if (!isKnownStreamId(id)) {
                writeRst(id, SpdyError.INVALID_STREAM);
            }
            return;
        }
        if (!s.canReceiveRemote()) {
            resetStream(s, SpdyError.STREAM_ALREADY_CLOSED, "HEADERS after the peer's FIN");
            return;
        }
        if (s.awaitingReply()) {
            resetStream(s, SpdyError.PROTOCOL_ERROR, "HEADERS before SYN_REPLY");
            return;
        }
        if (f.isInvalid() || f.isTruncated() || f.headers().names().size() > config.maxHeaderCount()) {
            resetStream(s, SpdyError.PROTOCOL_ERROR, "invalid or oversized headers");
            return;
        }
        deliverHeaders(s, f.headers(), f.isLast());
    }

    private void deliverHeaders(SpdyStream s, SpdyHeaders headers, boolean fin) {
        s.receivedHeaders(fin);
        try {
            s.listener().onHeaders(s, headers, fin);
        } catch (Exception e) {
            listenerFailed(s, e);
            return;
        }
        if (fin) {
            remoteEnded(s);
        }
    }

    /** Never answered with a frame of ours, whatever stream it names (SPDY/3 section 2.4.2). */
    private void onRst(SpdyRstStreamFrame f) {
        SpdyStream s = streams.get(f.streamId());
        // Rapid reset is resetting a stream before its answer started; anything else is cheap.
        boolean unanswered = s != null && s.isUnanswered();
        String abuse = unanswered ? guard.onLiveReset(framesSent) : guard.onStaleReset(framesSent);
        if (abuse != null) {
            sessionError(SpdyError.PROTOCOL_ERROR, abuse);
            return;
        }
        if (s == null) {
            return;
        }
        SpdyError error = SpdyError.ofRstCode(f.status().code());
        boolean retryable = error == SpdyError.REFUSED_STREAM && s.awaitingReply();
        removeStream(s, new SpdyStreamException(error, retryable, false,
                "stream reset by peer: " + f.status()));
    }

    private void onSettings(SpdySettingsFrame f) {
        if (f.isSet(SETTINGS_MAX_CONCURRENT_STREAMS)) {
            peerMaxConcurrentStreams = Math.max(0, f.getValue(SETTINGS_MAX_CONCURRENT_STREAMS));
        }
        if (f.isSet(SETTINGS_INITIAL_WINDOW_SIZE)) {
            int value = f.getValue(SETTINGS_INITIAL_WINDOW_SIZE);
            if (value < 0) {
                sessionError(SpdyError.PROTOCOL_ERROR, "INITIAL_WINDOW_SIZE " + value);
                return;
            }
            int delta = value - peerInitialWindow;
            peerInitialWindow = value;
            if (delta != 0) {
                // SPDY/3 section 2.6.8: every open stream's window moves by the delta, and may go
                // negative; a stream then waits until WINDOW_UPDATEs bring it above zero.
                for (SpdyStream s : new ArrayList<>(streams.values())) {
                    if (!s.moveSendWindow(delta, sendOverrun)) {
                        resetStream(s, SpdyError.FLOW_CONTROL_ERROR, "window overflow by SETTINGS");
                        continue;
                    }
                    if (delta > 0 && s.hasQueued()) {
                        schedule(s);
                    }
                    s.notifyWritability();
                }
                writePending();
            }
        }
    }

    private void onPing(SpdyPingFrame f) {
        int id = f.id();
        if (config.role().isLocal(id)) {
            PendingPing p = pings.remove(id);
            long now = System.nanoTime();
            if (p != null) {
                tuner.rttSample(now - p.startNanos());
                p.future().complete(Duration.ofNanos(now - p.startNanos()));
            } else if (id == silentPingId) {
                tuner.rttSample(now - silentPingNanos);
            }
            return; // the answer to one of ours
        }
        writeControl(new DefaultSpdyPingFrame(id));
    }

    private void onGoAway(SpdyGoAwayFrame f) {
        goAwayReceived = true;
        int lastGood = f.lastGoodStreamId();
        if (state == State.ACTIVE) {
            state = State.DRAINING;
        }
        List<SpdyStream> refused = new ArrayList<>();
        for (SpdyStream s : streams.values()) {
            if (s.isLocal() && s.id() > lastGood) {
                refused.add(s);
            }
        }
        for (SpdyStream s : refused) {
            removeStream(s, new SpdyStreamException(SpdyError.REFUSED_STREAM, true, false,
                    "refused by GOAWAY (last good stream " + lastGood + "); safe to retry"));
        }
        try {
            listener.onGoAway(this, lastGood);
        } catch (Exception e) {
            log.warn("onGoAway listener failed", e);
        }
        if (streams.isEmpty()) {
            closeChannel(null);
        }
    }

    private void onWindowUpdate(SpdyWindowUpdateFrame f) {
        int id = f.streamId();
        int delta = f.deltaWindowSize();
        if (id == 0) {
            if (!config.sessionFlowControl()) {
                return; // SPDY/3 has no session window
            }
            long w = (long) sessionSendWindow + delta;
            if (w > MAX_WINDOW) {
                sessionError(SpdyError.FLOW_CONTROL_ERROR, "session window overflow");
                return;
            }
            boolean wasBlocked = sessionSendWindow <= 0;
            sessionSendWindow = (int) w;
            if (wasBlocked && sessionSendWindow > 0) {
                unblockSessionBlocked();
            }
            writePending();
            return;
        }
        SpdyStream s = streams.get(id);
        if (s == null) {
            return; // for a stream that already ended: harmless (SPDY/3 section 2.6.8)
        }
        if (!s.moveSendWindow(delta, sendOverrun)) {
            resetStream(s, SpdyError.FLOW_CONTROL_ERROR, "stream window overflow");
            return;
        }
        if (s.hasQueued()) {
            schedule(s);
            writePending();
        }
        s.notifyWritability();
    }

    /** Streams that waited for the session's window (or legacy allowance) get their turn again. */
    private void unblockSessionBlocked() {
        SpdyStream s;
        while ((s = sessionBlocked.poll()) != null) {
            s.markIdle();
            schedule(s);
        }
    }

    void exceptionCaught(Throwable cause) {
        Throwable c = cause instanceof io.netty.handler.codec.DecoderException && cause.getCause() != null
                ? cause.getCause() : cause;
        if (c instanceof io.netty.handler.codec.spdy.SpdyProtocolException || c instanceof IllegalArgumentException) {
            // A framing or header-block error (an IllegalArgumentException is Netty's header
            // validation refusing a name, e.g. one with a NUL): the shared zlib context is now
            // unusable, so the session ends (SPDY/3 section 2.6.10).
            sessionError(SpdyError.PROTOCOL_ERROR, String.valueOf(c.getMessage()));
        } else {
            log.debug("connection error on {}", channel, cause);
            closeChannel(cause);
        }
    }

    void channelInactive() {
        if (state == State.CLOSED) {
            return;
        }
        state = State.CLOSED;
        firstFrame.cancel();
        if (keepalive != null) {
            keepalive.cancel(false);
        }
        if (drainDeadline != null) {
            drainDeadline.cancel(false);
        }
        SpdyStreamException failure = closedException();
        for (SpdyStream s : new ArrayList<>(streams.values())) {
            // A local stream the peer never answered was never processed only if GOAWAY said so;
            // here we cannot know, so it is not retryable.
            removeStream(s, failure);
        }
        sessionBlocked.clear();
        for (PendingPing p : pings.values()) {
            p.future().completeExceptionally(failure);
        }
        pings.clear();
        try {
            listener.onClosed(this, closeCause);
        } catch (Exception e) {
            log.warn("onClosed listener failed", e);
        }
        closeFuture.complete(null);
    }

    /** Test hook: jump the next local stream id (to exercise id exhaustion). */
    void nextLocalStreamIdForTest(int id) {
        execute(() -> nextLocalStreamId = id);
    }

    @Override
    public String toString() {
        return "SpdySession(" + config.role() + ", " + state + ", " + channel + ')';
    }
}
