package io.spdyproxy.tunnel.h2;

import java.time.Duration;
import java.util.Objects;

/**
 * What an HTTP/2 tunnel session can be told. Sizes are in bytes; every limit has a safe default
 * ({@link #defaults()}), the same as the SPDY session's where both protocols have the setting.
 *
 * @param streamWindow the receive window we grant each stream (SETTINGS_INITIAL_WINDOW_SIZE)
 * @param connectionWindow the connection's receive window (a stream-0 WINDOW_UPDATE at start)
 * @param maxConcurrentStreams streams the peer may have open towards us
 *     (SETTINGS_MAX_CONCURRENT_STREAMS); more are refused by the codec
 * @param maxFrameSize largest frame payload we accept (SETTINGS_MAX_FRAME_SIZE)
 * @param maxHeaderListSize cap on one decoded header list (SETTINGS_MAX_HEADER_LIST_SIZE)
 * @param maxQueuedControlFrames control frames we may owe the peer unwritten (PING and SETTINGS
 *     acks, RSTs) before the session is ended as a flood
 * @param maxResetsPerWindow RST_STREAMs the peer may send per {@code resetWindow} (rapid reset,
 *     CVE-2023-44487), and RST_STREAMs other than CANCEL it may make us send, before the session
 *     ends. Netty counts every reset, answered streams' too; a tunnel carries many clients, each
 *     of which may cancel at will, so this is far above a single client's limit
 * @param resetWindow see {@code maxResetsPerWindow}
 * @param maxConsecutiveEmptyFrames empty DATA frames without END_STREAM in a row before the session
 *     ends
 * @param pingInterval keepalive PING interval; {@link Duration#ZERO} turns keepalive off
 * @param maxMissedPings intervals without any frame from the peer before it is declared dead
 * @param maxSessionQueuedBytes bytes the session may hold for sending before every stream
 *     reports unwritable; a producer that ignores writability is reset at twice this
 * @param maxStreamQueuedBytes bytes one stream may hold for sending, whatever window the peer
 *     grants
 */
public record H2TunnelConfig(
        int streamWindow,
        int connectionWindow,
        int maxConcurrentStreams,
        int maxFrameSize,
        int maxHeaderListSize,
        int maxQueuedControlFrames,
        int maxResetsPerWindow,
        Duration resetWindow,
        int maxConsecutiveEmptyFrames,
        Duration pingInterval,
        int maxMissedPings,
        int maxSessionQueuedBytes,
        int maxStreamQueuedBytes) {

    public H2TunnelConfig {
        positive(streamWindow, "streamWindow");
        if (connectionWindow < streamWindow) {
            throw new IllegalArgumentException("connectionWindow: " + connectionWindow + " (expected: >= streamWindow "
                    + streamWindow + ")");
        }
        positive(maxConcurrentStreams, "maxConcurrentStreams");
        // RFC 9113 section 6.5.2: SETTINGS_MAX_FRAME_SIZE is 2^14 to 2^24-1.
        if (maxFrameSize < 16_384 || maxFrameSize > 16_777_215) {
            throw new IllegalArgumentException("maxFrameSize: " + maxFrameSize + " (expected: 16384 to 16777215)");
        }
        positive(maxHeaderListSize, "maxHeaderListSize");
        positive(maxQueuedControlFrames, "maxQueuedControlFrames");
        positive(maxResetsPerWindow, "maxResetsPerWindow");
        Objects.requireNonNull(resetWindow, "resetWindow");
        if (resetWindow.toSeconds() < 1) {
            throw new IllegalArgumentException("resetWindow: " + resetWindow + " (expected: >= 1 s)");
        }
        positive(maxConsecutiveEmptyFrames, "maxConsecutiveEmptyFrames");
        Objects.requireNonNull(pingInterval, "pingInterval");
        if (pingInterval.isNegative()) {
            throw new IllegalArgumentException("pingInterval: " + pingInterval + " (expected: >= 0)");
        }
        positive(maxMissedPings, "maxMissedPings");
        positive(maxSessionQueuedBytes, "maxSessionQueuedBytes");
        positive(maxStreamQueuedBytes, "maxStreamQueuedBytes");
    }

    /**
     * 1 MiB per stream and 1 GiB per connection (a stream's memory is bounded by its window, as
     * in SPDY), 100,000 streams, 32 KiB header lists, 10,000 owed control frames, 11,000 resets per
     * 30 s, 16 empty frames, keepalive off, 16 MiB queued per session and 4 MiB per stream.
     */
    public static H2TunnelConfig defaults() {
        return new H2TunnelConfig(1024 * 1024, 1 << 30, 100_000, 16_384, 32 * 1024, 10_000, 11_000,
                Duration.ofSeconds(30), 16, Duration.ZERO, 3, 16 * 1024 * 1024, 4 * 1024 * 1024);
    }

    public H2TunnelConfig withPingInterval(Duration interval, int maxMissed) {
        return new H2TunnelConfig(streamWindow, connectionWindow, maxConcurrentStreams, maxFrameSize, maxHeaderListSize,
                maxQueuedControlFrames, maxResetsPerWindow, resetWindow, maxConsecutiveEmptyFrames, interval, maxMissed,
                maxSessionQueuedBytes, maxStreamQueuedBytes);
    }

    public H2TunnelConfig withQueueLimits(int perSession, int perStream) {
        return new H2TunnelConfig(streamWindow, connectionWindow, maxConcurrentStreams, maxFrameSize, maxHeaderListSize,
                maxQueuedControlFrames, maxResetsPerWindow, resetWindow, maxConsecutiveEmptyFrames, pingInterval,
                maxMissedPings, perSession, perStream);
    }

    public H2TunnelConfig withStreams(int maxConcurrent, int window) {
        return new H2TunnelConfig(window, Math.max(connectionWindow, window), maxConcurrent, maxFrameSize,
                maxHeaderListSize, maxQueuedControlFrames, maxResetsPerWindow, resetWindow, maxConsecutiveEmptyFrames,
                pingInterval, maxMissedPings, maxSessionQueuedBytes, maxStreamQueuedBytes);
    }

    private static void positive(int value, String name) {
        if (value <= 0) {
            throw new IllegalArgumentException(name + ": " + value + " (expected: > 0)");
        }
    }
}
