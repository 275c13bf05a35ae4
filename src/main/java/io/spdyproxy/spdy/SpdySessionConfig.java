package io.spdyproxy.spdy;

import java.time.Duration;
import java.util.Objects;

/**
 * Everything a session can be told. Sizes are in bytes. Build one with {@link #builder(SpdyRole)};
 * every limit has a safe default.
 *
 * @param role which stream ids this side opens
 * @param protocol SPDY/3.1 (session window) or SPDY/3 (stream windows only)
 * @param legacyPeer the peer is the original amahi/spdy library: never send it GOAWAY, HEADERS or
 *     a stream-0 WINDOW_UPDATE, and let request bodies pass its never-granted window up to {@link
 *     #legacyWindowAllowance}
 * @param initialStreamWindow the receive window we grant each stream (announced in SETTINGS)
 * @param maxStreamWindow how far a stream's receive window may grow: a stream whose data is
 *     consumed as fast as it arrives gets its window doubled (up to this) with the next
 *     WINDOW_UPDATE, so one stream can fill a fast or long link; equal to
 *     {@code initialStreamWindow} turns growth off
 * @param windowGrowthBudget the most bytes of such growth all streams of the session hold at
 *     once, which bounds what fast streams that then stall can make us buffer
 * @param sessionWindow the SPDY/3.1 session receive window
 * @param maxConcurrentStreams streams the peer may have open towards us; more are REFUSED_STREAM
 * @param maxFrameSize largest DATA payload we send in one frame
 * @param maxInboundChunk largest DATA chunk delivered to a listener at once
 * @param maxHeaderBlockSize cap on one decompressed header block (zlib bombs end the session)
 * @param maxHeaderCount cap on header names in one block; more resets the stream
 * @param compressHeaders compress header blocks with one shared zlib context; off by default,
 *     since back-references across requests let one client's headers be guessed from the
 *     compressed size of another's (CRIME)
 * @param maxQueuedControlFrames control frames we may owe the peer unwritten (PING echoes, RSTs)
 *     before the session is ended as a flood
 * @param maxResetsPerWindow resets of open, unanswered streams accepted per {@code resetWindow}
 *     (rapid reset)
 * @param maxStaleResetsPerWindow resets of streams already closed or answered accepted per {@code
 *     resetWindow}, plus one per frame sent in it (peers such as npm {@code spdy} answer every
 *     frame that crossed their cancel); more is a flood and ends the session
 * @param resetWindow the window for {@code maxResetsPerWindow} and {@code maxStaleResetsPerWindow}
 * @param maxConsecutiveEmptyFrames empty DATA frames without FIN in a row before the session ends
 * @param pingInterval keepalive PING interval; {@link Duration#ZERO} turns keepalive off
 * @param maxMissedPings intervals without any frame from the peer before it is declared dead
 * @param legacyWindowAllowance bytes a stream may send to or receive from a legacy peer beyond
 *     its window
 * @param legacySessionAllowance the same, summed over all streams of the session
 * @param maxSessionQueuedBytes bytes the session may hold for sending (stream queues and the
 *     channel's outbound buffer) before every stream reports unwritable; a producer that ignores
 *     writability is reset at twice this
 * @param maxStreamQueuedBytes bytes one stream may queue for sending, whatever window the peer
 *     grants (its bound is the smaller of this and its send window)
 * @param firstFrameTimeout a non-legacy peer that sent no complete frame within this long of the
 *     session's start is disconnected; {@link Duration#ZERO} turns it off
 * @param streamIdsLowWatermark when fewer local stream ids than this remain, listeners are told to
 *     rotate to a new session
 */
