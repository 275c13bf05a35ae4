package io.spdyproxy.spdy.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.codec.spdy.DefaultSpdyPingFrame;
import io.netty.handler.codec.spdy.SpdyFrameCodec;
import io.netty.handler.codec.spdy.SpdyPingFrame;
import io.netty.handler.codec.spdy.SpdyVersion;
import io.netty.util.ReferenceCountUtil;
import io.spdyproxy.spdy.SpdyRole;
import io.spdyproxy.spdy.SpdySession;
import io.spdyproxy.spdy.SpdySessionConfig;
import io.spdyproxy.spdy.SpdySessionListener;
import io.spdyproxy.transport.Transport;
import java.net.InetSocketAddress;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A peer that speaks first, the instant it accepts (SPDY/3 section 2.6.4: SETTINGS, then here a
 * PING), over plain TCP: {@link SpdyClient#connect} must not read those frames before its session
 * is in the pipeline. The session used to be installed by the connect future's listener, which runs
 * as a later loop task whenever the connect completed before the caller added it; auto-read had
 * read the peer's first frames meanwhile, and the bare pipeline dropped them (one connection in a
 * hundred or so on a busy 2-core machine). Many callers connect at once, so some are descheduled
 * between starting the connect and adding the listener, which is the window that lost them; every
 * PING must be answered.
 */
class SpdyClientFirstFramesTest {
    private static final int CONNECTIONS = 200;

    private EventLoopGroup peerLoops;
    private EventLoopGroup ourLoops;
    private Channel server;
    /** Per accepted connection (by the client's port): completes when our PING answer arrives. */
    private final Map<Integer, CompletableFuture<Void>> answers = new ConcurrentHashMap<>();

    @BeforeEach
    void start() throws Exception {
        peerLoops = Transport.newGroup(1, "first-frames-peer");
        ourLoops = Transport.newGroup(1, "first-frames-client");
        server = new ServerBootstrap().group(peerLoops).channel(Transport.serverChannel())
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        CompletableFuture<Void> answer = answerFor(((InetSocketAddress) ch.remoteAddress()).getPort());
                        ch.pipeline().addLast(new SpdyFrameCodec(SpdyVersion.SPDY_3_1), new PingsFirst(answer));
                    }
                }).bind("127.0.0.1", 0).sync().channel();
    }

    @AfterEach
    void stop() throws Exception {
        server.close().sync();
        ourLoops.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        peerLoops.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        assertThat(ourLoops.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
        assertThat(peerLoops.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
    }

    private CompletableFuture<Void> answerFor(int clientPort) {
        return answers.computeIfAbsent(clientPort, p -> new CompletableFuture<>());
    }

    @Test
    @Timeout(60)
    void framesThePeerSendsTheInstantItAcceptsReachTheSession() throws Exception {
        int port = ((InetSocketAddress) server.localAddress()).getPort();
        int lost = 0;
        for (int i = 0; i < CONNECTIONS; i++) {
            SpdySession s = SpdyClient.connect(ourLoops, new InetSocketAddress("127.0.0.1", port), null,
                    SpdySessionConfig.builder(SpdyRole.CLIENT).build(), SpdySessionListener.refusingStreams())
                    .get(10, TimeUnit.SECONDS);
            // The peer echoes our PING after it sent its own on the same connection: once the echo
            // is here, the session has read the peer's PING too, unless it was dropped.
            s.ping().get(10, TimeUnit.SECONDS);
            if (s.stats().framesReceived() < 2) {
                lost++;
            } else {
                answerFor(((InetSocketAddress) s.channel().localAddress()).getPort()).get(10, TimeUnit.SECONDS);
            }
            s.close().get(10, TimeUnit.SECONDS);
        }
        assertThat(lost).as("connections whose first frame never reached the session, of %d", CONNECTIONS).isZero();
    }

    /**
     * Sends PING 2 the moment the connection is active; completes {@code answer} on its echo, and
     * echoes the client's PINGs (SPDY/3 section 2.6.5).
     */
    private static final class PingsFirst extends ChannelInboundHandlerAdapter {
        private final CompletableFuture<Void> answer;

        PingsFirst(CompletableFuture<Void> answer) {
            this.answer = answer;
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            ctx.writeAndFlush(new DefaultSpdyPingFrame(2));
            ctx.fireChannelActive();
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            try {
                if (msg instanceof SpdyPingFrame ping && ping.id() == 2) {
                    answer.complete(null);
                } else if (msg instanceof SpdyPingFrame ping) {
                    ctx.writeAndFlush(new DefaultSpdyPingFrame(ping.id()));
                }
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }
    }
}
