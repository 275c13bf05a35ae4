package io.spdyproxy.tunnel.spdy;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.spdy.SpdyHeaders;
import io.spdyproxy.spdy.SpdySession;
import io.spdyproxy.spdy.SpdySessionConfig;
import io.spdyproxy.spdy.SpdySessionListener;
import io.spdyproxy.spdy.SpdySessionStats;
import io.spdyproxy.spdy.SpdyStream;
import io.spdyproxy.spdy.SpdyStreamException;
import io.spdyproxy.spdy.SpdyStreamListener;
import io.spdyproxy.tunnel.RequestHandler;
import io.spdyproxy.tunnel.RequestHead;
import io.spdyproxy.tunnel.SessionStats;
import io.spdyproxy.tunnel.StreamClosedException;
import io.spdyproxy.tunnel.StreamHandler;
import io.spdyproxy.tunnel.StreamObserver;
import io.spdyproxy.tunnel.TunnelExchange;
import io.spdyproxy.tunnel.TunnelSession;
import io.spdyproxy.tunnel.TunnelStream;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.net.SocketAddress;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;

/**
 * The SPDY/3.1 implementation of {@link TunnelSession}: an adapter over {@link SpdySession}, which
 * does all the work (flow control, priorities, limits). Streams the peer opens become
 * {@link TunnelExchange}s for a {@link RequestHandler}; streams this side opens report to a
 * {@link StreamHandler}. Each SPDY stream has exactly one {@link SpdyTunnelStream}, so callers may
 * compare streams by identity.
 *
 * <p>Threading: as {@link SpdySession}; listeners run on the session's loop.
 */
public final class SpdyTunnelSession implements TunnelSession {
    private final boolean upgrades;
    private SpdySession session;
    private volatile StreamObserver.Factory observers = StreamObserver.Factory.NONE;

    private SpdyTunnelSession(boolean upgrades) {
        this.upgrades = upgrades;
    }

    /**
     * Installs a SPDY session on {@code channel} (call on its event loop, as
     * {@link SpdySession#install} requires).
     *
     * @param handler answers the streams the peer opens; null to refuse them (the proxy's side)
     * @param upgrades the peer said it carries upgrades (see {@link TunnelSession#supportsUpgrade()})
     */
    public static SpdyTunnelSession install(Channel channel, SpdySessionConfig config, RequestHandler handler,
            boolean upgrades) {
        SpdyTunnelSession t = new SpdyTunnelSession(upgrades);
        if (handler instanceof StreamObserver.Factory f) {
            t.observers = f; // before the first stream can arrive
        }
        SpdySessionListener listener = handler == null ? SpdySessionListener.refusingStreams()
                : (stream, headers) -> new ServerBridge(t, handler);
        t.session = SpdySession.install(channel, config, listener);
        return t;
    }

    /**
     * A session listener that answers each stream the peer opens with {@code handler}, for
     * serving tunnel handlers on plain SPDY connections ({@code SpdyServer}: the example server,
     * tests). Each stream gets its own view of the session.
     */
    public static SpdySessionListener listener(RequestHandler handler) {
        return (stream, headers) -> new ServerBridge(null, handler);
    }

    /** The SPDY stream under a stream of a SPDY tunnel, for diagnostics and tests of the wire. */
    public static SpdyStream unwrap(TunnelStream stream) {
        return ((SpdyTunnelStream) stream).spdyStream();
    }

    /** The SPDY session underneath, for the tunnel package's own diagnostics and tests. */
    public SpdySession spdySession() {
        return session;
    }

    @Override
    public CompletableFuture<TunnelStream> open(RequestHead head, int priority, boolean endOfStream,
            StreamHandler handler) {
        ClientBridge bridge = new ClientBridge(this, handler);
        SpdyHeaders h = SpdyHeads.request(head, upgrades);
        CompletableFuture<TunnelStream> out = new CompletableFuture<>();
        session.newStream(h, priority, endOfStream, bridge).whenComplete((s, e) -> {
            if (e != null) {
                out.completeExceptionally(SpdyErrors.opening(e));
            } else {
                out.complete(bridge.wrap(s));
            }
        });
        return out;
    }

    @Override
    public String protocol() {
        return session.config().protocol().alpnId();
    }

    @Override
    public io.netty.buffer.ByteBufAllocator alloc() {
        return session.channel().alloc();
    }

    @Override
    public EventLoop eventLoop() {
        return session.channel().eventLoop();
    }

    @Override
    public State state() {
        return switch (session.state()) {
            case ACTIVE -> State.ACTIVE;
            case DRAINING -> State.DRAINING;
            case CLOSED -> State.CLOSED;
        };
    }

    @Override
    public boolean isAcceptingStreams() {
        return session.isAcceptingStreams();
    }

    @Override
    public boolean supportsUpgrade() {
        return upgrades;
    }

