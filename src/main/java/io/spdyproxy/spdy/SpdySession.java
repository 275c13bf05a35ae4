package io.spdyproxy.spdy;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.EventLoop;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.handler.codec.spdy.SpdyHeaders;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A SPDY/3.1 session over one connection: stream lifecycle, flow control on both levels,
 * priorities, SETTINGS, PING, GOAWAY and the abuse limits. Built on Netty's {@code SpdyFrameCodec};
 * it replaces Netty's {@code SpdySessionHandler}, which queues without bound and grants window
 * before the application consumed the data.
 *
 * <p>This class is the public face and the wiring; each concern is a package-private part (the way
 * Netty's codec-http2 splits a connection): {@link InboundFrames} (frames from the peer),
 * {@link FrameWriter} (framing and flush coalescing), {@link SendFlow} (send windows and the write
 * scheduler), {@link ReceiveFlow} (receive windows, WINDOW_UPDATE, window growth), {@link Keepalive}
 * (PINGs and RTT), {@link SessionLifecycle} (SETTINGS, GOAWAY, drain and close) and
 * {@link SessionStreams} (the streams by id, opening and removing them). The parts reach each other
 * through the final fields here; none is used before the constructor has set them all.
 *
 * <p>Threading: every part and every stream is confined to the channel's event loop, so there are
 * no locks. Public methods may be called from any thread and hop onto the loop; listeners are
 * called on the loop.
 */
public final class SpdySession {
    /** Every part logs under this name, so logging is configured for the session as a whole. */
    static final Logger log = LoggerFactory.getLogger(SpdySession.class);

    /** Lifecycle: {@code ACTIVE → DRAINING → CLOSED}. */
    public enum State {
        ACTIVE,
        DRAINING,
        CLOSED
    }

    final Channel channel;
    final EventLoop loop;
    final SpdySessionConfig config;
    final SpdySessionListener listener;
    final SendBudget budget;
    final FrameWriter writer;
    final SessionStreams streams;
    final SendFlow send;
    final ReceiveFlow receive;
    final Keepalive keepalive;
    final SessionLifecycle lifecycle;
    final InboundFrames inbound;

    private SpdySession(Channel channel, SpdySessionConfig config, SpdySessionListener listener) {
        this.channel = channel;
        this.loop = channel.eventLoop();
        this.config = config;
        this.listener = listener;
        this.budget = new SendBudget(channel, config.maxSessionQueuedBytes());
        AbuseGuard guard = new AbuseGuard(config);
        this.writer = new FrameWriter(this, guard);
        this.streams = new SessionStreams(this);
        this.send = new SendFlow(this);
        this.receive = new ReceiveFlow(this);
        this.keepalive = new Keepalive(this);
        this.lifecycle = new SessionLifecycle(this);
        this.inbound = new InboundFrames(this, guard);
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
        channel.closeFuture().addListener(f -> session.loop.execute(session.lifecycle::channelInactive));
        return session;
    }

    public SpdySessionConfig config() {
        return config;
    }

    public Channel channel() {
        return channel;
    }

    public State state() {
        return lifecycle.state();
    }

    /** Completes when the connection is closed. */
    public CompletableFuture<Void> closeFuture() {
        return lifecycle.closeFuture();
    }

    /** A snapshot of the session's counters (approximate when read off the event loop). */
    public SpdySessionStats stats() {
        return new SpdySessionStats(writer.framesSent(), inbound.framesReceived(), send.dataBytesSent(),
                inbound.dataBytesReceived(), streams.opened(), streams.activeCount(),
                budget.queuedBytes(), budget.maxQueuedBytes());
    }

    /** Stream ids this side can still open; rotate to a new session before they run out. */
    public long remainingStreamIds() {
        return streams.remainingIds();
    }

    /** True while new streams may be opened here (ACTIVE, ids left, peer not gone away). */
    public boolean isAcceptingStreams() {
        return lifecycle.state() == State.ACTIVE && remainingStreamIds() > 0;
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
        Objects.requireNonNull(headers, "headers");
        Objects.requireNonNull(streamListener, "streamListener");
        CompletableFuture<SpdyStream> result = new CompletableFuture<>();
        boolean accepted = execute(() -> {
            try {
                streams.open(headers, (byte) priority, endOfStream, streamListener, result);
            } catch (RuntimeException e) {
                result.completeExceptionally(e);
                throw e;
            }
        });
        if (!accepted) {
            result.completeExceptionally(lifecycle.closedException());
        }
        return result;
    }

    /** Sends a PING; the future completes with the round-trip time. */
    public CompletableFuture<Duration> ping() {
        CompletableFuture<Duration> result = new CompletableFuture<>();
        boolean accepted = execute(() -> keepalive.ping(result));
        if (!accepted) {
            result.completeExceptionally(lifecycle.closedException());
        }
        return result;
    }

    /**
     * Graceful close: GOAWAY (not to a legacy peer), no new streams, existing ones may finish
     * until {@code deadline}, then the connection closes. Returns the close future.
     */
    public CompletableFuture<Void> shutdownGracefully(Duration deadline) {
        execute(() -> lifecycle.shutdownGracefully(deadline));
        return lifecycle.closeFuture();
    }

    /** Closes the connection at once; open streams fail with {@link SpdyError#SESSION_CLOSED}. */
    public CompletableFuture<Void> close() {
        execute(() -> lifecycle.closeChannel(null));
        return lifecycle.closeFuture();
    }

    // ------------------------------------------------------------------------------------------
    // For the parts and the streams (on the loop unless said otherwise)

    /**
     * Runs {@code task} on the loop (at once when already there); any thread. False when the loop
     * no longer takes tasks (shut down, so the session is gone): the caller releases what the task
     * owned.
     */
    boolean execute(Runnable task) {
        if (loop.inEventLoop()) {
            runTask(task);
            return true;
        }
        try {
            loop.execute(() -> runTask(task));
            return true;
        } catch (RejectedExecutionException e) {
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
            lifecycle.sessionError(SpdyError.INTERNAL_ERROR, "internal error: " + e);
        }
        writer.flushSoon();
    }

    /** Any thread: what producers count their queued bytes against. */
    SendBudget sendBudget() {
        return budget;
    }

    /** Any thread: a stream's queue bound for a send window of {@code sendWindow}. */
    long writeLimit(int sendWindow) {
        return send.writeLimit(sendWindow);
    }

    /** A stream listener threw: its stream is reset, the session goes on. */
    void listenerFailed(SpdyStream s, Exception e) {
        streams.listenerFailed(s, e);
    }

    /** SessionHandler: the session's handler is in the pipeline. */
    void handlerAdded(ChannelHandlerContext ctx) {
        writer.attach(ctx);
        if (channel.isActive()) {
            lifecycle.start();
        }
    }

    /** Test hook: jump the next local stream id (to exercise id exhaustion). */
    void nextLocalStreamIdForTest(int id) {
        execute(() -> streams.nextLocalIdForTest(id));
    }

    @Override
    public String toString() {
        return "SpdySession(" + config.role() + ", " + lifecycle.state() + ", " + channel + ')';
    }
}
