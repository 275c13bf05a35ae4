package io.spdyproxy.tunnel.h2;

import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2Settings;
import io.spdyproxy.tunnel.RequestHandler;
import io.spdyproxy.tunnel.RequestHead;
import io.spdyproxy.tunnel.SessionStats;
import io.spdyproxy.tunnel.StreamHandler;
import io.spdyproxy.tunnel.StreamObserver;
import io.spdyproxy.tunnel.TunnelSession;
import io.spdyproxy.tunnel.TunnelStream;
import java.net.SocketAddress;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;

/**
 * The HTTP/2 implementation of {@link TunnelSession} (RFC 9113), over Netty's {@link
 * Http2FrameCodec}: the origin is the HTTP/2 server, the proxy the client (it sends the
 * connection preface right after the handshake's {@code 200}). Streams the peer opens become
 * {@link io.spdyproxy.tunnel.TunnelExchange}s for a {@link RequestHandler}; streams this side
 * opens report to a {@link StreamHandler}.
 *
 * <p>Why the frame codec alone and not {@code Http2MultiplexHandler}: the tunnel API is already a
 * stream abstraction with its own flow control contract ({@code consume(n)} alone returns window,
 * writability from the window plus a session budget). Child channels would put a second one in
 * between (their own auto-read, read-driven window updates, channel writability per stream) that
 * the adapter would have to defeat; on the frame codec one handler maps frames to streams and
 * writes WINDOW_UPDATE frames exactly when a stream's bytes were consumed.
 *
 * <p>Threading: every method may be called from any thread; the session and its streams live on
 * the channel's event loop.
 */
public final class H2TunnelSession implements TunnelSession {
    /** The protocol's name as ALPN spells it (RFC 9113 section 3.2), and in the tunnel handshake. */
    public static final String PROTOCOL = "h2";

    private final Channel channel;
    private final boolean upgrades;
    private H2Connection conn;
    private volatile StreamObserver.Factory observers = StreamObserver.Factory.NONE;

    private H2TunnelSession(Channel channel, boolean upgrades) {
        this.channel = channel;
        this.upgrades = upgrades;
    }

    /**
     * Installs an HTTP/2 session on {@code channel}, last in its pipeline (call on its event loop).
     *
     * @param server this side is the HTTP/2 server (the origin); the client sends the preface
     * @param handler answers the streams the peer opens; null to open streams only (the proxy)
     * @param upgrades the peer said it carries upgrades (see {@link TunnelSession#supportsUpgrade()})
     */
    public static H2TunnelSession install(Channel channel, boolean server, H2TunnelConfig config,
            RequestHandler handler, boolean upgrades) {
        H2TunnelSession t = new H2TunnelSession(channel, upgrades);
        if (handler instanceof StreamObserver.Factory f) {
            t.observers = f; // before the first stream can arrive
        }
        Http2Settings settings = new Http2Settings()
                .initialWindowSize(config.streamWindow())
                .maxConcurrentStreams(config.maxConcurrentStreams())
                .maxFrameSize(config.maxFrameSize())
                .maxHeaderListSize(config.maxHeaderListSize());
        if (!server) {
            settings.pushEnabled(false); // RFC 9113 section 8.4: the proxy takes no pushed streams
        }
        Http2FrameCodec codec = (server ? Http2FrameCodecBuilder.forServer() : Http2FrameCodecBuilder.forClient())
                .initialSettings(settings)
                .validateHeaders(true)
                // Attack limits for a peer on the internet (the proxy's tunnel port) or a
                // compromised proxy: rapid reset, owed control frames, empty DATA floods.
                .decoderEnforceMaxRstFramesPerWindow(config.maxResetsPerWindow(),
                        (int) config.resetWindow().toSeconds())
                // ... and the resets the peer provokes from us (Netty's default of 200 per 30 s
                // for a server is one browser's worth; a tunnel carries many clients' cancels).
                .encoderEnforceMaxRstFramesPerWindow(config.maxResetsPerWindow(),
                        (int) config.resetWindow().toSeconds())
                .encoderEnforceMaxQueuedControlFrames(config.maxQueuedControlFrames())
                .decoderEnforceMaxConsecutiveEmptyDataFrames(config.maxConsecutiveEmptyFrames())
                // Over our limit a new stream is refused at once (retryable), never buffered.
                .encoderEnforceMaxConcurrentStreams(false)
                .decoupleCloseAndGoAway(true)
                .build();
        t.conn = new H2Connection(t, channel, config, handler, upgrades);
        channel.pipeline().addLast("h2", codec);
        channel.pipeline().addLast("h2-tunnel", t.conn);
        return t;
    }

    /**
     * Sends {@code headers} on {@code stream} exactly as given, unvalidated by this side (the codec
     * encodes them as they are): for tests of what a lying or broken peer can do.
     */
    public static void sendRawHeaders(TunnelStream stream, Http2Headers headers, boolean endOfStream) {
        ((H2TunnelStream) stream).sendRawHeaders(headers, endOfStream);
    }

    @Override
    public void observe(StreamObserver.Factory factory) {
        observers = factory;
    }

    /** The observer of a stream being created. */
    StreamObserver streamObserver() {
        return observers.streamOpened();
    }

    @Override
    public CompletableFuture<TunnelStream> open(RequestHead head, int priority, boolean endOfStream,
            StreamHandler handler) {
        // Priority: RFC 9113 section 5.3.2 deprecates HTTP/2's priority scheme; nothing is sent.
        CompletableFuture<TunnelStream> out = new CompletableFuture<>();
        if (!conn.execute(() -> conn.open(head, endOfStream, handler, out))) {
            out.completeExceptionally(conn.closedException());
        }
        return out;
    }

    @Override
    public String protocol() {
        return PROTOCOL;
    }

    @Override
    public ByteBufAllocator alloc() {
        return channel.alloc();
    }

    @Override
    public EventLoop eventLoop() {
        return channel.eventLoop();
    }

    @Override
    public State state() {
        return conn.state();
    }

    @Override
    public boolean isAcceptingStreams() {
        return conn.isAcceptingStreams();
    }

    @Override
    public boolean supportsUpgrade() {
        return upgrades;
    }

    @Override
    public SessionStats stats() {
        return new SessionStats(conn.dataBytesSent(), conn.dataBytesReceived(), conn.streamsOpened(),
                conn.activeStreams(), conn.budget().queuedBytes());
    }

    /** The most this session ever held for sending, for memory checks. */
    public long maxQueuedBytes() {
        return conn.budget().maxQueuedBytes();
    }

    @Override
    public SocketAddress remoteAddress() {
        return channel.remoteAddress();
    }

    @Override
    public CompletableFuture<Duration> ping() {
        CompletableFuture<Duration> out = new CompletableFuture<>();
        if (!conn.execute(() -> conn.ping(out))) {
            out.completeExceptionally(conn.closedException());
        }
        return out;
    }

    @Override
    public CompletableFuture<Void> shutdownGracefully(Duration deadline) {
        if (!conn.execute(() -> conn.shutdownGracefully(deadline))) {
            channel.close();
        }
        return conn.closeFuture();
    }

    @Override
    public CompletableFuture<Void> close() {
        if (!conn.execute(conn::close)) {
            channel.close();
        }
        return conn.closeFuture();
    }

    @Override
    public CompletableFuture<Void> closeFuture() {
        return conn.closeFuture();
    }

    @Override
    public String toString() {
        return "H2TunnelSession(" + channel + ", " + conn.state() + ", streams=" + conn.activeStreams() + ')';
    }
}