    @Override
    public SessionStats stats() {
        SpdySessionStats s = session.stats();
        return new SessionStats(s.dataBytesSent(), s.dataBytesReceived(), s.streamsOpened(), s.activeStreams(),
                s.queuedBytes());
    }

    @Override
    public void observe(StreamObserver.Factory factory) {
        observers = factory;
    }

    @Override
    public SocketAddress remoteAddress() {
        return session.channel().remoteAddress();
    }

    @Override
    public CompletableFuture<Duration> ping() {
        return session.ping();
    }

    @Override
    public CompletableFuture<Void> shutdownGracefully(Duration deadline) {
        return session.shutdownGracefully(deadline);
    }

    @Override
    public CompletableFuture<Void> close() {
        return session.close();
    }

    @Override
    public CompletableFuture<Void> closeFuture() {
        return session.closeFuture();
    }

    @Override
    public String toString() {
        return session.toString();
    }

    /** The events of a stream this side opened, handed on with the tunnel's types. */
    private static final class ClientBridge implements SpdyStreamListener {
        private final SpdyTunnelSession session;
        private final StreamHandler handler;
        private final StreamObserver observer;
        private SpdyTunnelStream wrapper;
        private boolean headSeen;

        ClientBridge(SpdyTunnelSession session, StreamHandler handler) {
            this.session = session;
            this.handler = handler;
            this.observer = session.observers.streamOpened();
        }

        /** The one wrapper of this stream; the open future and the first event may race for it. */
        synchronized SpdyTunnelStream wrap(SpdyStream s) {
            if (wrapper == null) {
                wrapper = new SpdyTunnelStream(s, session);
            }
            return wrapper;
        }

        @Override
        public void onHeaders(SpdyStream s, SpdyHeaders headers, boolean endOfStream) {
            if (!headSeen) {
                headSeen = true;
                handler.onHead(wrap(s), SpdyHeads.toResponseHead(headers), endOfStream);
            } else {
                handler.onTrailers(wrap(s), SpdyHeads.toRawTrailers(headers), endOfStream);
            }
        }

        @Override
        public void onData(SpdyStream s, ByteBuf data, boolean endOfStream) {
            handler.onData(wrap(s), data, endOfStream);
        }

        @Override
        public void onWritabilityChanged(SpdyStream s) {
            if (!s.isWritable()) {
                observer.sendStalled();
            }
            handler.onWritabilityChanged(wrap(s));
        }

        @Override
        public void onClosed(SpdyStream s, SpdyStreamException cause) {
            StreamClosedException c = SpdyErrors.closed(cause);
            observer.closed(c, s.bytesSent(), s.bytesReceived());
            handler.onClosed(wrap(s), c);
        }
    }

    /** A stream the peer opened: its head becomes a {@link TunnelExchange} for the handler. */
    private static final class ServerBridge implements SpdyStreamListener {
        private final SpdyTunnelSession session;
        private final RequestHandler handler;
        private SpdyTunnelStream wrapper;
        private TunnelExchange exchange;

        ServerBridge(SpdyTunnelSession session, RequestHandler handler) {
            this.session = session;
            this.handler = handler;
        }

        @Override
        public void onHeaders(SpdyStream s, SpdyHeaders headers, boolean endOfStream) {
            if (exchange != null) {
                exchange.onTrailers(wrapper, SpdyHeads.toRawTrailers(headers), endOfStream);
                return;
            }
            SpdyTunnelSession view = session;
            if (view == null) {
                view = new SpdyTunnelSession(true);
                view.session = s.session();
            }
            wrapper = new SpdyTunnelStream(s, view);
            wrapper.observer = view.observers.streamOpened();
            HttpRequest request;
            try {
                request = SpdyHeads.toRequest(headers, view.upgrades);
            } catch (IllegalArgumentException e) {
                // SPDY/3 section 3.2.1: a request without its required headers gets 400.
                exchange = new TunnelExchange(wrapper, null, SpdyHeads.scheme(headers), !endOfStream);
                exchange.respond(HttpResponseStatus.BAD_REQUEST, "text/plain; charset=utf-8", e.getMessage() + "\n");
                return;
            }
            exchange = new TunnelExchange(wrapper, request, SpdyHeads.scheme(headers), !endOfStream);
            handler.onRequest(exchange);
        }

        @Override
        public void onData(SpdyStream s, ByteBuf data, boolean endOfStream) {
            exchange.onData(wrapper, data, endOfStream);
        }

        @Override
        public void onWritabilityChanged(SpdyStream s) {
            if (exchange != null) {
                if (!s.isWritable()) {
                    wrapper.observer.sendStalled();
                }
                exchange.onWritabilityChanged(wrapper);
            }
        }

        @Override
        public void onClosed(SpdyStream s, SpdyStreamException cause) {
            if (exchange != null) {
                StreamClosedException c = SpdyErrors.closed(cause);
                wrapper.observer.closed(c, s.bytesSent(), s.bytesReceived());
                exchange.onClosed(wrapper, c);
            }
        }
    }
}
