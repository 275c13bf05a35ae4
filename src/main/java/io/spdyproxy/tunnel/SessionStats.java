package io.spdyproxy.tunnel;

/**
 * Counters of one tunnel session, for status pages, metrics and tests.
 *
 * @param dataBytesSent body bytes sent on all streams
 * @param dataBytesReceived body bytes received on all streams
 * @param streamsOpened streams opened by either side
 * @param activeStreams streams open now
 * @param queuedBytes bytes the streams hold for sending now
 */
public record SessionStats(long dataBytesSent, long dataBytesReceived, long streamsOpened, int activeStreams,
        long queuedBytes) {}