public record SpdySessionConfig(
        SpdyRole role,
        SpdyProtocol protocol,
        boolean legacyPeer,
        int initialStreamWindow,
        int maxStreamWindow,
        int windowGrowthBudget,
        int sessionWindow,
        int maxConcurrentStreams,
        int maxFrameSize,
        int maxInboundChunk,
        int maxHeaderBlockSize,
        int maxHeaderCount,
        boolean compressHeaders,
        int maxQueuedControlFrames,
        int maxResetsPerWindow,
        int maxStaleResetsPerWindow,
        Duration resetWindow,
        int maxConsecutiveEmptyFrames,
        Duration pingInterval,
        int maxMissedPings,
        int legacyWindowAllowance,
        int legacySessionAllowance,
        int maxSessionQueuedBytes,
        int maxStreamQueuedBytes,
        Duration firstFrameTimeout,
        int streamIdsLowWatermark) {

    /** The window SPDY/3 assumes before SETTINGS says otherwise (section 2.6.8). */
    public static final int DEFAULT_WINDOW = 65_536;

    /**
     * The most {@code maxSessionQueuedBytes} may be: a session then holds at most twice this for
     * sending, well under the 64 MiB a tunnel may cost.
     */
    public static final int MAX_SESSION_QUEUED_BYTES = 24 * 1024 * 1024;

    public SpdySessionConfig {
        Objects.requireNonNull(role, "role");
        Objects.requireNonNull(protocol, "protocol");
        Objects.requireNonNull(resetWindow, "resetWindow");
        Objects.requireNonNull(pingInterval, "pingInterval");
        Objects.requireNonNull(firstFrameTimeout, "firstFrameTimeout");
        positive(initialStreamWindow, "initialStreamWindow");
        if (maxStreamWindow < initialStreamWindow || windowGrowthBudget < 0) {
            throw new IllegalArgumentException("maxStreamWindow: " + maxStreamWindow + ", windowGrowthBudget: "
                    + windowGrowthBudget + " (expected: >= initialStreamWindow " + initialStreamWindow + ", >= 0)");
        }
        positive(sessionWindow, "sessionWindow");
        positive(maxConcurrentStreams, "maxConcurrentStreams");
        positive(maxFrameSize, "maxFrameSize");
        positive(maxInboundChunk, "maxInboundChunk");
        positive(maxHeaderBlockSize, "maxHeaderBlockSize");
        positive(maxHeaderCount, "maxHeaderCount");
        positive(maxQueuedControlFrames, "maxQueuedControlFrames");
        positive(maxResetsPerWindow, "maxResetsPerWindow");
        positive(maxStaleResetsPerWindow, "maxStaleResetsPerWindow");
        positive(maxStreamQueuedBytes, "maxStreamQueuedBytes");
        if (maxSessionQueuedBytes <= 0 || maxSessionQueuedBytes > MAX_SESSION_QUEUED_BYTES) {
            throw new IllegalArgumentException("maxSessionQueuedBytes: " + maxSessionQueuedBytes
                    + " (expected: 1.." + MAX_SESSION_QUEUED_BYTES + ")");
        }
        positive(maxConsecutiveEmptyFrames, "maxConsecutiveEmptyFrames");
        positive(maxMissedPings, "maxMissedPings");
        positive(streamIdsLowWatermark, "streamIdsLowWatermark");
        if (legacyWindowAllowance < 0 || legacySessionAllowance < 0) {
            throw new IllegalArgumentException("legacyWindowAllowance: " + legacyWindowAllowance
                    + ", legacySessionAllowance: " + legacySessionAllowance + " (expected: >= 0)");
        }
        if (maxFrameSize > 0xFFFFFF) {
            throw new IllegalArgumentException(
                    "maxFrameSize: " + maxFrameSize + " (expected: <= 16777215)");
        }
        if (sessionWindow < DEFAULT_WINDOW) {
            throw new IllegalArgumentException(
                    "sessionWindow: " + sessionWindow + " (expected: >= 65536)");
        }
        if (pingInterval.isNegative()) {
            throw new IllegalArgumentException("pingInterval: " + pingInterval + " (expected: >= 0)");
        }
        if (firstFrameTimeout.isNegative()) {
            throw new IllegalArgumentException("firstFrameTimeout: " + firstFrameTimeout + " (expected: >= 0)");
        }
    }

    private static void positive(int value, String name) {
        if (value <= 0) {
            throw new IllegalArgumentException(name + ": " + value + " (expected: > 0)");
        }
    }

    /** How far our streams' send windows may run past zero: only towards a legacy origin. */
    WindowOverrun newSendOverrun() {
        return legacyPeer && role == SpdyRole.CLIENT
                ? new WindowOverrun(legacyWindowAllowance, legacySessionAllowance) : WindowOverrun.NONE;
    }

    /** How far the peer may run past our receive windows: only a legacy peer. */
    WindowOverrun newReceiveOverrun() {
        return legacyPeer ? new WindowOverrun(legacyWindowAllowance, legacySessionAllowance) : WindowOverrun.NONE;
    }

    /** True when stream-0 WINDOW_UPDATEs and the session window are in force. */
    boolean sessionFlowControl() {
        return protocol == SpdyProtocol.SPDY_3_1 && !legacyPeer;
    }

    /** The receive window actually in force: a legacy peer ignores our SETTINGS. */
    int effectiveStreamWindow() {
        return legacyPeer ? DEFAULT_WINDOW : initialStreamWindow;
    }

    /** The most a stream's receive window grows to; a legacy peer's windows stay fixed. */
    int effectiveMaxStreamWindow() {
        return legacyPeer ? DEFAULT_WINDOW : maxStreamWindow;
    }

    public static Builder builder(SpdyRole role) {
        return new Builder(role);
    }

    public Builder toBuilder() {
        Builder b = new Builder(role);
        b.protocol = protocol;
        b.legacyPeer = legacyPeer;
        b.initialStreamWindow = initialStreamWindow;
        b.maxStreamWindow = maxStreamWindow;
        b.windowGrowthBudget = windowGrowthBudget;
        b.sessionWindow = sessionWindow;
        b.maxConcurrentStreams = maxConcurrentStreams;
        b.maxFrameSize = maxFrameSize;
        b.maxInboundChunk = maxInboundChunk;
        b.maxHeaderBlockSize = maxHeaderBlockSize;
        b.maxHeaderCount = maxHeaderCount;
        b.compressHeaders = compressHeaders;
        b.maxQueuedControlFrames = maxQueuedControlFrames;
        b.maxResetsPerWindow = maxResetsPerWindow;
        b.maxStaleResetsPerWindow = maxStaleResetsPerWindow;
        b.resetWindow = resetWindow;
        b.maxConsecutiveEmptyFrames = maxConsecutiveEmptyFrames;
        b.pingInterval = pingInterval;
        b.maxMissedPings = maxMissedPings;
        b.legacyWindowAllowance = legacyWindowAllowance;
        b.legacySessionAllowance = legacySessionAllowance;
        b.maxSessionQueuedBytes = maxSessionQueuedBytes;
        b.maxStreamQueuedBytes = maxStreamQueuedBytes;
        b.firstFrameTimeout = firstFrameTimeout;
        b.streamIdsLowWatermark = streamIdsLowWatermark;
        return b;
    }

    /** Mutable builder with the defaults. */
    public static final class Builder {
        private final SpdyRole role;
        private SpdyProtocol protocol = SpdyProtocol.SPDY_3_1;
        private boolean legacyPeer;
        private int initialStreamWindow = 256 * 1024;
        private int maxStreamWindow = 4 * 1024 * 1024;
        private int windowGrowthBudget = 64 * 1024 * 1024;
        private int sessionWindow = 1 << 30;
        private int maxConcurrentStreams = 100_000;
        private int maxFrameSize = 32 * 1024;
        private int maxInboundChunk = 64 * 1024;
        private int maxHeaderBlockSize = 32 * 1024;
        private int maxHeaderCount = 128;
        private boolean compressHeaders;
        private int maxQueuedControlFrames = 10_000;
        private int maxResetsPerWindow = 1_000;
        private int maxStaleResetsPerWindow = 10_000;
        private Duration resetWindow = Duration.ofSeconds(30);
        private int maxConsecutiveEmptyFrames = 16;
        private Duration pingInterval = Duration.ZERO;
        private int maxMissedPings = 3;
        private int legacyWindowAllowance = 16 * 1024 * 1024;
        private int legacySessionAllowance = 32 * 1024 * 1024;
        private int maxSessionQueuedBytes = 16 * 1024 * 1024;
        private int maxStreamQueuedBytes = 4 * 1024 * 1024;
        private Duration firstFrameTimeout = Duration.ofSeconds(5);
        private int streamIdsLowWatermark = 1 << 20;

        private Builder(SpdyRole role) {
            this.role = role;
        }

        public Builder protocol(SpdyProtocol v) { protocol = v; return this; }
        public Builder legacyPeer(boolean v) { legacyPeer = v; return this; }
        public Builder initialStreamWindow(int v) { initialStreamWindow = v; return this; }
        public Builder maxStreamWindow(int v) { maxStreamWindow = v; return this; }
        public Builder windowGrowthBudget(int v) { windowGrowthBudget = v; return this; }
        public Builder sessionWindow(int v) { sessionWindow = v; return this; }
        public Builder maxConcurrentStreams(int v) { maxConcurrentStreams = v; return this; }
        public Builder maxFrameSize(int v) { maxFrameSize = v; return this; }
        public Builder maxInboundChunk(int v) { maxInboundChunk = v; return this; }
        public Builder maxHeaderBlockSize(int v) { maxHeaderBlockSize = v; return this; }
        public Builder maxHeaderCount(int v) { maxHeaderCount = v; return this; }
        public Builder compressHeaders(boolean v) { compressHeaders = v; return this; }
        public Builder maxQueuedControlFrames(int v) { maxQueuedControlFrames = v; return this; }
        public Builder maxResetsPerWindow(int v) { maxResetsPerWindow = v; return this; }
        public Builder maxStaleResetsPerWindow(int v) { maxStaleResetsPerWindow = v; return this; }
        public Builder resetWindow(Duration v) { resetWindow = v; return this; }
        public Builder maxConsecutiveEmptyFrames(int v) { maxConsecutiveEmptyFrames = v; return this; }
        public Builder pingInterval(Duration v) { pingInterval = v; return this; }
        public Builder maxMissedPings(int v) { maxMissedPings = v; return this; }
        public Builder legacyWindowAllowance(int v) { legacyWindowAllowance = v; return this; }
        public Builder legacySessionAllowance(int v) { legacySessionAllowance = v; return this; }
        public Builder maxSessionQueuedBytes(int v) { maxSessionQueuedBytes = v; return this; }
        public Builder maxStreamQueuedBytes(int v) { maxStreamQueuedBytes = v; return this; }
        public Builder firstFrameTimeout(Duration v) { firstFrameTimeout = v; return this; }
        public Builder streamIdsLowWatermark(int v) { streamIdsLowWatermark = v; return this; }

        public SpdySessionConfig build() {
            // An initial window above maxStreamWindow lifts the cap with it (growth off).
            return new SpdySessionConfig(role, protocol, legacyPeer, initialStreamWindow,
                    Math.max(maxStreamWindow, initialStreamWindow), windowGrowthBudget, sessionWindow, maxConcurrentStreams, maxFrameSize, maxInboundChunk,
                    maxHeaderBlockSize, maxHeaderCount, compressHeaders, maxQueuedControlFrames,
                    maxResetsPerWindow, maxStaleResetsPerWindow, resetWindow, maxConsecutiveEmptyFrames,
                    pingInterval, maxMissedPings, legacyWindowAllowance, legacySessionAllowance,
                    maxSessionQueuedBytes, maxStreamQueuedBytes, firstFrameTimeout, streamIdsLowWatermark);
        }
    }
}
