package io.spdyproxy.spdy;

import io.netty.handler.codec.DecoderException;
import io.netty.handler.codec.spdy.DefaultSpdyGoAwayFrame;
import io.netty.handler.codec.spdy.DefaultSpdySettingsFrame;
import io.netty.handler.codec.spdy.SpdyGoAwayFrame;
import io.netty.handler.codec.spdy.SpdyProtocolException;
import io.netty.handler.codec.spdy.SpdySessionStatus;
import io.netty.handler.codec.spdy.SpdySettingsFrame;
import io.netty.util.concurrent.ScheduledFuture;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * The lifecycle of a {@link SpdySession}, {@code ACTIVE → DRAINING → CLOSED}: our SETTINGS at the
 * start and the peer's (SPDY/3 section 2.6.4), GOAWAY either way (section 2.6.6), the graceful
 * drain and its deadline, session errors, and the close that fails whatever is left.
 *
 * <p>Threading: confined to the session's event loop; {@link #state()} and {@link #closeFuture()}
 * may be read anywhere.
 */
final class SessionLifecycle {
    /** SETTINGS ids (SPDY/3 section 2.6.4). */
    private static final int SETTINGS_MAX_CONCURRENT_STREAMS = 4;
    private static final int SETTINGS_INITIAL_WINDOW_SIZE = 7;

    private final SpdySession session;
    private final SpdySessionConfig config;
    private final FirstFrameDeadline firstFrame = new FirstFrameDeadline();
    private final CompletableFuture<Void> closeFuture = new CompletableFuture<>();
    private volatile SpdySession.State state = SpdySession.State.ACTIVE;
    private boolean started;
    private boolean goAwaySent;
    private boolean goAwayReceived;
    /** Set once the session decided to close: frames still in the read buffer are ignored. */
    private boolean closing;
    private Throwable closeCause;
    private ScheduledFuture<?> drainDeadline;

    SessionLifecycle(SpdySession session) {
        this.session = session;
        this.config = session.config;
    }

    SpdySession.State state() {
        return state;
    }

    CompletableFuture<Void> closeFuture() {
        return closeFuture;
    }

    /** True once the session closed or decided to: inbound frames are dropped. */
    boolean isClosing() {
        return closing || state == SpdySession.State.CLOSED;
    }

    /** Why a new stream cannot open now (not ACTIVE). */
    String notActiveReason() {
        return "session is " + state + (goAwayReceived ? " (peer sent GOAWAY)" : "");
    }

    /** The channel is active and the handler in place: SETTINGS go out, the timers start. */
    void start() {
        if (started) {
            return; // installed on an active channel: handlerAdded started it, channelActive may follow
        }
        started = true;
        DefaultSpdySettingsFrame settings = new DefaultSpdySettingsFrame();
        settings.setValue(SETTINGS_MAX_CONCURRENT_STREAMS, config.maxConcurrentStreams());
        settings.setValue(SETTINGS_INITIAL_WINDOW_SIZE, config.effectiveStreamWindow());
        session.writer.write(settings);
        session.receive.start();
        if (!config.legacyPeer()) {
            firstFrame.start(session.loop, config.firstFrameTimeout(), () -> sessionError(SpdyError.PROTOCOL_ERROR,
                    "no frame from the peer within " + config.firstFrameTimeout() + " of the session's start"));
        }
        session.keepalive.start();
        session.writer.flush();
    }

    /** Any complete frame from the peer: it spoke. */
    void frameReceived() {
        firstFrame.frameReceived();
    }

    void onSettings(SpdySettingsFrame f) {
        if (f.isSet(SETTINGS_MAX_CONCURRENT_STREAMS)) {
            session.streams.peerMaxConcurrentStreams(Math.max(0, f.getValue(SETTINGS_MAX_CONCURRENT_STREAMS)));
        }
        if (f.isSet(SETTINGS_INITIAL_WINDOW_SIZE)) {
            int value = f.getValue(SETTINGS_INITIAL_WINDOW_SIZE);
            if (value < 0) {
                sessionError(SpdyError.PROTOCOL_ERROR, "INITIAL_WINDOW_SIZE " + value);
                return;
            }
            session.send.initialWindowChanged(value);
        }
    }

