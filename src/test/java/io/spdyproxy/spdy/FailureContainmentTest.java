package io.spdyproxy.spdy;

import static io.spdyproxy.spdy.ScriptedWire.data;
import static io.spdyproxy.spdy.ScriptedWire.reply;
import static io.spdyproxy.spdy.ScriptedWire.request;
import static io.spdyproxy.spdy.ScriptedWire.syn;
import static io.spdyproxy.spdy.ScriptedWire.wire;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.codec.spdy.DefaultSpdyHeaders;
import io.netty.handler.codec.spdy.SpdyHeaders;
import io.spdyproxy.spdy.ScriptedWire.Recorder;
import io.spdyproxy.spdy.http.SpdyClient;
import io.spdyproxy.spdy.http.SpdyServer;
import io.spdyproxy.testing.ScriptedPeer;
import io.spdyproxy.transport.Transport;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Nothing an application or a peer does makes an exception escape into the event loop or leaks a
 * buffer: a listener that throws (also a checked exception, as Kotlin or Scala code may) costs only
 * its stream, a request made after the session's event loop is gone fails or is released instead
 * of throwing, an application request that fails inside the session fails its future, and
 * malformed frames end the session with GOAWAY (or only their stream) without an exception.
 */
class FailureContainmentTest {

    /** Throws {@code e} whatever its type, as code in languages without checked exceptions may. */
    @SuppressWarnings("unchecked")
    private static <E extends Throwable> RuntimeException sneaky(Throwable e) throws E {
        throw (E) e;
    }

    /** A Recorder whose stream callbacks throw a checked exception for stream 1. */
    private static final class Throwing extends Recorder {
        final String where;

        Throwing(String where) {
            this.where = where;
        }

        @Override
        public SpdyStreamListener onStream(SpdyStream stream, SpdyHeaders h) {
            if (where.equals("onStream") && stream.id() == 1) {
                throw sneaky(new IOException("onStream failed"));
            }
            return super.onStream(stream, h);
        }

        @Override
        public void onData(SpdyStream stream, ByteBuf data, boolean endOfStream) {
            super.onData(stream, data, endOfStream); // releases it
            if (where.equals("onData") && stream.id() == 1) {
                throw sneaky(new IOException("onData failed"));
            }
        }

        @Override
        public void onWritabilityChanged(SpdyStream stream) {
            super.onWritabilityChanged(stream);
            if (where.equals("onWritabilityChanged") && stream.id() == 1) {
                throw sneaky(new IOException("onWritabilityChanged failed"));
            }
        }
    }

