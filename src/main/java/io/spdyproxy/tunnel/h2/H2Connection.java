package io.spdyproxy.tunnel.h2;

import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http2.DefaultHttp2GoAwayFrame;
import io.netty.handler.codec.http2.DefaultHttp2WindowUpdateFrame;
import io.netty.handler.codec.http2.Http2ChannelDuplexHandler;
import io.netty.handler.codec.http2.Http2Connection;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2FrameStream;
import io.netty.handler.codec.http2.Http2FrameStreamEvent;
import io.netty.handler.codec.http2.Http2FrameStreamException;
import io.netty.handler.codec.http2.Http2GoAwayFrame;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2PingFrame;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.handler.codec.http2.Http2Stream;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.collection.IntObjectHashMap;
import io.netty.util.concurrent.ScheduledFuture;
import io.spdyproxy.tunnel.RequestHandler;
import io.spdyproxy.tunnel.RequestHead;
import io.spdyproxy.tunnel.StreamClosedException;
import io.spdyproxy.tunnel.StreamError;
import io.spdyproxy.tunnel.StreamHandler;
import io.spdyproxy.tunnel.TunnelSession;
import io.spdyproxy.tunnel.TunnelStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The tunnel's side of one HTTP/2 connection, right after Netty's {@link Http2FrameCodec}: turns
 * the codec's frames and stream events into {@link H2TunnelStream} calls and writes what the
 * streams ask for. The codec does the protocol (framing, HPACK, stream states, both flow
 * controllers, the attack limits); this class only wires it to the tunnel API, plus the lifecycle
 * (GOAWAY either way, graceful shutdown), the session's send budget and keepalive.
 *
 * <p>Threading: confined to the channel's event loop, except {@link #execute}, the budget and the
 * volatile state, which any thread may read.
 */
final class H2Connection extends Http2ChannelDuplexHandler {
    static final Logger log = LoggerFactory.getLogger(H2TunnelSession.class);

    private final H2TunnelSession session;
    private final H2TunnelConfig config;
    private final RequestHandler requests;
    private final boolean upgrades;
    private final Channel channel;
    private final H2SendBudget budget;
    private final H2Keepalive keepalive;
    private final IntObjectHashMap<H2TunnelStream> streams = new IntObjectHashMap<>();
    private final CompletableFuture<Void> closeFuture = new CompletableFuture<>();
    private final AtomicLong dataSent = new AtomicLong();
    private final AtomicLong dataReceived = new AtomicLong();
    private final AtomicLong streamsOpened = new AtomicLong();
    private volatile TunnelSession.State state = TunnelSession.State.ACTIVE;
    private volatile int activeStreams;
    private Http2FrameCodec codec;
    private ChannelHandlerContext ctx;
    private H2Writer writer;
    private ScheduledFuture<?> shutdownDeadline;

    H2Connection(H2TunnelSession session, Channel channel, H2TunnelConfig config, RequestHandler requests,
            boolean upgrades) {
        this.session = session;
        this.channel = channel;
        this.config = config;
        this.requests = requests;
        this.upgrades = upgrades;
        this.budget = new H2SendBudget(channel, config.maxSessionQueuedBytes());
        this.keepalive = new H2Keepalive(this, config);
        channel.closeFuture().addListener(f -> closeFuture.complete(null));
    }

    // ---- for streams and the session -----------------------------------------------------------

    H2TunnelSession session() {
        return session;
    }

    H2TunnelConfig config() {
        return config;
    }

    H2SendBudget budget() {
        return budget;
    }

    boolean upgrades() {
        return upgrades;
    }

    Channel channel() {
        return channel;
    }

    EventLoop loop() {
        return channel.eventLoop();
    }

    TunnelSession.State state() {
        return state;
    }

    int activeStreams() {
        return activeStreams;
    }

    long dataBytesSent() {
        return dataSent.get();
    }

    long dataBytesReceived() {
        return dataReceived.get();
    }

    long streamsOpened() {
        return streamsOpened.get();
    }

    CompletableFuture<Void> closeFuture() {
        return closeFuture;
    }

    /** Runs {@code task} on the loop (at once when already there); false when the loop is gone. */
    boolean execute(Runnable task) {
        EventLoop loop = channel.eventLoop();
        if (loop.inEventLoop()) {
            task.run();
            return true;
        }
        try {
            loop.execute(task);
            return true;
        } catch (RejectedExecutionException e) {
            return false;
        }
    }

