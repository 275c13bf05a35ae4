package io.spdyproxy.bench;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;
import io.spdyproxy.transport.Transport;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A plain-HTTP WebSocket and Server-Sent Events app, the "app" behind an origin's {@code
 * --upstream} in tests and in the benchmark. Modes by path:
 *
 * <ul>
 *   <li>{@code /echo}: every data frame (text, binary, continuation) back as it came, so a
 *       fragmented message comes back fragmented the same way; messages up to {@link
 *       #MAX_FRAME} per frame. Reads stop while the connection is not writable, so the app holds
 *       at most one frame plus the channel's high-water mark per connection.
 *   <li>{@code /flood}: binary messages of {@link #FLOOD_MESSAGE} bytes for ever, written only
 *       while the channel is writable (bounded memory whatever the reader does); see {@link
 *       #nextFloodStall()}.
 *   <li>{@code /sink}: binary data counted and dropped; a text message is answered with the count
 *       of bytes received so far (upload throughput).
 *   <li>{@code /close?code=4001&reason=x}: a close frame with that code and reason right after
 *       the handshake, then the TCP close (RFC 6455 section 7.1.1: the server closes first).
 *   <li>{@code /die}: the TCP connection closed without a close frame after the first message
 *       (the client must see an abnormal closure, 1006).
 *   <li>{@code /events}: {@code text/event-stream}; one event per {@link #publish} call, flushed
 *       at once, so a test can prove event N arrived before event N+1 was produced.
 * </ul>
 *
 * <p>Threading: each connection is confined to its event loop; the counters and the SSE
 * subscriber set are thread-safe, and {@link #publish} hops onto each subscriber's loop.
 */
public final class WebSocketApp implements AutoCloseable {
    /** The largest frame the app accepts (a 100 MiB message sent as one frame fits). */
    public static final int MAX_FRAME = 128 << 20;
    /** The size of each {@code /flood} message. */
    public static final int FLOOD_MESSAGE = 16 * 1024;
    /** A flood that made no progress for this long while unwritable counts as stalled. */
    static final Duration STALL = Duration.ofMillis(300);

    private final EventLoopGroup group;
    private final boolean ownGroup;
    private final Channel server;
    private final Counters counters = new Counters();
    private final SseSubscribers sse = new SseSubscribers();

    private WebSocketApp(EventLoopGroup group, boolean ownGroup, InetSocketAddress bind, ByteBufAllocator alloc)
            throws InterruptedException {
        this.group = group;
        this.ownGroup = ownGroup;
        this.server = new ServerBootstrap().group(group).channel(Transport.serverChannel())
                .childOption(ChannelOption.ALLOCATOR, alloc)
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        // Requests here have no body (upgrade and SSE are GETs): a small limit.
                        ch.pipeline().addLast(new HttpServerCodec(), new HttpObjectAggregator(64 * 1024),
                                new WebSocketAppRouter(counters, sse));
                    }
                }).bind(bind).sync().channel();
    }

    /** Starts the app on {@code host}, port 0, with its own single event loop. */
    public static WebSocketApp start(String host) throws InterruptedException {
        return start(host, ByteBufAllocator.DEFAULT);
    }

    /**
     * {@link #start(String)} with the connections' buffers from {@code alloc}. Tests pass one
     * without leak tracking: at the paranoid level every access to a tracked buffer records a
     * stack trace, and (un)masking a frame reads and writes it 8 bytes at a time, which makes a
     * 100 MiB message take minutes in the harness instead of a second.
     */
    public static WebSocketApp start(String host, ByteBufAllocator alloc) throws InterruptedException {
        return new WebSocketApp(Transport.newGroup(1, "ws-app"), true, new InetSocketAddress(host, 0), alloc);
    }

    /** Starts the app on {@code bind} on loops of {@code group}, which the caller owns. */
    public static WebSocketApp start(InetSocketAddress bind, EventLoopGroup group) throws InterruptedException {
        return new WebSocketApp(group, false, bind, ByteBufAllocator.DEFAULT);
    }

    public int port() {
        return ((InetSocketAddress) server.localAddress()).getPort();
    }

    /** WebSockets open now. */
    public int openWebSockets() {
        return counters.open.get();
    }

    /** The most WebSockets that were open at the same time. */
    public int maxOpenWebSockets() {
        return counters.maxOpen.get();
    }

    /** Bytes of {@code /flood} messages the app's sockets accepted (summed over connections). */
    public long floodBytesWritten() {
        return counters.floodWritten.get();
    }

    /**
     * Completes the next time a {@code /flood} connection has made no progress for {@link #STALL}
     * while not writable, with the bytes that connection had written by then: the reader's
     * back-pressure reached the app. Call it before the reader stops; each call replaces the
     * previous waiter.
     */
    public CompletableFuture<Long> nextFloodStall() {
        CompletableFuture<Long> f = new CompletableFuture<>();
        counters.floodStall.set(f);
        return f;
    }

    /** Completes when the {@code n}-th {@code /events} subscriber has its response head written. */
    public CompletableFuture<Void> sseSubscribed(int n) {
        return sse.subscribed(n);
    }

    /**
     * Sends {@code data} as one event ({@code id: <n>}, {@code data: <data>}) to every open
     * {@code /events} stream; returns how many streams it went to.
     */
    public int publish(String data) {
        return sse.publish(data);
    }

    @Override
    public void close() {
        server.close().syncUninterruptibly();
        sse.closeAll();
        counters.closeAll();
        if (ownGroup) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    /** What the app's connections report; thread-safe. */
    static final class Counters {
        final AtomicInteger open = new AtomicInteger();
        final AtomicInteger maxOpen = new AtomicInteger();
        final AtomicLong floodWritten = new AtomicLong();
        final java.util.concurrent.atomic.AtomicReference<CompletableFuture<Long>> floodStall =
                new java.util.concurrent.atomic.AtomicReference<>(new CompletableFuture<>());
        final java.util.Set<Channel> channels = java.util.concurrent.ConcurrentHashMap.newKeySet();

        void opened(Channel ch) {
            channels.add(ch);
            maxOpen.accumulateAndGet(open.incrementAndGet(), Math::max);
            ch.closeFuture().addListener(f -> {
                channels.remove(ch);
                open.decrementAndGet();
            });
        }

        void closeAll() {
            for (Channel ch : channels) {
                ch.close();
            }
        }
    }
}
