package io.spdyproxy.tunnel.handshake;

import io.spdyproxy.spdy.SpdySessionConfig;
import io.spdyproxy.tunnel.h2.H2TunnelConfig;

/**
 * The HTTP/2 session's settings from the SPDY session's, so that one set of settings (the
 * dialer's and the acceptor's) rules the tunnel whichever protocol it runs: the same keepalive,
 * stream limit, send budget, header cap and abuse limits. Stateless.
 */
final class SessionConfigs {
    /** An HTTP/2 stream's window is fixed (no growth as SPDY's): 1 MiB fills a fast link. */
    private static final int H2_STREAM_WINDOW = 1024 * 1024;

    private SessionConfigs() {}

    static H2TunnelConfig h2(SpdySessionConfig c) {
        int window = Math.max(c.initialStreamWindow(), Math.min(c.maxStreamWindow(), H2_STREAM_WINDOW));
        return new H2TunnelConfig(window, Math.max(window, c.sessionWindow()), c.maxConcurrentStreams(), 16_384,
                c.maxHeaderBlockSize(), c.maxQueuedControlFrames(),
                // Netty counts every RST_STREAM: SPDY's limits for fresh and for stale resets together.
                c.maxResetsPerWindow() + c.maxStaleResetsPerWindow(), c.resetWindow(),
                c.maxConsecutiveEmptyFrames(), c.pingInterval(), c.maxMissedPings(), c.maxSessionQueuedBytes(),
                c.maxStreamQueuedBytes());
    }
}