    /** The peer goes away: our streams above its last good id were never processed (retryable). */
    void onGoAway(SpdyGoAwayFrame f) {
        goAwayReceived = true;
        int lastGood = f.lastGoodStreamId();
        if (state == SpdySession.State.ACTIVE) {
            state = SpdySession.State.DRAINING;
        }
        session.streams.refuseLocalAbove(lastGood);
        try {
            session.listener.onGoAway(session, lastGood);
        } catch (Exception e) {
            SpdySession.log.warn("onGoAway listener failed", e);
        }
        if (session.streams.isEmpty()) {
            closeChannel(null);
        }
    }

    void shutdownGracefully(Duration deadline) {
        if (state == SpdySession.State.CLOSED) {
            return;
        }
        sendGoAway(SpdySessionStatus.OK);
        state = SpdySession.State.DRAINING;
        if (session.streams.isEmpty()) {
            closeChannel(null);
        } else if (drainDeadline == null) {
            drainDeadline = session.loop.schedule(() -> closeChannel(null), deadline.toNanos(),
                    TimeUnit.NANOSECONDS);
        }
    }

    /** The last stream of a draining session is gone: the connection closes now. */
    void streamsDrained() {
        if (state == SpdySession.State.DRAINING) {
            closeChannel(null);
        }
    }

    private void sendGoAway(SpdySessionStatus status) {
        if (goAwaySent || config.legacyPeer() || !session.writer.isAttached()) {
            return;
        }
        goAwaySent = true;
        session.writer.write(new DefaultSpdyGoAwayFrame(session.streams.highestRemoteId(), status));
    }

    /** Ends the whole session: GOAWAY with the status (never to a legacy peer), then close. */
    void sessionError(SpdyError error, String why) {
        if (state == SpdySession.State.CLOSED) {
            return;
        }
        SpdySession.log.warn("session error {} on {}: {}", error, session.channel, why);
        sendGoAway(error.goAwayStatus());
        closeChannel(new SpdySessionException(error, why));
    }

    void closeChannel(Throwable cause) {
        closing = true;
        if (closeCause == null) {
            closeCause = cause;
        }
        session.writer.flush();
        session.channel.close();
    }

    SpdyStreamException closedException() {
        String why = closeCause == null ? "session closed" : "session closed: " + closeCause.getMessage();
        return new SpdyStreamException(SpdyError.SESSION_CLOSED, false, false, why);
    }

    void exceptionCaught(Throwable cause) {
        Throwable c = cause instanceof DecoderException && cause.getCause() != null ? cause.getCause() : cause;
        if (c instanceof SpdyProtocolException || c instanceof IllegalArgumentException) {
            // A framing or header-block error (an IllegalArgumentException is Netty's header
            // validation refusing a name, e.g. one with a NUL): the shared zlib context is now
            // unusable, so the session ends (SPDY/3 section 2.6.10).
            sessionError(SpdyError.PROTOCOL_ERROR, String.valueOf(c.getMessage()));
        } else {
            SpdySession.log.debug("connection error on {}", session.channel, cause);
            closeChannel(cause);
        }
    }

    /** The connection is gone: every stream and PING fails, then the listener and close future hear. */
    void channelInactive() {
        if (state == SpdySession.State.CLOSED) {
            return;
        }
        state = SpdySession.State.CLOSED;
        firstFrame.cancel();
        session.keepalive.stop();
        if (drainDeadline != null) {
            drainDeadline.cancel(false);
        }
        SpdyStreamException failure = closedException();
        // A local stream the peer never answered was never processed only if GOAWAY said so;
        // here we cannot know, so it is not retryable.
        session.streams.removeAll(failure);
        session.send.closed();
        session.keepalive.failPending(failure);
        try {
            session.listener.onClosed(session, closeCause);
        } catch (Exception e) {
            SpdySession.log.warn("onClosed listener failed", e);
        }
        closeFuture.complete(null);
    }
}