    /** True while a new stream could be opened: active, ids left, under the peer's limit. */
    boolean isAcceptingStreams() {
        if (state != TunnelSession.State.ACTIVE || codec == null || !channel.isActive()) {
            return false;
        }
        Http2Connection.Endpoint<?> local = codec.connection().local();
        // Ids run out at 2^31-1 (RFC 9113 section 5.1.1); a client's are odd.
        return local.canOpenStream() && local.lastStreamCreated() < Integer.MAX_VALUE - 2;
    }

    void open(RequestHead head, boolean endOfStream, StreamHandler handler, CompletableFuture<TunnelStream> out) {
        if (!isAcceptingStreams()) {
            out.completeExceptionally(new StreamClosedException(StreamError.REFUSED, true, true,
                    "session not accepting streams (" + state + ")"));
            return;
        }
        H2TunnelStream s = new H2TunnelStream(this, newStream(), handler);
        ChannelFuture f = writer.headers(s.frame(), H2Heads.request(head, upgrades), endOfStream);
        if (f.isDone() && !f.isSuccess()) {
            // The peer never saw it (its limit, the connection): safe to send elsewhere.
            out.completeExceptionally(new StreamClosedException(StreamError.REFUSED, true, true,
                    "stream not opened: " + f.cause()));
            return;
        }
        streams.put(s.id(), s);
        activeStreams = streams.size();
        streamsOpened.incrementAndGet();
        if (endOfStream) {
            s.onLocalEndSent();
        }
        out.complete(s);
    }

    H2Writer writer() {
        return writer;
    }

    /** The remote flow controller's view of {@code stream}: its window and the connection's. */
    boolean flowWritable(Http2FrameStream stream) {
        Http2Stream s = codec.connection().stream(stream.id());
        return s != null && codec.connection().remote().flowController().isWritable(s);
    }

    void dataSent(int n) {
        dataSent.addAndGet(n);
    }

    void dataReceived(int n) {
        dataReceived.addAndGet(n);
    }

    void removed(H2TunnelStream s) {
        streams.remove(s.id());
        activeStreams = streams.size();
        if (state == TunnelSession.State.DRAINING && streams.isEmpty()) {
            channel.close(); // drained: the graceful shutdown (ours or the peer's) is done
        }
    }

    /**
     * Why {@code s} ended under the session: above the peer's GOAWAY last-stream-id it provably
     * never reached the peer's application (RFC 9113 section 6.8), so it may be retried.
     */
    StreamClosedException closedUnder(H2TunnelStream s) {
        if (s.isLocal() && codec != null && s.id() > codec.connection().local().lastStreamKnownByPeer()) {
            return new StreamClosedException(StreamError.REFUSED, true, false,
                    "stream " + s.id() + " above the peer's GOAWAY last-stream-id");
        }
        return new StreamClosedException(StreamError.SESSION_CLOSED, false, false, "session closed");
    }

    StreamClosedException closedException() {
        return new StreamClosedException(StreamError.SESSION_CLOSED, false, false, "session closed");
    }

    // ---- lifecycle -----------------------------------------------------------------------------

    void ping(CompletableFuture<Duration> result) {
        if (!channel.isActive()) {
            result.completeExceptionally(closedException());
            return;
        }
        keepalive.ping(result);
    }

    /** GOAWAY (NO_ERROR), then close once the open streams ended or at {@code deadline}. */
    void shutdownGracefully(Duration deadline) {
        if (!channel.isActive()) {
            return;
        }
        if (state == TunnelSession.State.ACTIVE) {
            state = TunnelSession.State.DRAINING;
            writer.write(new DefaultHttp2GoAwayFrame(Http2Error.NO_ERROR));
        }
        if (streams.isEmpty()) {
            ctx.writeAndFlush(io.netty.buffer.Unpooled.EMPTY_BUFFER)
                    .addListener(f -> channel.close());
            return;
        }
        if (shutdownDeadline == null) {
            shutdownDeadline = loop().schedule(() -> {
                log.info("{}: {} streams still open at the shutdown deadline {}; closing", channel, streams.size(),
                        deadline);
                channel.close();
            }, deadline.toNanos(), TimeUnit.NANOSECONDS);
        }
    }

    void close() {
        if (channel.isActive() && state == TunnelSession.State.ACTIVE) {
            state = TunnelSession.State.DRAINING;
            ctx.writeAndFlush(new DefaultHttp2GoAwayFrame(Http2Error.NO_ERROR)).addListener(f -> channel.close());
        } else {
            channel.close();
        }
    }

    // ---- the codec's events --------------------------------------------------------------------

