package io.spdyproxy.spdy;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.spdy.DefaultSpdyDataFrame;
import io.netty.handler.codec.spdy.DefaultSpdyHeaders;
import io.netty.handler.codec.spdy.DefaultSpdyPingFrame;
import io.netty.handler.codec.spdy.DefaultSpdyRstStreamFrame;
import io.netty.handler.codec.spdy.DefaultSpdySettingsFrame;
import io.netty.handler.codec.spdy.DefaultSpdySynReplyFrame;
import io.netty.handler.codec.spdy.DefaultSpdySynStreamFrame;
import io.netty.handler.codec.spdy.DefaultSpdyWindowUpdateFrame;
import io.netty.handler.codec.spdy.SpdyDataFrame;
import io.netty.handler.codec.spdy.SpdyFrame;
import io.netty.handler.codec.spdy.SpdyFrameCodec;
import io.netty.handler.codec.spdy.SpdyGoAwayFrame;
import io.netty.handler.codec.spdy.SpdyHeaders;
import io.netty.handler.codec.spdy.SpdyHeadersFrame;
import io.netty.handler.codec.spdy.SpdyPingFrame;
import io.netty.handler.codec.spdy.SpdyRstStreamFrame;
import io.netty.handler.codec.spdy.SpdySettingsFrame;
import io.netty.handler.codec.spdy.SpdyStreamStatus;
import io.netty.handler.codec.spdy.SpdySynReplyFrame;
import io.netty.handler.codec.spdy.SpdySynStreamFrame;
import io.netty.handler.codec.spdy.SpdyVersion;
import io.netty.handler.codec.spdy.SpdyWindowUpdateFrame;
import io.netty.util.ReferenceCountUtil;
import io.spdyproxy.spdy.http.SpdyServer;
import io.spdyproxy.testing.ScriptedPeer;
import io.spdyproxy.transport.Transport;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The session's limits and abuse defences, the legacy-peer dialect and the SPDY/3 dialect, each
 * driven by a {@link ScriptedPeer}. Frames the session writes are rendered as short strings
 * ({@code "RST_STREAM 5 REFUSED_STREAM"}) and released at once, so no assertion can leak a buffer.
 */
class SpdySessionLimitsTest {

    private static final int DEFAULT_SESSION_WINDOW = 1 << 30;

    // ------------------------------------------------------------------------------------------
    // 1. MAX_CONCURRENT_STREAMS

    @Test
    void maxConcurrentStreamsRefusesTheThirdStreamAndAcceptsAgainAfterOneCloses() {
        SpdySessionConfig config = SpdySessionConfig.builder(SpdyRole.SERVER)
                .maxConcurrentStreams(2).build();
        Recorder app = new Recorder();
        try (ScriptedPeer peer = new ScriptedPeer(config, app)) {
            assertThat(wire(peer)).containsExactly(
                    "SETTINGS 4=2 7=262144", "WINDOW_UPDATE 0 " + (DEFAULT_SESSION_WINDOW - 65_536));

            peer.send(syn(1, false), syn(3, false), syn(5, false));
            assertThat(wire(peer)).containsExactly("RST_STREAM 5 REFUSED_STREAM");
            assertThat(app.streams).containsOnlyKeys(1, 3);

            // The first two keep working in both directions.
            peer.send(data(1, 100, false), data(3, 200, false));
            app.streams.get(1).sendHeaders(reply(), false);
            app.streams.get(3).sendHeaders(reply(), false);
            assertThat(wire(peer)).containsExactly("SYN_REPLY 1", "SYN_REPLY 3");
            assertThat(app.bytes).containsEntry(1, 100L).containsEntry(3, 200L);

            // Still two open: the next one is refused as well.
            peer.send(syn(7, false));
            assertThat(wire(peer)).containsExactly("RST_STREAM 7 REFUSED_STREAM");

            // Stream 1 ends on both sides, which frees a slot.
            peer.send(data(1, 0, true));
            app.streams.get(1).sendData(Unpooled.copiedBuffer("ok", UTF_8), true);
            assertThat(wire(peer)).containsExactly("DATA 1 2 FIN");
            assertThat(app.closed).containsEntry(1, null);

            peer.send(syn(9, true));
            assertThat(wire(peer)).isEmpty();
            assertThat(app.streams).containsOnlyKeys(1, 3, 9);
            app.streams.get(9).sendHeaders(reply(), true);
            app.streams.get(3).sendData(Unpooled.copiedBuffer("three", UTF_8), true);
            assertThat(wire(peer)).containsExactly("SYN_REPLY 9 FIN", "DATA 3 5 FIN");
            assertThat(peer.channel.isOpen()).isTrue();
        }
    }

