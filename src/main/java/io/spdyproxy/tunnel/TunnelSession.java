package io.spdyproxy.tunnel;

import io.netty.channel.EventLoop;
import java.net.SocketAddress;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;

/**
 * A multiplexed tunnel connection between proxy and origin, whatever its protocol (SPDY/3.1
 * today): the proxy opens streams on it, the origin answers them.
 *
 * <p>Threading: every method may be called from any thread. A session and its streams live on
 * one event loop, {@link #eventLoop()}; work that touches many of its streams (a client
 * connection's exchange) is cheapest on that loop.
 */
public interface TunnelSession {
    /** Lifecycle: accepting streams, draining after a GOAWAY either way, closed. */
    enum State {
        ACTIVE,
        DRAINING,
        CLOSED
    }

    /**
     * Opens a stream carrying {@code head}. The future fails with a {@link StreamClosedException}
     * (retryable when the peer never saw it) when the session cannot take it. {@code handler}'s
     * events may arrive before the future's own callbacks run on another thread.
     *
     * @param priority 0 (highest) to 7
     * @param endOfStream no body follows the head
     */
    CompletableFuture<TunnelStream> open(RequestHead head, int priority, boolean endOfStream, StreamHandler handler);

    /** The tunnel protocol's name as ALPN spells it ({@code spdy/3.1}, {@code spdy/3}). */
    String protocol();

    /** The allocator of the session's connection, for buffers sent on its streams. */
    io.netty.buffer.ByteBufAllocator alloc();

    /** The loop the session and all its streams run on. */
    EventLoop eventLoop();

    State state();

    /** True while a new stream could be opened (active, ids left, below the peer's limit). */
    boolean isAcceptingStreams();

    /**
     * True when the peer said it can carry an HTTP upgrade (a {@code 101} and the raw bytes after
     * it) on a stream; a legacy peer cannot, and never sees an {@code Upgrade} header.
     */
    boolean supportsUpgrade();

    SessionStats stats();

    /**
     * Streams opened from now on report to observers {@code factory} makes (see
     * {@link StreamObserver}); a session serving a {@link RequestHandler} that is also a factory
     * uses it from its first stream.
     */
    default void observe(StreamObserver.Factory factory) {}

    SocketAddress remoteAddress();

    /** Measures a round trip. */
    CompletableFuture<Duration> ping();

    /** No new streams either way; open ones may finish within {@code deadline}, then it closes. */
    CompletableFuture<Void> shutdownGracefully(Duration deadline);

    CompletableFuture<Void> close();

    CompletableFuture<Void> closeFuture();
}
