package io.spdyproxy.spdy;

import static io.spdyproxy.spdy.ScriptedWire.request;
import static org.assertj.core.api.Assertions.assertThat;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.codec.spdy.DefaultSpdyPingFrame;
import io.netty.handler.codec.spdy.DefaultSpdySettingsFrame;
import io.netty.handler.codec.spdy.DefaultSpdyWindowUpdateFrame;
import io.netty.handler.codec.spdy.SpdyDataFrame;
import io.netty.handler.codec.spdy.SpdyFrameCodec;
import io.netty.handler.codec.spdy.SpdyPingFrame;
import io.netty.handler.codec.spdy.SpdyVersion;
import io.netty.util.ReferenceCountUtil;
import io.spdyproxy.spdy.http.SpdyClient;
import io.spdyproxy.transport.Transport;
import java.net.InetSocketAddress;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A peer that grants 2^31-1 (SETTINGS INITIAL_WINDOW_SIZE and a stream-0 WINDOW_UPDATE) and then
 * stops reading its socket, over real loopback connections: a producer that writes only while
 * {@link SpdyStream#isWritable()} must be stopped by the session's own outbound state (the
 * channel's buffer and the session cap), not by the window, so the session's memory stays bounded;
 * it is called back once the peer reads again, and a second session on the same event loop is not
 * held up meanwhile.
 */
class HostilePeerWindowSocketTest {
    private static final int CHUNK = 64 * 1024;
    private static final byte[] ZEROS = new byte[CHUNK];
    private static final long BODY = 256L * 1024 * 1024;
    /** The default maxSessionQueuedBytes. */
    private static final long CAP = 16L * 1024 * 1024;

    private EventLoopGroup peerLoops;
    private EventLoopGroup ourLoop;
    private Channel server;
    private final BlockingQueue<HostilePeer> peers = new LinkedBlockingQueue<>();

    @BeforeEach
    void start() throws Exception {
        peerLoops = Transport.newGroup(1, "hostile-peer");
        ourLoop = Transport.newGroup(1, "our-session");
        server = new ServerBootstrap().group(peerLoops).channel(Transport.serverChannel())
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        HostilePeer p = new HostilePeer();
                        ch.pipeline().addLast(new SpdyFrameCodec(SpdyVersion.SPDY_3_1), p);
                        peers.add(p);
                    }
                }).bind("127.0.0.1", 0).sync().channel();
    }

    @AfterEach
    void stop() throws Exception {
        server.close().sync();
        ourLoop.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        peerLoops.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        assertThat(ourLoop.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
        assertThat(peerLoops.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
    }

    @Test
    @Timeout(60)
    void aPeerThatGrantsEverythingAndStopsReadingCannotMakeUsBuffer() throws Exception {
        SpdySession stalled = connect();
        HostilePeer stalledPeer = peers.poll(10, TimeUnit.SECONDS);
        stalledPeer.ready.get(10, TimeUnit.SECONDS); // it granted 2^31-1, and stopped reading
        SpdySession healthy = connect();
        HostilePeer healthyPeer = peers.poll(10, TimeUnit.SECONDS);
        healthyPeer.ready.get(10, TimeUnit.SECONDS);
        healthyPeer.channel.config().setAutoRead(true); // this one reads all along

        Producer p = new Producer(stalled, BODY);
        p.start();
        CompletableFuture.anyOf(p.firstStop, p.allWritten).get(30, TimeUnit.SECONDS);
        assertThat(p.firstStop).as("the producer was stopped before it wrote the whole %d bytes", BODY).isDone();
        long acceptedWhileStalled = p.firstStop.get();
        System.out.printf("stalled peer: producer stopped after %d bytes, session held at most %d%n",
                acceptedWhileStalled, stalled.stats().maxQueuedBytes());
        assertThat(acceptedWhileStalled).isLessThan(CAP);

        // Another session of the same event loop is not held up by the stalled one.
        Producer other = new Producer(healthy, 32L * 1024 * 1024);
        other.start();
        assertThat(other.allWritten.get(30, TimeUnit.SECONDS)).isEqualTo(32L * 1024 * 1024);
        assertThat(healthyPeer.received(32L * 1024 * 1024).get(30, TimeUnit.SECONDS)).isTrue();
        assertThat(p.allWritten).isNotDone();

        // The stalled peer reads again: the producer is called back and finishes.
        stalledPeer.channel.config().setAutoRead(true);
        assertThat(p.allWritten.get(30, TimeUnit.SECONDS)).isEqualTo(BODY);
        assertThat(stalledPeer.received(BODY).get(30, TimeUnit.SECONDS)).isTrue();
        assertThat(p.callbacks.get()).as("writability callbacks").isPositive();

        SpdySessionStats stats = stalled.stats();
        System.out.printf("after the whole body: session maxQueuedBytes %d, stream maxQueuedBytes %d, %d callbacks%n",
                stats.maxQueuedBytes(), p.stream.maxQueuedBytes(), p.callbacks.get());
        assertThat(stats.maxQueuedBytes()).as("memory the session ever held for sending").isLessThanOrEqualTo(CAP);
        assertThat(p.stream.maxQueuedBytes()).isLessThanOrEqualTo(CAP);
        assertThat(stats.queuedBytes()).isZero();
        stalled.close().get(10, TimeUnit.SECONDS);
        healthy.close().get(10, TimeUnit.SECONDS);
    }

    private SpdySession connect() throws Exception {
        int port = ((InetSocketAddress) server.localAddress()).getPort();
        return SpdyClient.connect(ourLoop, new InetSocketAddress("127.0.0.1", port), null,
                SpdySessionConfig.builder(SpdyRole.CLIENT).build(), SpdySessionListener.refusingStreams())
                .get(10, TimeUnit.SECONDS);
    }

    /**
     * Writes {@code total} bytes on one stream of {@code session}, on its event loop, only while the
     * stream is writable; resumes on the writability callback.
     */
    private static final class Producer implements SpdyStreamListener {
        final CompletableFuture<Long> firstStop = new CompletableFuture<>();
        final CompletableFuture<Long> allWritten = new CompletableFuture<>();
        final AtomicInteger callbacks = new AtomicInteger();
        private final SpdySession session;
        private final long total;
        private long written;
        volatile SpdyStream stream;

        Producer(SpdySession session, long total) {
            this.session = session;
            this.total = total;
        }

        void start() {
            session.newStream(request(), 0, false, this).whenComplete((s, e) -> {
                if (e != null) {
                    allWritten.completeExceptionally(e);
                    return;
                }
                stream = s;
                session.channel().eventLoop().execute(this::produce);
            });
        }

        private void produce() {
            SpdyStream s = stream;
            while (written < total && s.isWritable() && !s.isClosed()) {
                written += CHUNK;
                s.sendData(Unpooled.wrappedBuffer(ZEROS), written == total);
            }
            if (written == total) {
                allWritten.complete(written);
            } else {
                firstStop.complete(written);
            }
        }

        @Override
        public void onWritabilityChanged(SpdyStream s) {
            if (s.isWritable()) {
                callbacks.incrementAndGet();
                produce();
            }
        }

        @Override
        public void onHeaders(SpdyStream s, io.netty.handler.codec.spdy.SpdyHeaders headers, boolean end) {}

        @Override
        public void onData(SpdyStream s, ByteBuf data, boolean end) {
            data.release();
        }

        @Override
        public void onClosed(SpdyStream s, SpdyStreamException cause) {
            if (cause != null) {
                allWritten.completeExceptionally(cause);
            }
        }
    }

    /**
     * Grants 2^31-1 for every stream and for the session, waits for the echo of its PING (so our
     * session has seen the grants), then stops reading until the test turns auto-read back on.
     * Counts the DATA bytes it receives.
     */
    private static final class HostilePeer extends ChannelInboundHandlerAdapter {
        final CompletableFuture<Void> ready = new CompletableFuture<>();
        private final AtomicLong bytes = new AtomicLong();
        private final ConcurrentWaiters waiters = new ConcurrentWaiters();
        volatile Channel channel;

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            channel = ctx.channel();
            DefaultSpdySettingsFrame settings = new DefaultSpdySettingsFrame();
            settings.setValue(7, Integer.MAX_VALUE);
            ctx.write(settings);
            ctx.write(new DefaultSpdyWindowUpdateFrame(0, Integer.MAX_VALUE - 65_536));
            ctx.writeAndFlush(new DefaultSpdyPingFrame(2));
            ctx.fireChannelActive();
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            try {
                if (msg instanceof SpdyPingFrame ping && ping.id() == 2 && !ready.isDone()) {
                    ctx.channel().config().setAutoRead(false);
                    ready.complete(null);
                } else if (msg instanceof SpdyDataFrame d) {
                    waiters.reached(bytes.addAndGet(d.content().readableBytes()));
                }
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }

        /** Completes (on the peer's loop) once {@code n} DATA bytes arrived. */
        CompletableFuture<Boolean> received(long n) {
            return waiters.await(n, bytes.get());
        }
    }

    /** Futures waiting for a byte count to be reached. */
    private static final class ConcurrentWaiters {
        private final java.util.List<Object[]> waiting = new java.util.ArrayList<>();

        synchronized CompletableFuture<Boolean> await(long n, long now) {
            CompletableFuture<Boolean> f = new CompletableFuture<>();
            if (now >= n) {
                f.complete(true);
            } else {
                waiting.add(new Object[] {n, f});
            }
            return f;
        }

        @SuppressWarnings("unchecked")
        synchronized void reached(long now) {
            waiting.removeIf(w -> {
                if (now >= (Long) w[0]) {
                    ((CompletableFuture<Boolean>) w[1]).complete(true);
                    return true;
                }
                return false;
            });
        }
    }
}