    @Test
    void maxConcurrentStreamsIsAnnouncedExactlyOnceOnAnAcceptedTcpConnection() throws Exception {
        // The same opening as above, but on a real accepted socket: SpdyServer installs the
        // session from its ChannelInitializer, where the child channel is already active.
        SpdySessionConfig config = SpdySessionConfig.builder(SpdyRole.SERVER)
                .maxConcurrentStreams(2).build();
        EventLoopGroup group = Transport.newGroup(1, "limits-test");
        try (SpdyServer server = SpdyServer.start(
                new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), null, config,
                exchange -> { }, group)) {
            BlockingQueue<String> frames = new LinkedBlockingQueue<>();
            ChannelFuture connect = new Bootstrap()
                    .group(group)
                    .channel(Transport.socketChannel())
                    .handler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel ch) {
                            ch.pipeline().addLast(new SpdyFrameCodec(SpdyVersion.SPDY_3_1),
                                    new ChannelInboundHandlerAdapter() {
                                        @Override
                                        public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                            try {
                                                frames.add(describe(msg));
                                            } finally {
                                                ReferenceCountUtil.release(msg);
                                            }
                                        }
                                    });
                        }
                    })
                    .connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), server.port()));
            assertThat(connect.await(10, TimeUnit.SECONDS)).as("connected in time").isTrue();
            Channel peer = connect.sync().channel();
            try {
                // Everything the session wrote when it started precedes the echo of this PING.
                peer.writeAndFlush(new DefaultSpdyPingFrame(1));
                List<String> opening = new ArrayList<>();
                while (true) {
                    String f = frames.poll(10, TimeUnit.SECONDS);
                    assertThat(f).as("frame after %s", opening).isNotNull();
                    if (f.equals("PING 1")) {
                        break;
                    }
                    opening.add(f);
                }
                assertThat(opening).containsExactly(
                        "SETTINGS 4=2 7=262144", "WINDOW_UPDATE 0 " + (DEFAULT_SESSION_WINDOW - 65_536));
            } finally {
                assertThat(peer.close().await(10, TimeUnit.SECONDS)).isTrue();
            }
        } finally {
            assertThat(group.shutdownGracefully(0, 1, TimeUnit.SECONDS).await(10, TimeUnit.SECONDS)).isTrue();
        }
    }

    // ------------------------------------------------------------------------------------------
    // 2. Header count

    @Test
    void tooManyHeaderNamesResetTheStreamAndTheSessionStaysUsable() {
        SpdySessionConfig config = SpdySessionConfig.builder(SpdyRole.SERVER)
                .maxHeaderCount(5).build();
        Recorder app = new Recorder();
        try (ScriptedPeer peer = new ScriptedPeer(config, app)) {
            peer.discardReceived();

            DefaultSpdySynStreamFrame crowded = syn(1, true); // 5 names
            crowded.headers().set("x-sixth", "1");
            peer.send(crowded);
            assertThat(wire(peer)).containsExactly("RST_STREAM 1 PROTOCOL_ERROR");
            assertThat(app.streams).isEmpty();

            // Exactly at the limit: accepted, and the shared zlib context is still in step.
            peer.send(syn(3, true));
            assertThat(app.streams).containsOnlyKeys(3);
            assertThat(app.headers.get(3).get(":path")).isEqualTo("/");
            app.streams.get(3).sendHeaders(reply(), true);
            assertThat(wire(peer)).containsExactly("SYN_REPLY 3 FIN");
            assertThat(peer.channel.isOpen()).isTrue();
        }
    }

    // ------------------------------------------------------------------------------------------
    // 3. Header block size: decompression bomb, and a bounded but oversized block

    @Test
    void decompressionBombEndsTheSessionAndLeavesAnotherSessionAlone() {
        // maxHeaderBlockSize 32 KiB: Netty's inflater stops at 16 x 32 KiB = 512 KiB decompressed.
        SpdySessionConfig config = SpdySessionConfig.builder(SpdyRole.SERVER)
                .maxHeaderBlockSize(32 * 1024).build();
        Recorder victimApp = new Recorder();
        Recorder otherApp = new Recorder();
        try (ScriptedPeer victim = new ScriptedPeer(config, victimApp);
                ScriptedPeer other = new ScriptedPeer(config, otherApp)) {
            victim.discardReceived();
            other.discardReceived();

            // 20 values of 60 000 'a' (Netty's encoder caps one value at 65 535 bytes): 1.2 MB
            // decompressed, a couple of kilobytes compressed by the peer's zlib context.
            DefaultSpdySynStreamFrame bomb = syn(1, true);
            for (int i = 0; i < 20; i++) {
                bomb.headers().set(String.format("x-bomb-%02d", i), "a".repeat(60_000));
            }
            assertThatCode(() -> victim.send(bomb)).doesNotThrowAnyException();

            assertThat(wire(victim)).containsExactly("GOAWAY 0 PROTOCOL_ERROR");
            assertThat(victim.channel.isOpen()).isFalse();
            assertThat(victim.session.closeFuture()).isDone();
            assertThat(victimApp.streams).isEmpty();
            assertSessionError(victimApp, SpdyError.PROTOCOL_ERROR, "Decompressed header block exceeds");
            assertThatCode(victim.channel::checkException).doesNotThrowAnyException();

            // The other session has its own zlib context and limits: unaffected.
            other.send(syn(1, false), data(1, 10, true));
            otherApp.streams.get(1).sendHeaders(reply(), true);
            assertThat(wire(other)).containsExactly("SYN_REPLY 1 FIN");
            assertThat(otherApp.bytes).containsEntry(1, 10L);
            assertThat(other.channel.isOpen()).isTrue();
        }
    }

    @Test
    void headerBlockOverTheLimitButWithinTheInflateCapResetsOnlyTheStream() {
        SpdySessionConfig config = SpdySessionConfig.builder(SpdyRole.SERVER)
                .maxHeaderBlockSize(32 * 1024).build();
        Recorder app = new Recorder();
        try (ScriptedPeer peer = new ScriptedPeer(config, app)) {
            peer.discardReceived();

            // 60 000 bytes decompressed: above the 32 KiB limit (Netty skips the value and marks the
            // frame truncated), below the 512 KiB inflate cap (no exception).
            DefaultSpdySynStreamFrame big = syn(1, true);
            big.headers().set("x-big", "a".repeat(60_000));
            peer.send(big);
            assertThat(wire(peer)).containsExactly("RST_STREAM 1 PROTOCOL_ERROR");
            assertThat(app.streams).isEmpty();
            assertThat(peer.channel.isOpen()).isTrue();

            // The whole block was inflated, so the zlib context is still in step for the next one.
            peer.send(syn(3, true));
            assertThat(app.streams).containsOnlyKeys(3);
            app.streams.get(3).sendHeaders(reply(), true);
            assertThat(wire(peer)).containsExactly("SYN_REPLY 3 FIN");
        }
    }

    // ------------------------------------------------------------------------------------------
    // 4. Control frame flood

    @Test
    void controlFramesOwedBeyondTheLimitEndTheSessionAsAFlood() {
        SpdySessionConfig config = SpdySessionConfig.builder(SpdyRole.SERVER)
                .maxQueuedControlFrames(10).build();
        Recorder app = new Recorder();
        try (ScriptedPeer peer = new ScriptedPeer(config, app)) {
            peer.discardReceived();

            // All PINGs in one read: the echoes are written but not flushed (and so their write
            // promises are pending) until the read completes, which is what AbuseGuard counts.
            peer.sendRaw(rawPings(1, 10)); // exactly at the limit
            List<String> echoes = wire(peer);
            assertThat(echoes).hasSize(10).allMatch(s -> s.startsWith("PING "));
            assertThat(peer.channel.isOpen()).isTrue();

            peer.sendRaw(rawPings(101, 50));
            List<String> out = wire(peer);
            assertThat(out).last().isEqualTo("GOAWAY 0 PROTOCOL_ERROR");
            assertThat(out.subList(0, out.size() - 1)).hasSize(10).allMatch(s -> s.startsWith("PING "));
            assertThat(peer.channel.isOpen()).isFalse();
            assertSessionError(app, SpdyError.PROTOCOL_ERROR, "control frame flood");
        }
    }

    // ------------------------------------------------------------------------------------------
    // 5. Rapid reset

    @Test
    void rapidResetEndsTheSessionAtTheSixthResetInTheWindow() {
        SpdySessionConfig config = SpdySessionConfig.builder(SpdyRole.SERVER)
                .maxResetsPerWindow(5).resetWindow(Duration.ofMinutes(5)).build();
        Recorder app = new Recorder();
        try (ScriptedPeer peer = new ScriptedPeer(config, app)) {
            peer.discardReceived();
            for (int id = 1; id <= 9; id += 2) {
                peer.send(syn(id, false), rst(id, SpdyStreamStatus.CANCEL));
                assertThat(wire(peer)).as("after the reset of stream %d", id).isEmpty();
                assertThat(peer.channel.isOpen()).isTrue();
            }
            assertThat(app.closed).hasSize(5);
            assertThat(app.closed.values()).allMatch(e -> e.error() == SpdyError.CANCEL);

            peer.send(syn(11, false), rst(11, SpdyStreamStatus.CANCEL));
            assertThat(wire(peer)).containsExactly("GOAWAY 11 PROTOCOL_ERROR");
            assertThat(peer.channel.isOpen()).isFalse();
            assertSessionError(app, SpdyError.PROTOCOL_ERROR, "too many RST_STREAM");
        }
    }

    @Test
    void streamsOpenedAfterASessionErrorInTheSameReadAreNotHandedToTheApplication() {
        // GOAWAY promises the peer that streams above its last-good id were not processed (the
        // peer may retry them elsewhere), so one arriving behind the error must not be served.
        SpdySessionConfig config = SpdySessionConfig.builder(SpdyRole.SERVER)
                .maxResetsPerWindow(1).build();
        Recorder app = new Recorder();
        try (ScriptedPeer peer = new ScriptedPeer(config, app); Encoder enc = new Encoder()) {
            peer.discardReceived();
            peer.sendRaw(enc.encode(syn(1, false), syn(3, false),
                    rst(1, SpdyStreamStatus.CANCEL), rst(3, SpdyStreamStatus.CANCEL), syn(5, true)));

            assertThat(wire(peer)).containsExactly("GOAWAY 3 PROTOCOL_ERROR");
            assertThat(peer.channel.isOpen()).isFalse();
            assertThat(app.streams).doesNotContainKey(5);
        }
    }

    // ------------------------------------------------------------------------------------------
    // 6. Empty DATA frames

    @Test
    void emptyDataFramesWithoutFinInARowEndTheSession() {
        SpdySessionConfig config = SpdySessionConfig.builder(SpdyRole.SERVER)
                .maxConsecutiveEmptyFrames(3).build();
        Recorder app = new Recorder();
        try (ScriptedPeer peer = new ScriptedPeer(config, app)) {
            peer.discardReceived();
            peer.send(syn(1, false));
            peer.send(data(1, 0, false), data(1, 0, false), data(1, 0, false));
            assertThat(peer.channel.isOpen()).isTrue();
            // A frame with payload breaks the run.
            peer.send(data(1, 7, false));
            peer.send(data(1, 0, false), data(1, 0, false), data(1, 0, false));
            assertThat(wire(peer)).isEmpty();
            assertThat(peer.channel.isOpen()).isTrue();

            peer.send(data(1, 0, false)); // the fourth in a row
            assertThat(wire(peer)).containsExactly("GOAWAY 1 PROTOCOL_ERROR");
            assertThat(peer.channel.isOpen()).isFalse();
            assertSessionError(app, SpdyError.PROTOCOL_ERROR, "empty DATA");
            assertThat(app.bytes).containsEntry(1, 7L);
        }
    }

    @Test
    void emptyDataFrameWithFinEndingEveryResponseIsFine() {
        // The original origin ends every response with an empty DATA frame carrying FIN.
        SpdySessionConfig config = SpdySessionConfig.builder(SpdyRole.CLIENT)
                .maxConsecutiveEmptyFrames(2).build();
        Recorder app = new Recorder();
        try (ScriptedPeer peer = new ScriptedPeer(config, app)) {
            peer.discardReceived();
            for (int i = 0; i < 10; i++) {
                CompletableFuture<SpdyStream> opened = peer.session.newStream(request(), 0, true, app);
                assertThat(opened).isCompleted();
                int id = opened.join().id();
                assertThat(wire(peer)).containsExactly("SYN_STREAM " + id + " FIN");
                DefaultSpdySynReplyFrame reply = new DefaultSpdySynReplyFrame(id);
                reply.headers().set(":status", "200 OK").set(":version", "HTTP/1.1");
                peer.send(reply, data(id, 0, true));
                assertThat(app.closed).containsEntry(id, null);
            }
            assertThat(wire(peer)).isEmpty();
            assertThat(peer.channel.isOpen()).isTrue();
            assertThat(app.closed).hasSize(10);
        }
    }

    // ------------------------------------------------------------------------------------------
    // 7. Sessions are independent

    @Test
    void aViolationOnOneSessionLeavesAnotherIndependentSessionUntouched() {
        SpdySessionConfig config = SpdySessionConfig.builder(SpdyRole.SERVER)
                .maxResetsPerWindow(3).resetWindow(Duration.ofMinutes(5)).build();
        Recorder badApp = new Recorder();
        Recorder goodApp = new Recorder();
        try (ScriptedPeer bad = new ScriptedPeer(config, badApp);
                ScriptedPeer good = new ScriptedPeer(config, goodApp)) {
            bad.discardReceived();
            good.discardReceived();

            // The good session is mid-exchange on stream 1 and has used 3 of its 3 resets.
            good.send(syn(1, false), data(1, 1000, false));
            good.send(syn(3, false), rst(3, SpdyStreamStatus.CANCEL),
                    syn(5, false), rst(5, SpdyStreamStatus.CANCEL),
                    syn(7, false), rst(7, SpdyStreamStatus.CANCEL));
            assertThat(wire(good)).isEmpty();

            // The bad one crosses the same limit with a fourth reset.
            for (int id = 1; id <= 7; id += 2) {
                bad.send(syn(id, false), rst(id, SpdyStreamStatus.CANCEL));
            }
            assertThat(wire(bad)).containsExactly("GOAWAY 7 PROTOCOL_ERROR");
            assertThat(bad.channel.isOpen()).isFalse();

            // The good session carries on: its counters and its stream are its own.
            good.send(data(1, 500, true));
            goodApp.streams.get(1).sendHeaders(reply(), false);
            goodApp.streams.get(1).sendData(Unpooled.copiedBuffer("done", UTF_8), true);
            assertThat(wire(good)).containsExactly("SYN_REPLY 1", "DATA 1 4 FIN");
            assertThat(goodApp.bytes).containsEntry(1, 1500L);
            assertThat(goodApp.closed).containsEntry(1, null);
            assertThat(good.channel.isOpen()).isTrue();
            assertThat(goodApp.sessionClosed).isFalse();
        }
    }

    // ------------------------------------------------------------------------------------------
    // 8. Legacy peer (the original amahi/spdy library)

    @Test
    void legacyPeerGetsA64KiBStreamWindowAndNoSessionWindowUpdates() {
        // sessionWindow 64 KiB would make a SPDY/3.1 session grant stream-0 window after 32 KiB.
        SpdySessionConfig config = SpdySessionConfig.builder(SpdyRole.SERVER)
                .legacyPeer(true).initialStreamWindow(256 * 1024).sessionWindow(65_536).build();
        Recorder app = new Recorder();
        app.consume = true;
        try (ScriptedPeer peer = new ScriptedPeer(config, app)) {
            assertThat(wire(peer)).containsExactly("SETTINGS 4=100000 7=65536");

            peer.send(syn(1, false));
            peer.send(data(1, 10_000, false), data(1, 10_000, false), data(1, 10_000, false),
                    data(1, 10_000, false));
            // Half the legacy window (32 KiB) consumed: a stream update, never one for stream 0.
            assertThat(wire(peer)).containsExactly("WINDOW_UPDATE 1 40000");
            peer.send(data(1, 20_000, false), data(1, 20_000, false));
            assertThat(wire(peer)).containsExactly("WINDOW_UPDATE 1 40000");
            assertThat(app.bytes).containsEntry(1, 80_000L);
            assertThat(peer.channel.isOpen()).isTrue();
        }
    }

    @Test
    void legacyPeerNeverGetsGoAwayOnGracefulShutdownNorOnSessionError() {
        SpdySessionConfig config = SpdySessionConfig.builder(SpdyRole.SERVER).legacyPeer(true).build();
        Recorder app = new Recorder();
        try (ScriptedPeer peer = new ScriptedPeer(config, app)) {
            peer.discardReceived();
            peer.send(syn(1, true));
            CompletableFuture<Void> closed = peer.session.shutdownGracefully(Duration.ofMinutes(1));
            peer.pump();
            assertThat(wire(peer)).isEmpty();
            assertThat(peer.session.state()).isEqualTo(SpdySession.State.DRAINING);
            assertThat(peer.channel.isOpen()).isTrue();

            app.streams.get(1).sendHeaders(reply(), true);
            assertThat(wire(peer)).containsExactly("SYN_REPLY 1 FIN");
            assertThat(peer.channel.isOpen()).isFalse();
            assertThat(closed).isDone();
        }

        Recorder failing = new Recorder();
        try (ScriptedPeer peer = new ScriptedPeer(config, failing)) {
            peer.discardReceived();
            peer.send(syn(1, false));
            peer.sendRaw(hex("80020006 00000004 00000001")); // a version-2 PING: malformed
            assertThat(wire(peer)).isEmpty();
            assertThat(peer.channel.isOpen()).isFalse();
            assertSessionError(failing, SpdyError.PROTOCOL_ERROR, "invalid frame");
            assertThat(failing.closed.get(1).error()).isEqualTo(SpdyError.SESSION_CLOSED);
        }
    }

    @Test
    void legacyPeerNeverGetsHeadersFramesTrailersBecomeAnEmptyFinalDataFrame() {
        SpdySessionConfig server = SpdySessionConfig.builder(SpdyRole.SERVER).legacyPeer(true).build();
        Recorder app = new Recorder();
        try (ScriptedPeer peer = new ScriptedPeer(server, app)) {
            peer.discardReceived();
            peer.send(syn(1, true));
            SpdyStream s = app.streams.get(1);
            s.sendHeaders(reply(), false);
            s.sendData(Unpooled.copiedBuffer("hello", UTF_8), false);
            s.sendHeaders(trailers(), false); // dropped
            s.sendHeaders(trailers(), true); // dropped, but the end is kept
            assertThat(wire(peer)).containsExactly("SYN_REPLY 1", "DATA 1 5", "DATA 1 0 FIN");
            assertThat(app.closed).containsEntry(1, null);
        }

        SpdySessionConfig client = SpdySessionConfig.builder(SpdyRole.CLIENT).legacyPeer(true).build();
        Recorder clientApp = new Recorder();
        try (ScriptedPeer peer = new ScriptedPeer(client, clientApp)) {
            peer.discardReceived();
            SpdyStream s = peer.session.newStream(request(), 0, false, clientApp).join();
            s.sendData(Unpooled.copiedBuffer("body", UTF_8), false);
            s.sendHeaders(trailers(), true);
            assertThat(wire(peer)).containsExactly("SYN_STREAM 1", "DATA 1 4", "DATA 1 0 FIN");
        }
    }

    @Test
    void legacyPeerMayOverrunTheStreamWindowUpToTheAllowanceThenItIsReset() {
        SpdySessionConfig config = SpdySessionConfig.builder(SpdyRole.SERVER)
                .legacyPeer(true).legacyWindowAllowance(10_000).build();
        Recorder app = new Recorder(); // never consumes: the window only shrinks
        try (ScriptedPeer peer = new ScriptedPeer(config, app)) {
            peer.discardReceived();
            peer.send(syn(1, false));
            peer.send(data(1, 16_384, false), data(1, 16_384, false), data(1, 16_384, false),
                    data(1, 16_384, false));
            peer.send(data(1, 10_000, false)); // 64 KiB window + the whole allowance
            assertThat(wire(peer)).isEmpty();
            assertThat(app.closed).doesNotContainKey(1);

            peer.send(data(1, 1, false)); // one byte beyond
            assertThat(wire(peer)).containsExactly("RST_STREAM 1 FLOW_CONTROL_ERROR");
            assertThat(app.closed.get(1).error()).isEqualTo(SpdyError.FLOW_CONTROL_ERROR);
            assertThat(app.bytes).containsEntry(1, 65_536L + 10_000L);
            assertThat(peer.channel.isOpen()).isTrue();
        }
    }

    // ------------------------------------------------------------------------------------------
    // 9. SPDY/3: no session window

    @Test
    void spdy3HasNoSessionWindowInEitherDirection() {
        SpdySessionConfig config = SpdySessionConfig.builder(SpdyRole.SERVER)
                .protocol(SpdyProtocol.SPDY_3).initialStreamWindow(65_536).sessionWindow(65_536)
                .build();
        Recorder app = new Recorder();
        app.consume = true;
        try (ScriptedPeer peer = new ScriptedPeer(config, app)) {
            assertThat(wire(peer)).containsExactly("SETTINGS 4=100000 7=65536");

            DefaultSpdySettingsFrame settings = new DefaultSpdySettingsFrame();
            settings.setValue(7, 1024 * 1024);
            // In SPDY/3.1 this stream-0 update would overflow the session window (a GOAWAY).
            peer.send(settings, new DefaultSpdyWindowUpdateFrame(0, Integer.MAX_VALUE));
            assertThat(wire(peer)).isEmpty();
            assertThat(peer.channel.isOpen()).isTrue();

            // 120 000 bytes across three streams: more than 64 KiB, without a stream-0 update.
            for (int id = 1; id <= 5; id += 2) {
                peer.send(syn(id, false), data(id, 10_000, false), data(id, 10_000, false),
                        data(id, 10_000, false), data(id, 10_000, false));
            }
            assertThat(wire(peer)).containsExactly(
                    "WINDOW_UPDATE 1 40000", "WINDOW_UPDATE 3 40000", "WINDOW_UPDATE 5 40000");
            assertThat(app.bytes).containsEntry(1, 40_000L).containsEntry(3, 40_000L)
                    .containsEntry(5, 40_000L);

            // Sending: only the stream window (1 MiB by SETTINGS) bounds a 200 KiB response.
            SpdyStream s = app.streams.get(1);
            s.sendHeaders(reply(), false);
            s.sendData(Unpooled.wrappedBuffer(new byte[200 * 1024]), true);
            List<String> out = wire(peer);
            assertThat(out.get(0)).isEqualTo("SYN_REPLY 1");
            assertThat(dataBytes(out, 1)).isEqualTo(200 * 1024);
            assertThat(out).last().asString().endsWith(" FIN");
            assertThat(out).noneMatch(f -> f.startsWith("GOAWAY") || f.startsWith("RST_STREAM"));
            assertThat(peer.channel.isOpen()).isTrue();
        }
    }

    // ------------------------------------------------------------------------------------------
    // 10. Keepalive

    @Test
    void keepaliveClosesTheConnectionAfterThreeSilentIntervals() {
        SpdySessionConfig config = SpdySessionConfig.builder(SpdyRole.SERVER)
                .pingInterval(Duration.ofSeconds(1)).maxMissedPings(3).build();
        Recorder app = new Recorder();
        try (ScriptedPeer peer = new ScriptedPeer(config, app)) {
            peer.channel.freezeTime();
            peer.discardReceived();

            tick(peer);
            assertThat(wire(peer)).containsExactly("PING 2");
            assertThat(peer.channel.isOpen()).isTrue();
            tick(peer);
            assertThat(wire(peer)).containsExactly("PING 4");
            assertThat(peer.channel.isOpen()).isTrue();
            tick(peer);
            assertThat(wire(peer)).doesNotContain("PING 6");
            assertThat(peer.channel.isOpen()).isFalse();
            assertThat(peer.session.closeFuture()).isDone();
            assertSessionError(app, SpdyError.SESSION_CLOSED, "keepalive");
        }
    }

    @Test
    void keepaliveKeepsAnAnsweringPeerConnected() {
        SpdySessionConfig config = SpdySessionConfig.builder(SpdyRole.SERVER)
                .pingInterval(Duration.ofSeconds(1)).maxMissedPings(3).build();
        Recorder app = new Recorder();
        try (ScriptedPeer peer = new ScriptedPeer(config, app)) {
            peer.channel.freezeTime();
            peer.discardReceived();
            for (int i = 1; i <= 10; i++) {
                tick(peer);
                int expectedId = 2 * i;
                assertThat(wire(peer)).as("interval %d", i).containsExactly("PING " + expectedId);
                peer.send(new DefaultSpdyPingFrame(expectedId)); // the answer
                assertThat(peer.channel.isOpen()).isTrue();
            }
            assertThat(wire(peer)).isEmpty();
            assertThat(app.sessionClosed).isFalse();
        }
    }

    // ------------------------------------------------------------------------------------------
    // 11. Malformed frames

    static Stream<Arguments> malformedFrames() {
        return Stream.of(
                Arguments.of("a control frame with version 2", "80020006 00000004 00000001"),
                Arguments.of("SETTINGS whose length does not match its entry count",
                        "80030004 0000000c 00000002 00000004 00000064"),
                Arguments.of("RST_STREAM with status 0", "80030003 00000008 00000001 00000000"),
                Arguments.of("WINDOW_UPDATE with delta 0", "80030009 00000008 00000000 00000000"),
                Arguments.of("PING of length 8", "80030006 00000008 00000001 00000003"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("malformedFrames")
    void malformedFrameEndsTheSessionWithGoAwayProtocolError(String what, String hexBytes) {
        SpdySessionConfig config = SpdySessionConfig.builder(SpdyRole.SERVER).build();
        Recorder app = new Recorder();
        try (ScriptedPeer peer = new ScriptedPeer(config, app)) {
            peer.discardReceived();
            // A valid PING follows in the same read: after a framing error it must be ignored.
            ByteBuf bytes = Unpooled.wrappedBuffer(hex(hexBytes), hex("80030006 00000004 00000007"));
            assertThatCode(() -> peer.sendRaw(bytes)).doesNotThrowAnyException();

            assertThat(wire(peer)).containsExactly("GOAWAY 0 PROTOCOL_ERROR");
            assertThat(peer.channel.isOpen()).isFalse();
            assertThat(peer.session.closeFuture()).isDone();
            assertThatCode(peer.channel::checkException).doesNotThrowAnyException();
            assertSessionError(app, SpdyError.PROTOCOL_ERROR, "invalid frame");
        }
    }

    // ------------------------------------------------------------------------------------------
    // Helpers

    /** Records what the session tells the application; releases every DATA chunk. */
    private static final class Recorder implements SpdySessionListener, SpdyStreamListener {
        final Map<Integer, SpdyStream> streams = new LinkedHashMap<>();
        final Map<Integer, SpdyHeaders> headers = new HashMap<>();
        final Map<Integer, Long> bytes = new HashMap<>();
        final Map<Integer, SpdyStreamException> closed = new LinkedHashMap<>();
        boolean consume;
        boolean sessionClosed;
        Throwable sessionCause;

        @Override
        public SpdyStreamListener onStream(SpdyStream stream, SpdyHeaders h) {
            streams.put(stream.id(), stream);
            return this;
        }

        @Override
        public void onHeaders(SpdyStream stream, SpdyHeaders h, boolean endOfStream) {
            streams.putIfAbsent(stream.id(), stream);
            headers.putIfAbsent(stream.id(), h);
        }

        @Override
        public void onData(SpdyStream stream, ByteBuf data, boolean endOfStream) {
            int n = data.readableBytes();
            bytes.merge(stream.id(), (long) n, Long::sum);
            data.release();
            if (consume) {
                stream.consume(n);
            }
        }

        @Override
        public void onClosed(SpdyStream stream, SpdyStreamException cause) {
            closed.put(stream.id(), cause);
        }

        @Override
        public void onClosed(SpdySession session, Throwable cause) {
            sessionClosed = true;
            sessionCause = cause;
        }
    }

    /** A second encoder for hand-made batches: several frames delivered to the session in one read. */
    private static final class Encoder implements AutoCloseable {
        private final EmbeddedChannel channel = new EmbeddedChannel(new SpdyFrameCodec(SpdyVersion.SPDY_3_1));

        ByteBuf encode(SpdyFrame... frames) {
            ByteBuf out = Unpooled.buffer();
            for (SpdyFrame f : frames) {
                channel.writeOutbound(f);
            }
            ByteBuf b;
            while ((b = channel.readOutbound()) != null) {
                out.writeBytes(b);
                b.release();
            }
            return out;
        }

        @Override
        public void close() {
            channel.finishAndReleaseAll();
        }
    }

    private static void assertSessionError(Recorder app, SpdyError error, String messagePart) {
        assertThat(app.sessionClosed).as("session closed").isTrue();
        assertThat(app.sessionCause).isInstanceOf(SpdySessionException.class);
        SpdySessionException e = (SpdySessionException) app.sessionCause;
        assertThat(e.error()).isEqualTo(error);
        assertThat(e.getMessage()).containsIgnoringCase(messagePart);
    }

    /** Advances the session's clock by one keepalive interval and runs what became due. */
    private static void tick(ScriptedPeer peer) {
        peer.channel.advanceTimeBy(1, TimeUnit.SECONDS);
        peer.channel.runScheduledPendingTasks();
        peer.pump();
    }

    /** Everything the session wrote so far, rendered and released. */
    private static List<String> wire(ScriptedPeer peer) {
        List<String> out = new ArrayList<>();
        for (Object o : peer.received()) {
            try {
                out.add(describe(o));
            } finally {
                ReferenceCountUtil.release(o);
            }
        }
        return out;
    }

    private static String describe(Object o) {
        if (o instanceof SpdyDataFrame f) {
            return "DATA " + f.streamId() + " " + f.content().readableBytes() + fin(f.isLast());
        }
        if (o instanceof SpdySynStreamFrame f) {
            return "SYN_STREAM " + f.streamId() + fin(f.isLast());
        }
        if (o instanceof SpdySynReplyFrame f) {
            return "SYN_REPLY " + f.streamId() + fin(f.isLast());
        }
        if (o instanceof SpdyHeadersFrame f) {
            return "HEADERS " + f.streamId() + fin(f.isLast());
        }
        if (o instanceof SpdyRstStreamFrame f) {
            return "RST_STREAM " + f.streamId() + " " + f.status();
        }
        if (o instanceof SpdySettingsFrame f) {
            StringBuilder sb = new StringBuilder("SETTINGS");
            for (int id : new TreeSet<>(f.ids())) {
                sb.append(' ').append(id).append('=').append(f.getValue(id));
            }
            return sb.toString();
        }
        if (o instanceof SpdyPingFrame f) {
            return "PING " + f.id();
        }
        if (o instanceof SpdyGoAwayFrame f) {
            return "GOAWAY " + f.lastGoodStreamId() + " " + f.status();
        }
        if (o instanceof SpdyWindowUpdateFrame f) {
            return "WINDOW_UPDATE " + f.streamId() + " " + f.deltaWindowSize();
        }
        return String.valueOf(o);
    }

    private static String fin(boolean last) {
        return last ? " FIN" : "";
    }

    /** Sum of DATA payload bytes on {@code streamId} (the peer's decoder splits frames in chunks). */
    private static long dataBytes(List<String> wire, int streamId) {
        long sum = 0;
        for (String f : wire) {
            String[] parts = f.split(" ");
            if (parts[0].equals("DATA") && Integer.parseInt(parts[1]) == streamId) {
                sum += Long.parseLong(parts[2]);
            }
        }
        return sum;
    }

    private static DefaultSpdySynStreamFrame syn(int id, boolean fin) {
        DefaultSpdySynStreamFrame f = new DefaultSpdySynStreamFrame(id, 0, (byte) 0);
        f.headers().set(":method", "GET").set(":path", "/").set(":version", "HTTP/1.1")
                .set(":host", "localhost").set(":scheme", "https");
        f.setLast(fin);
        return f;
    }

    private static DefaultSpdyDataFrame data(int id, int length, boolean fin) {
        DefaultSpdyDataFrame f = new DefaultSpdyDataFrame(id, Unpooled.wrappedBuffer(new byte[length]));
        f.setLast(fin);
        return f;
    }

    private static DefaultSpdyRstStreamFrame rst(int id, SpdyStreamStatus status) {
        return new DefaultSpdyRstStreamFrame(id, status);
    }

    private static SpdyHeaders reply() {
        SpdyHeaders h = new DefaultSpdyHeaders();
        h.set(":status", "200 OK").set(":version", "HTTP/1.1");
        return h;
    }

    private static SpdyHeaders request() {
        SpdyHeaders h = new DefaultSpdyHeaders();
        h.set(":method", "GET").set(":path", "/").set(":version", "HTTP/1.1")
                .set(":host", "localhost").set(":scheme", "https");
        return h;
    }

    private static SpdyHeaders trailers() {
        SpdyHeaders h = new DefaultSpdyHeaders();
        h.set("x-checksum", "abc");
        return h;
    }

    /** {@code n} PING frames with the peer's (odd) ids from {@code firstId}, in one buffer. */
    private static ByteBuf rawPings(int firstId, int n) {
        ByteBuf b = Unpooled.buffer(n * 12);
        for (int i = 0; i < n; i++) {
            b.writeShort(0x8003).writeShort(6).writeInt(4).writeInt(firstId + 2 * i);
        }
        return b;
    }

    private static ByteBuf hex(String s) {
        return Unpooled.wrappedBuffer(ByteBufUtil.decodeHexDump(s.replace(" ", "")));
    }
}