    @Override
    protected void handlerAdded0(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        this.writer = new H2Writer(ctx);
        this.codec = ctx.pipeline().get(Http2FrameCodec.class);
        // The codec grows the connection window to twice the stream window; ours is configured.
        int grow = config.connectionWindow() - (2 * config.streamWindow() - 65_535);
        if (grow > 0) {
            ctx.write(new DefaultHttp2WindowUpdateFrame(grow));
        }
        ctx.flush();
        keepalive.start();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        writer.readStarted();
        keepalive.frameReceived();
        try {
            if (msg instanceof Http2HeadersFrame f) {
                headers(f);
            } else if (msg instanceof Http2DataFrame f) {
                H2TunnelStream s = streams.get(f.stream().id());
                if (s == null) {
                    f.release();
                } else {
                    s.onData(f);
                }
            } else if (msg instanceof Http2ResetFrame f) {
                H2TunnelStream s = streams.get(f.stream().id());
                if (s != null) {
                    s.onReset(f.errorCode());
                }
            } else if (msg instanceof Http2PingFrame f) {
                if (f.ack()) {
                    keepalive.onPingAck(f.content());
                }
            } else if (msg instanceof Http2GoAwayFrame f) {
                goAway(f);
            } else {
                ReferenceCountUtil.release(msg);
            }
        } catch (RuntimeException e) {
            log.warn("{}: failed handling {}", channel, msg, e);
        }
    }

    private void headers(Http2HeadersFrame f) {
        int id = f.stream().id();
        H2TunnelStream s = streams.get(id);
        if (s == null) {
            if (requests == null || codec.connection().local().isValidStreamId(id)) {
                return; // a stream we never opened or already forgot: the codec handles its state
            }
            s = new H2TunnelStream(this, f.stream(), null);
            streams.put(id, s);
            activeStreams = streams.size();
            streamsOpened.incrementAndGet();
        }
        s.onHeaders(f.headers(), f.isEndStream(), requests);
    }

    private void goAway(Http2GoAwayFrame f) {
        try {
            log.debug("{}: GOAWAY from peer, last stream {}, code {}", channel, f.lastStreamId(), f.errorCode());
            if (state == TunnelSession.State.ACTIVE) {
                state = TunnelSession.State.DRAINING;
            }
            if (streams.isEmpty()) {
                channel.close();
            }
        } finally {
            f.release();
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        writer.readComplete();
        ctx.fireChannelReadComplete();
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof Http2FrameStreamEvent e) {
            H2TunnelStream s = streams.get(e.stream().id());
            if (s != null) {
                if (e.type() == Http2FrameStreamEvent.Type.Writability) {
                    s.refreshFlow();
                } else if (e.stream().state() == Http2Stream.State.CLOSED) {
                    s.closedByCodec();
                }
            }
            return;
        }
        ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (ctx.channel().isWritable() && !streams.isEmpty()) {
            // Netty's view of a stream's writability includes the channel's, but it signals only
            // the changes of its own marks, which do not follow the channel going unwritable: a
            // stream that read "not writable" while the channel was briefly full (a write's promise
            // completes before the channel's pending bytes drop) would hear nothing when the
            // channel drained, and its producer would wait for ever. Look again at every stream.
            for (H2TunnelStream s : new ArrayList<>(streams.values())) {
                s.refreshFlow();
            }
        }
        budget.wakeIfOpen();
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (cause instanceof Http2FrameStreamException e) {
            // The codec leaves resetting a stream it found broken to us (Http2FrameCodec#onStreamError).
            H2TunnelStream s = streams.get(e.stream().id());
            log.debug("{}: stream {} broke the protocol: {}", channel, e.stream().id(), String.valueOf(e.getCause()));
            if (s != null) {
                s.onStreamError(StreamError.PROTOCOL_ERROR, "peer broke HTTP/2 on the stream: " + e.getCause());
                s.resetWith(e.error());
            } else {
                writer.reset(e.stream(), e.error());
            }
            return;
        }
        // Connection errors: the codec sends GOAWAY and closes; say why once.
        log.warn("{}: HTTP/2 tunnel session failed: {}", channel, cause.toString());
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        state = TunnelSession.State.CLOSED;
        if (shutdownDeadline != null) {
            shutdownDeadline.cancel(false);
        }
        keepalive.stop(closedException());
        for (H2TunnelStream s : new ArrayList<>(streams.values())) {
            s.closedByCodec();
        }
        budget.wakeIfOpen();
        ctx.fireChannelInactive();
    }
}
