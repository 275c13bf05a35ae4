package io.spdyproxy.spdy;

import io.netty.handler.codec.spdy.SpdyHeaders;
import io.netty.util.collection.IntObjectHashMap;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * The streams of a {@link SpdySession} by id: opening ours (ids, the peer's concurrency limit),
 * accepting the peer's (its ids, our limit), and removing a stream once it closed both ways, was
 * reset, or the session ended, which is when its windows, queue and growth are given back and its
 * listener hears of it. SPDY/3 section 2.3.
 *
 * <p>Threading: confined to the session's event loop, except the counters read by
 * {@link SpdySession#stats()} and {@link #remainingIds()}.
 */
final class SessionStreams {
    private final SpdySession session;
    private final SpdySessionConfig config;
    private final IntObjectHashMap<SpdyStream> streams = new IntObjectHashMap<>();
    private final RemoteStreamIds remoteIds;
    private volatile int nextLocalId;
    private int localActive;
    private int remoteActive;
    private int peerMaxConcurrentStreams = Integer.MAX_VALUE;
    private boolean idsLowSignalled;
    private volatile long opened;
    private volatile int activeCount;

    SessionStreams(SpdySession session) {
        this.session = session;
        this.config = session.config;
        this.remoteIds = new RemoteStreamIds(config.legacyPeer());
        this.nextLocalId = config.role().firstLocalStreamId();
    }

    SpdyStream get(int id) {
        return streams.get(id);
    }

    boolean isEmpty() {
        return streams.isEmpty();
    }

    /** A copy, for changes that may remove streams while going through them. */
    List<SpdyStream> snapshot() {
        return new ArrayList<>(streams.values());
    }

    long opened() {
        return opened;
    }

    int activeCount() {
        return activeCount;
    }

    /** Stream ids this side can still open. */
    long remainingIds() {
        long next = nextLocalId & 0xFFFFFFFFL;
        return next > Integer.MAX_VALUE ? 0 : (Integer.MAX_VALUE - next) / 2 + 1;
    }

    /** The highest id the peer used so far: the last good id of our GOAWAY. */
    int highestRemoteId() {
        return remoteIds.highest();
    }

    void peerMaxConcurrentStreams(int max) {
        peerMaxConcurrentStreams = max;
    }

    /** Opens a stream of ours with a SYN_STREAM; {@code result} completes with it or why not. */
    void open(SpdyHeaders headers, byte priority, boolean endOfStream, SpdyStreamListener streamListener,
            CompletableFuture<SpdyStream> result) {
        if (session.lifecycle.state() != SpdySession.State.ACTIVE) {
            result.completeExceptionally(new SpdyStreamException(SpdyError.REFUSED_STREAM, true, true,
                    session.lifecycle.notActiveReason()));
            return;
        }
        if (remainingIds() == 0) {
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
        int id = nextLocalId;
        nextLocalId += 2;
        SpdyStream stream = new SpdyStream(session, id, priority, session.send.initialWindow(),
                config.effectiveStreamWindow());
        stream.attach(streamListener);
        streams.put(id, stream);
        localActive++;
        activeCount = streams.size();
        opened++;
        session.writer.synStream(id, priority, endOfStream, headers);
        if (endOfStream) {
            stream.localEnded(); // from OPEN: half-closed, never closed
        }
        if (!idsLowSignalled && remainingIds() < config.streamIdsLowWatermark()) {
            idsLowSignalled = true;
            try {
                session.listener.onStreamIdsLow(session);
            } catch (Exception e) {
                SpdySession.log.warn("onStreamIdsLow listener failed", e);
            }
        }
        result.complete(stream);
    }

    /** Records a SYN_STREAM's id (of the peer's parity): whether it may open a stream. */
    RemoteStreamIds.Verdict remoteId(int id) {
        return remoteIds.open(id);
    }

    /** True while the peer has as many streams open as our SETTINGS allow. */
    boolean remoteAtLimit() {
        return remoteActive >= config.maxConcurrentStreams();
    }

    /** Registers a stream the peer opened (its id already checked). */
    SpdyStream openRemote(int id, byte priority) {
        SpdyStream s = new SpdyStream(session, id, priority, session.send.initialWindow(),
                config.effectiveStreamWindow());
        streams.put(id, s);
        remoteActive++;
        activeCount = streams.size();
        opened++;
        return s;
    }

    /** True when {@code id} belongs to a stream that existed at some point. */
    boolean isKnownId(int id) {
        if (config.role().isLocal(id)) {
            return Integer.compareUnsigned(id, nextLocalId) < 0; // the counter wraps past 2^31-1
        }
        return id <= remoteIds.highest(); // below it and unseen (legacy ids out of order): quietly dropped too
    }

    void localEnded(SpdyStream s) {
        if (s.localEnded()) {
            remove(s, null);
        }
    }

    void remoteEnded(SpdyStream s) {
        if (s.remoteEnded()) {
            remove(s, null);
        }
    }

    /** Ends {@code stream} with RST_STREAM; its listener hears {@code why}. */
    void reset(SpdyStream stream, SpdyError error, String why) {
        if (stream.isClosed()) {
            return;
        }
        session.writer.rst(stream.id(), error);
        remove(stream, new SpdyStreamException(error, false, true, why));
    }

    void listenerFailed(SpdyStream s, Exception e) {
        SpdySession.log.warn("stream {} listener failed; resetting it", s.id(), e);
        reset(s, SpdyError.INTERNAL_ERROR, "listener failed: " + e);
    }

    /** GOAWAY: our streams above {@code lastGood} were never processed, so they may be retried. */
    void refuseLocalAbove(int lastGood) {
        List<SpdyStream> refused = new ArrayList<>();
        for (SpdyStream s : streams.values()) {
            if (s.isLocal() && s.id() > lastGood) {
                refused.add(s);
            }
        }
        for (SpdyStream s : refused) {
            remove(s, new SpdyStreamException(SpdyError.REFUSED_STREAM, true, false,
                    "refused by GOAWAY (last good stream " + lastGood + "); safe to retry"));
        }
    }

    /** The session closed: every stream fails with {@code failure}. */
    void removeAll(SpdyStreamException failure) {
        for (SpdyStream s : snapshot()) {
            remove(s, failure);
        }
    }

    /** Closes {@code s} and gives back what it held; {@code cause} null: it ended normally. */
    void remove(SpdyStream s, SpdyStreamException cause) {
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
            session.receive.windowReleased(s);
            session.send.released(s);
        }
        session.budget.forget(s);
        activeCount = streams.size();
        session.receive.growthReleased(s);
        s.releaseQueue();
        session.budget.wakeIfOpen();
        session.receive.returnCredit(s);
        SpdyStreamListener l = s.listener();
        if (l != null) {
            try {
                l.onClosed(s, cause);
            } catch (Exception e) {
                SpdySession.log.warn("stream {} onClosed listener failed", s.id(), e);
            }
        }
        if (streams.isEmpty()) {
            session.lifecycle.streamsDrained();
        }
    }

    /** Test hook: jump the next local stream id (to exercise id exhaustion). */
    void nextLocalIdForTest(int id) {
        nextLocalId = id;
    }
}
