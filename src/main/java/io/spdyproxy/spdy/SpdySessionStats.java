package io.spdyproxy.spdy;

/**
 * Counters of one session, for metrics and tests.
 *
 * @param queuedBytes bytes the streams hold for sending now (not yet handed to the connection)
 * @param maxQueuedBytes the most the session ever held for sending: stream queues plus the
 *     channel's outbound buffer, sampled whenever a stream queued data
 */
public record SpdySessionStats(
        long framesSent,
        long framesReceived,
        long dataBytesSent,
        long dataBytesReceived,
        long streamsOpened,
        int activeStreams,
        long queuedBytes,
        long maxQueuedBytes) {}
