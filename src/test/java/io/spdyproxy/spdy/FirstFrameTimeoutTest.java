package io.spdyproxy.spdy;

import static io.spdyproxy.spdy.ScriptedWire.wire;
import static org.assertj.core.api.Assertions.assertThat;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.codec.spdy.DefaultSpdyPingFrame;
import io.spdyproxy.spdy.ScriptedWire.Recorder;
import io.spdyproxy.spdy.http.SpdyClient;
import io.spdyproxy.spdy.http.SpdyServer;
import io.spdyproxy.testing.ScriptedPeer;
import io.spdyproxy.transport.Transport;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A session whose peer sends no complete frame within {@code firstFrameTimeout} of the start is
 * closed, so silent or trickling connections cannot hold sessions; never towards a legacy peer,
 * which sends nothing until a request arrives (PROTOCOL.md), and never once the peer spoke. Our
 * own sessions send SETTINGS at once, so two of them never trip it.
 */
class FirstFrameTimeoutTest {

    private static void advance(ScriptedPeer peer, Duration d) {
        peer.channel.advanceTimeBy(d.toNanos(), TimeUnit.NANOSECONDS);
        peer.channel.runScheduledPendingTasks();
        peer.pump();
    }

    @Test
    void aSilentPeerIsDisconnectedAtTheDeadline() {
        Recorder app = new Recorder();
        try (ScriptedPeer peer = new ScriptedPeer(SpdySessionConfig.builder(SpdyRole.SERVER).build(), app)) {
            peer.channel.freezeTime();
            peer.discardReceived();
            advance(peer, Duration.ofMillis(4_900));
            assertThat(peer.channel.isOpen()).isTrue();
            advance(peer, Duration.ofMillis(200));
            assertThat(wire(peer)).containsExactly("GOAWAY 0 PROTOCOL_ERROR");
            assertThat(peer.channel.isOpen()).isFalse();
            assertThat(app.sessionCause).isInstanceOf(SpdySessionException.class)
                    .hasMessageContaining("no frame from the peer within PT5S");
        }
    }

    @Test
    void aPeerThatSpokeInTimeIsNeverDisconnectedForIt() {
        Recorder app = new Recorder();
        try (ScriptedPeer peer = new ScriptedPeer(SpdySessionConfig.builder(SpdyRole.CLIENT).build(), app)) {
            peer.channel.freezeTime();
            peer.discardReceived();
            advance(peer, Duration.ofSeconds(4));
            peer.send(new DefaultSpdyPingFrame(2));
            advance(peer, Duration.ofMinutes(10));
            assertThat(wire(peer)).containsExactly("PING 2");
            assertThat(peer.channel.isOpen()).isTrue();
        }
    }

    @Test
    void aLegacyPeerMaySaySomethingWhenItLikes() {
        Recorder app = new Recorder();
        SpdySessionConfig config = SpdySessionConfig.builder(SpdyRole.SERVER).legacyPeer(true).build();
        try (ScriptedPeer peer = new ScriptedPeer(config, app)) {
            peer.channel.freezeTime();
            peer.discardReceived();
            advance(peer, Duration.ofMinutes(10));
            assertThat(wire(peer)).isEmpty();
            assertThat(peer.channel.isOpen()).isTrue();
        }
    }

    @Test
    void zeroTurnsItOff() {
        Recorder app = new Recorder();
        SpdySessionConfig config = SpdySessionConfig.builder(SpdyRole.SERVER).firstFrameTimeout(Duration.ZERO).build();
        try (ScriptedPeer peer = new ScriptedPeer(config, app)) {
            peer.channel.freezeTime();
            peer.discardReceived();
            advance(peer, Duration.ofMinutes(10));
            assertThat(peer.channel.isOpen()).isTrue();
        }
    }

    @Test
    @Timeout(30)
    void overRealSocketsASilentOrTricklingClientIsDisconnectedAndOurOwnClientIsNot() throws Exception {
        SpdySessionConfig serverConfig = SpdySessionConfig.builder(SpdyRole.SERVER)
                .firstFrameTimeout(Duration.ofMillis(300)).build();
        EventLoopGroup group = Transport.newGroup(1, "first-frame");
        try (SpdyServer server = SpdyServer.start(new InetSocketAddress("127.0.0.1", 0), null, serverConfig,
                ex -> ex.respond(io.netty.handler.codec.http.HttpResponseStatus.OK, "text/plain", "ok\n"), group)) {
            InetSocketAddress address = new InetSocketAddress("127.0.0.1", server.port());
            // Connects and says nothing.
            Channel silent = rawConnect(group, address);
            // Sends the first 6 bytes of a PING frame, and nothing more.
            Channel trickling = rawConnect(group, address);
            trickling.writeAndFlush(Unpooled.wrappedBuffer(new byte[] {(byte) 0x80, 0x03, 0x00, 0x06, 0x00, 0x00}));
            assertThat(silent.closeFuture().await(10, TimeUnit.SECONDS)).as("silent client disconnected").isTrue();
            assertThat(trickling.closeFuture().await(10, TimeUnit.SECONDS)).as("trickling client disconnected").isTrue();

            // Our own client sends SETTINGS at once: a PING sent well after the deadline is answered.
            SpdySession client = SpdyClient.connect(group, address, null,
                    // The server's 300 ms deadline is what is tested; the client's own is the default
                    // (5 s), so that a loaded machine's scheduling cannot trip it.
                    SpdySessionConfig.builder(SpdyRole.CLIENT).build(),
                    SpdySessionListener.refusingStreams()).get(10, TimeUnit.SECONDS);
            CompletableFuture<Duration> lateAnswer = new CompletableFuture<>();
            client.channel().eventLoop().schedule(() -> client.ping().whenComplete((rtt, e) -> {
                if (e != null) {
                    lateAnswer.completeExceptionally(e);
                } else {
                    lateAnswer.complete(rtt);
                }
            }), 1, TimeUnit.SECONDS);
            assertThat(lateAnswer.get(10, TimeUnit.SECONDS)).isNotNull();
            assertThat(client.state()).isEqualTo(SpdySession.State.ACTIVE);
            client.close().get(10, TimeUnit.SECONDS);
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).await(10, TimeUnit.SECONDS);
        }
    }

    private static Channel rawConnect(EventLoopGroup group, InetSocketAddress address) throws InterruptedException {
        return new Bootstrap().group(group).channel(Transport.socketChannel())
                .handler(new ChannelInboundHandlerAdapter() {
                    @Override
                    public void channelRead(io.netty.channel.ChannelHandlerContext ctx, Object msg) {
                        io.netty.util.ReferenceCountUtil.release(msg); // the server's SETTINGS, its GOAWAY
                    }
                }).connect(address).sync().channel();
    }
}
