package io.spdyproxy.origin.inspect;

import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.EventLoop;
import io.spdyproxy.tunnel.RequestHead;
import io.spdyproxy.tunnel.SessionStats;
import io.spdyproxy.tunnel.StreamClosedException;
import io.spdyproxy.tunnel.StreamError;
import io.spdyproxy.tunnel.StreamHandler;
import io.spdyproxy.tunnel.TunnelSession;
import io.spdyproxy.tunnel.TunnelStream;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;

/**
 * The session replayed requests belong to: an event loop and an allocator, which is all an
 * origin's handler asks of a session. It opens no streams and carries no upgrades.
 *
 * <p>Threading: immutable.
 */
final class LocalSession implements TunnelSession {
    private final EventLoop loop;
    private final CompletableFuture<Void> never = new CompletableFuture<>();

    LocalSession(EventLoop loop) {
        this.loop = loop;
    }

    @Override
    public CompletableFuture<TunnelStream> open(RequestHead head, int priority, boolean endOfStream,
            StreamHandler handler) {
        return CompletableFuture.failedFuture(new StreamClosedException(StreamError.REFUSED, false, true,
                "the inspector's replay session opens no streams"));
    }

    @Override
    public String protocol() {
        return "replay";
    }

    @Override
    public ByteBufAllocator alloc() {
        return ByteBufAllocator.DEFAULT;
    }

    @Override
    public EventLoop eventLoop() {
        return loop;
    }

    @Override
    public State state() {
        return State.ACTIVE;
    }

    @Override
    public boolean isAcceptingStreams() {
        return false;
    }

    @Override
    public boolean supportsUpgrade() {
        return false;
    }

    @Override
    public SessionStats stats() {
        return new SessionStats(0, 0, 0, 0, 0);
    }

    @Override
    public SocketAddress remoteAddress() {
        return new InetSocketAddress("127.0.0.1", 0);
    }

    @Override
    public CompletableFuture<Duration> ping() {
        return CompletableFuture.completedFuture(Duration.ZERO);
    }

    @Override
    public CompletableFuture<Void> shutdownGracefully(Duration deadline) {
        return CompletableFuture.completedFuture(null);
    }

    @Override
    public CompletableFuture<Void> close() {
        return CompletableFuture.completedFuture(null);
    }

    @Override
    public CompletableFuture<Void> closeFuture() {
        return never;
    }
}