    static Stream<String> callbacks() {
        return Stream.of("onStream", "onData", "onWritabilityChanged");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("callbacks")
    void aListenerThrowingACheckedExceptionCostsOnlyItsStream(String where) {
        Throwing app = new Throwing(where);
        SpdySessionConfig config = SpdySessionConfig.builder(SpdyRole.SERVER).build();
        try (ScriptedPeer peer = new ScriptedPeer(config, app)) {
            peer.discardReceived();
            peer.send(ScriptedWire.initialWindow(0)); // so that a reply makes stream 1 unwritable
            assertThatCode(() -> {
                peer.send(syn(1, false), data(1, 10, false), syn(3, true));
                if (where.equals("onWritabilityChanged")) {
                    SpdyStream s = app.streams.get(1);
                    s.sendHeaders(reply(), false);
                    s.sendData(Unpooled.wrappedBuffer(new byte[1000]), false);
                    peer.send(new io.netty.handler.codec.spdy.DefaultSpdyWindowUpdateFrame(1, 1000));
                }
            }).doesNotThrowAnyException();
            assertThatCode(peer.channel::checkException).doesNotThrowAnyException();

            String expected = where.equals("onStream") ? "RST_STREAM 1 REFUSED_STREAM" : "RST_STREAM 1 INTERNAL_ERROR";
            assertThat(wire(peer)).contains(expected);
            assertThat(peer.channel.isOpen()).isTrue();
            // The other stream is served as usual.
            app.streams.get(3).sendHeaders(reply(), true);
            assertThat(wire(peer)).containsExactly("SYN_REPLY 3 FIN");
            assertThat(app.sessionClosed).isFalse();
        }
    }

    @Test
    void requestsAfterTheSessionsEventLoopIsGoneNeitherThrowNorLeak() throws Exception {
        EventLoopGroup serverLoop = Transport.newGroup(1, "gone-server");
        EventLoopGroup clientLoop = Transport.newGroup(1, "gone-client");
        try (SpdyServer server = SpdyServer.start(new InetSocketAddress("127.0.0.1", 0), null,
                SpdySessionConfig.builder(SpdyRole.SERVER).build(), ex -> { }, serverLoop)) {
            SpdySession session = SpdyClient.connect(clientLoop, new InetSocketAddress("127.0.0.1", server.port()),
                    null, SpdySessionConfig.builder(SpdyRole.CLIENT).build(), SpdySessionListener.refusingStreams())
                    .get(10, TimeUnit.SECONDS);
            SpdyStream stream = session.newStream(request(), 0, false, new Recorder()).get(10, TimeUnit.SECONDS);
            assertThat(clientLoop.shutdownGracefully(0, 0, TimeUnit.SECONDS).await(10, TimeUnit.SECONDS)).isTrue();

            ByteBuf late = Unpooled.directBuffer(100).writeZero(100);
            assertThatCode(() -> stream.sendData(late, true)).doesNotThrowAnyException();
            assertThat(late.refCnt()).as("a chunk nobody can send any more is released").isZero();
            assertThat(session.newStream(request(), 0, false, new Recorder()))
                    .failsWithin(10, TimeUnit.SECONDS).withThrowableOfType(ExecutionException.class)
                    .withCauseInstanceOf(SpdyStreamException.class);
            assertThat(session.ping()).failsWithin(10, TimeUnit.SECONDS);
        } finally {
            serverLoop.shutdownGracefully(0, 1, TimeUnit.SECONDS).await(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void aRequestThatFailsInsideTheSessionFailsItsFutureInsteadOfTheEventLoop() throws Exception {
        EventLoopGroup loops = Transport.newGroup(1, "failing-task");
        try (SpdyServer server = SpdyServer.start(new InetSocketAddress("127.0.0.1", 0), null,
                SpdySessionConfig.builder(SpdyRole.SERVER).build(), ex -> { }, loops)) {
            SpdySession session = SpdyClient.connect(loops, new InetSocketAddress("127.0.0.1", server.port()),
                    null, SpdySessionConfig.builder(SpdyRole.CLIENT).build(), SpdySessionListener.refusingStreams())
                    .get(10, TimeUnit.SECONDS);
            // Headers whose iteration breaks (an application's own SpdyHeaders, say), from another thread.
            SpdyHeaders broken = new DefaultSpdyHeaders() {
                @Override
                public Iterator<Map.Entry<CharSequence, CharSequence>> iterator() {
                    throw new IllegalStateException("broken headers");
                }
            };
            CompletableFuture<SpdyStream> f = session.newStream(broken, 0, true, new Recorder());
            assertThat(f).failsWithin(10, TimeUnit.SECONDS).withThrowableOfType(ExecutionException.class)
                    .withCauseInstanceOf(IllegalStateException.class);
            session.closeFuture().get(10, TimeUnit.SECONDS);
        } finally {
            loops.shutdownGracefully(0, 1, TimeUnit.SECONDS).await(10, TimeUnit.SECONDS);
        }
    }

    // ------------------------------------------------------------------------------------------
    // Malformed frames: each goes to a session that has a stream open mid-body.

    static Stream<Arguments> malformedFrames() {
        return Stream.of(
                Arguments.of("SYN_STREAM whose header block is not zlib", "80030001 0000000e 00000003 00000000 0000 deadbeef", true),
                Arguments.of("SYN_STREAM shorter than its fixed fields", "80030001 00000004 00000003", true),
                Arguments.of("SYN_STREAM for stream 0", "80030001 0000000a 00000000 00000000 0000", true),
                Arguments.of("HEADERS for stream 0", "80030008 00000004 00000000", true),
                Arguments.of("DATA for stream 0", "00000000 00000004 00000000", true),
                Arguments.of("RST_STREAM for stream 0", "80030003 00000008 00000000 00000005", true),
                Arguments.of("GOAWAY shorter than 8 bytes", "80030007 00000004 00000000", true),
                Arguments.of("WINDOW_UPDATE overflowing the session window", "80030009 00000008 00000000 7fffffff", true),
                Arguments.of("SETTINGS announcing a million entries", "80030004 0000000c 000f4240 00000007 00001000", true),
                Arguments.of("an unknown control frame type (ignored)", "80030063 00000004 01020304", false),
                Arguments.of("a control frame of 16 MiB that never comes", "80030001 00ffffff 00000003 00000000", false),
                Arguments.of("DATA beyond the stream's window (resets the stream)", "00000001 0004b000", false));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("malformedFrames")
    void malformedFramesNeverThrowIntoTheLoop(String what, String hexBytes, boolean endsSession) {
        Recorder app = new Recorder();
        try (ScriptedPeer peer = new ScriptedPeer(SpdySessionConfig.builder(SpdyRole.SERVER).build(), app)) {
            peer.discardReceived();
            peer.send(syn(1, false), data(1, 100, false));
            ByteBuf bytes = Unpooled.wrappedBuffer(ByteBufUtil.decodeHexDump(hexBytes.replace(" ", "")));
            if (what.startsWith("DATA beyond")) {
                bytes = Unpooled.wrappedBuffer(bytes, Unpooled.wrappedBuffer(new byte[0x4b000]));
            }
            ByteBuf in = bytes;
            assertThatCode(() -> peer.sendRaw(in)).doesNotThrowAnyException();
            assertThatCode(peer.channel::checkException).doesNotThrowAnyException();
            java.util.List<String> out = wire(peer);
            if (endsSession) {
                assertThat(out).as(what).anyMatch(f -> f.startsWith("GOAWAY ") && f.endsWith("PROTOCOL_ERROR"));
                assertThat(peer.channel.isOpen()).isFalse();
                assertThat(app.closed.get(1).error()).isEqualTo(SpdyError.SESSION_CLOSED);
            } else {
                assertThat(out).noneMatch(f -> f.startsWith("GOAWAY"));
                assertThat(peer.channel.isOpen()).isTrue();
                if (what.startsWith("DATA beyond")) {
                    assertThat(out).containsExactly("RST_STREAM 1 FLOW_CONTROL_ERROR");
                }
            }
        }
    }
}
