package io.spdyproxy.spdy;

/** Counters of one session, for metrics and tests. */
public record SpdySessionStats(
        long framesSent,
        long framesReceived,
        long dataBytesSent,
        long dataBytesReceived,
        long streamsOpened,
        int activeStreams) {}
