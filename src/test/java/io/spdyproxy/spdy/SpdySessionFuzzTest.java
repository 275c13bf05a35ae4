package io.spdyproxy.spdy;

import static org.junit.jupiter.params.provider.Arguments.arguments;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.spdy.DefaultSpdyDataFrame;
import io.netty.handler.codec.spdy.DefaultSpdyGoAwayFrame;
import io.netty.handler.codec.spdy.DefaultSpdyHeaders;
import io.netty.handler.codec.spdy.DefaultSpdyHeadersFrame;
import io.netty.handler.codec.spdy.DefaultSpdyPingFrame;
import io.netty.handler.codec.spdy.DefaultSpdyRstStreamFrame;
import io.netty.handler.codec.spdy.DefaultSpdySettingsFrame;
import io.netty.handler.codec.spdy.DefaultSpdySynReplyFrame;
import io.netty.handler.codec.spdy.DefaultSpdySynStreamFrame;
import io.netty.handler.codec.spdy.DefaultSpdyWindowUpdateFrame;
import io.netty.handler.codec.spdy.SpdyFrame;
import io.netty.handler.codec.spdy.SpdyFrameCodec;
import io.netty.handler.codec.spdy.SpdyHeaders;
import io.netty.handler.codec.spdy.SpdySessionStatus;
import io.netty.handler.codec.spdy.SpdyStreamStatus;
import io.netty.handler.codec.spdy.SpdyVersion;
import io.netty.util.ReferenceCountUtil;
import io.spdyproxy.testing.SocketLikeChannel;
import io.spdyproxy.testing.TrackingAllocator;
import java.io.ByteArrayOutputStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Coverage-guided fuzzing of SPDY frame and header-block decoding, through a whole session: the
 * peer's bytes, cut into reads of varying size, go into {@link SpdySession#install} on an
 * {@code EmbeddedChannel}, in either role, while a small application answers streams, sends bodies
 * bigger than the window and consumes what it receives. Whatever the bytes, after each input:
 * no exception escapes the pipeline, every buffer allocated on the channel is released, every frame
 * the session wrote decodes cleanly at the peer, the session either stays open or closes with a
 * classified error ({@link SpdySessionException}), and each stream gets at most one
 * {@code onClosed} with nothing after it.
 *
 * <p>Input layout: byte 0 picks the setup ({@link #CLIENT} ... {@link #TIME}), byte 1 the read
 * size and mid-input actions, the rest is what the peer sends. The seeds are valid frames of every
 * type, so coverage starts deep.
 *
 * <p>Timeout: the whole fuzzing run is one JUnit invocation, so the suite's default timeout would cut
 * a long run ({@code -Dfuzz.duration=1h}); libFuzzer's {@code -timeout} (pom) bounds each input.
 */
@Timeout(value = 1, unit = TimeUnit.DAYS)
class SpdySessionFuzzTest {

    // Byte 0.
    static final int CLIENT = 1;
    static final int LEGACY = 1 << 1;
    static final int SPDY3 = 1 << 2;
    static final int COMPRESS = 1 << 3;
    static final int TIGHT = 1 << 4;
    static final int ANSWER = 1 << 5;
    static final int CONSUME = 1 << 6;
    static final int TIME = 1 << 7;
    // Byte 1: read size in the low 6 bits (0: everything in one read), then actions halfway.
    static final int SHUTDOWN_HALFWAY = 1 << 6;
    static final int PING_HALFWAY = 1 << 7;

    /** A response body larger than the peer's initial 64 KiB window, so sending has to wait for it. */
    private static final int LARGE_BODY = 70_000;

    @MethodSource("seeds")
    @FuzzTest(maxDuration = "10s")
    void peerBytes(byte[] input) {
        new Run(input).run();
    }

    /** One input's session, application and peer. */
    private static final class Run {
        private final int setup;
        private final int reads;
        private final byte[] wire;
        private final TrackingAllocator alloc = new TrackingAllocator();
        private final SocketLikeChannel channel = new SocketLikeChannel();
        /** Decodes what the session writes, as the peer would. */
        private final EmbeddedChannel peer = new EmbeddedChannel(new SpdyFrameCodec(SpdyVersion.SPDY_3_1));
        private final List<ByteBuf> fed = new ArrayList<>();
        private final App app = new App();
        private SpdySession session;

        Run(byte[] input) {
            setup = input.length > 0 ? input[0] & 0xFF : 0;
            reads = input.length > 1 ? input[1] & 0xFF : 0;
            wire = input.length > 2 ? java.util.Arrays.copyOfRange(input, 2, input.length) : new byte[0];
        }

        private boolean is(int flag) {
            return (setup & flag) != 0;
        }

        void run() {
            try {
                exercise();
                check();
            } catch (Exception e) {
                throw new AssertionError(e);
            } finally {
                channel.finishAndReleaseAll();
                peer.finishAndReleaseAll();
            }
            for (ByteBuf b : fed) {
                if (b.refCnt() != 0) {
                    throw new AssertionError("an inbound buffer was not released: refCnt " + b.refCnt());
                }
            }
            alloc.assertAllReleased("the session closed");
            peer.checkException();
        }

        private void exercise() throws Exception {
            channel.register();
            channel.config().setAllocator(alloc);
            peer.config().setAllocator(alloc);
            channel.freezeTime(); // timers run only when this run advances the clock
            session = SpdySession.install(channel, config(), app);
            pump();
            if (is(CLIENT)) {
                openClientStreams();
            }
            int chunk = reads & 0x3F;
            chunk = chunk == 0 ? Math.max(1, wire.length) : chunk * chunk;
            int half = wire.length / 2;
            boolean halfwayDone = false;
            for (int off = 0; off < wire.length && channel.isOpen(); off += chunk) {
                if (!halfwayDone && off >= half) {
                    halfway();
                    halfwayDone = true;
                    if (!channel.isOpen()) {
                        break; // a graceful shutdown with no stream open closes at once
                    }
                }
                ByteBuf b = Unpooled.wrappedBuffer(wire, off, Math.min(chunk, wire.length - off));
                fed.add(b);
                channel.writeInbound(b);
                pump();
            }
            if (!halfwayDone && channel.isOpen()) {
                halfway();
            }
            if (is(TIME)) {
                for (int i = 0; i < 4 && channel.isOpen(); i++) {
                    channel.advanceTimeBy(15, TimeUnit.SECONDS);
                    channel.runScheduledPendingTasks();
                    pump();
                }
            }
        }

        private SpdySessionConfig config() {
            SpdySessionConfig.Builder b = SpdySessionConfig.builder(is(CLIENT) ? SpdyRole.CLIENT : SpdyRole.SERVER)
                    .legacyPeer(is(LEGACY))
                    .protocol(is(SPDY3) ? SpdyProtocol.SPDY_3 : SpdyProtocol.SPDY_3_1)
                    .compressHeaders(is(COMPRESS));
            if (is(TIGHT)) {
                b.maxConcurrentStreams(2).maxHeaderCount(8).maxHeaderBlockSize(1024)
                        .initialStreamWindow(4096).maxStreamWindow(16_384).windowGrowthBudget(8192)
                        .sessionWindow(65_536).maxFrameSize(1000).maxInboundChunk(700)
                        .maxQueuedControlFrames(8).maxResetsPerWindow(3).maxConsecutiveEmptyFrames(2)
                        .legacyWindowAllowance(1000).streamIdsLowWatermark(Integer.MAX_VALUE / 2 - 2);
            }
            if (is(TIME)) {
                b.pingInterval(Duration.ofSeconds(10)).maxMissedPings(2);
            }
            return b.build();
        }

        /** As the proxy does on a tunnel: a bodiless request, and one with a body over the window. */
        private void openClientStreams() {
            session.newStream(request(), 0, true, new StreamApp());
            session.newStream(request(), 3, false, new StreamApp()).thenAccept(s -> {
                s.sendData(body(LARGE_BODY), true);
            });
            pump();
        }

        private void halfway() {
            if ((reads & PING_HALFWAY) != 0) {
                session.ping();
            }
            if ((reads & SHUTDOWN_HALFWAY) != 0) {
                session.shutdownGracefully(Duration.ofSeconds(5));
            }
            pump();
        }

        /** Runs what the session queued and hands everything it wrote to the peer's decoder. */
        private void pump() {
            for (int round = 0; round < 100; round++) {
                channel.runPendingTasks();
                if (channel.isOpen()) {
                    channel.flushOutbound();
                }
                boolean any = false;
                Object out;
                while ((out = channel.readOutbound()) != null) {
                    any = true;
                    if (!(out instanceof ByteBuf)) {
                        ReferenceCountUtil.release(out);
                        throw new AssertionError("the session wrote " + out.getClass() + ", not bytes");
                    }
                    // Throws when the session wrote something the peer cannot decode.
                    peer.writeInbound(out);
                    Object frame;
                    while ((frame = peer.readInbound()) != null) {
                        ReferenceCountUtil.release(frame);
                    }
                }
                if (!any && !channel.hasPendingTasks()) {
                    return;
                }
            }
        }

        private void check() {
            if (!app.violations.isEmpty()) {
                throw new AssertionError("listener contract broken: " + app.violations);
            }
            if (app.closedCause != null && !(app.closedCause instanceof SpdySessionException)) {
                throw new AssertionError("session failed with an unclassified error", app.closedCause);
            }
            if (channel.isOpen() == (session.state() == SpdySession.State.CLOSED)) {
                throw new AssertionError("channel open: " + channel.isOpen() + ", session " + session.state());
            }
            channel.close();
            pump();
            if (app.closedCalls != 1 || !session.closeFuture().isDone()) {
                throw new AssertionError("after close: onClosed called " + app.closedCalls + " times, closeFuture "
                        + session.closeFuture());
            }
            for (StreamApp s : app.all) {
                if (s.closed != 1) {
                    throw new AssertionError("a stream got onClosed " + s.closed + " times by session close");
                }
            }
            if (!app.violations.isEmpty()) {
                throw new AssertionError("listener contract broken: " + app.violations);
            }
        }

        private ByteBuf body(int n) {
            return alloc.heapBuffer(n).writeZero(n);
        }

        /** The application: answers each request once it ended, with a body over the window. */
        private final class App implements SpdySessionListener {
            final List<StreamApp> all = new ArrayList<>();
            final List<String> violations = new ArrayList<>();
            int closedCalls;
            Throwable closedCause;

            @Override
            public SpdyStreamListener onStream(SpdyStream stream, SpdyHeaders headers) {
                if (is(CLIENT)) {
                    return null; // a proxy refuses pushed streams
                }
                return new StreamApp();
            }

            @Override
            public void onClosed(SpdySession s, Throwable cause) {
                closedCalls++;
                closedCause = cause;
            }
        }

        private final class StreamApp implements SpdyStreamListener {
            int closed;
            boolean answered;

            StreamApp() {
                app.all.add(this);
            }

            private void event(SpdyStream stream, String what) {
                if (closed > 0) {
                    app.violations.add(what + " on stream " + stream.id() + " after onClosed");
                }
            }

            @Override
            public void onHeaders(SpdyStream stream, SpdyHeaders headers, boolean endOfStream) {
                event(stream, "onHeaders");
                if (endOfStream) {
                    answer(stream);
                }
            }

            @Override
            public void onData(SpdyStream stream, ByteBuf data, boolean endOfStream) {
                event(stream, "onData");
                int n = data.readableBytes();
                data.release();
                if (is(CONSUME)) {
                    stream.consume(n);
                }
                if (endOfStream) {
                    answer(stream);
                }
            }

            private void answer(SpdyStream stream) {
                if (answered || stream.isLocal() || !is(ANSWER)) {
                    return;
                }
                answered = true;
                switch (stream.id() & 7) {
                    case 7 -> stream.reset(SpdyError.CANCEL);
                    case 5 -> stream.sendHeaders(reply(), true);
                    case 3 -> {
                        stream.sendHeaders(reply(), false);
                        stream.sendData(body(10), false);
                        stream.sendHeaders(trailers(), true);
                    }
                    default -> {
                        stream.sendHeaders(reply(), false);
                        stream.sendData(body(LARGE_BODY), true);
                    }
                }
            }

            @Override
            public void onClosed(SpdyStream stream, SpdyStreamException cause) {
                event(stream, "onClosed");
                closed++;
            }
        }
    }

    // ------------------------------------------------------------------------------------------
    // Seeds: valid frames of every type, as Netty's own encoder writes them.

    static Stream<Arguments> seeds() {
        List<Arguments> out = new ArrayList<>();
        Map<String, byte[]> server = new LinkedHashMap<>();
        server.put("syn-fin", frames(syn(1, true)));
        server.put("syn-data-fin", frames(syn(1, false), data(1, 100, false), data(1, 0, true)));
        server.put("settings-ping-window", frames(settings(), new DefaultSpdyPingFrame(1),
                new DefaultSpdyWindowUpdateFrame(0, 100_000), syn(1, true), new DefaultSpdyWindowUpdateFrame(1, 70_000)));
        server.put("rst-goaway", frames(syn(1, false), new DefaultSpdyRstStreamFrame(1, SpdyStreamStatus.CANCEL),
                syn(3, true), new DefaultSpdyGoAwayFrame(3, SpdySessionStatus.OK)));
        server.put("trailers", frames(syn(3, false), data(3, 10, false), headers(3, true)));
        server.put("many-streams", frames(syn(1, true), syn(3, true), syn(5, false), syn(7, true),
                data(5, 1000, true), new DefaultSpdyWindowUpdateFrame(1, 10_000), new DefaultSpdyWindowUpdateFrame(0, 10_000)));
        server.put("malformed-version-2", hex("80020006 00000004 00000001"));
        server.put("malformed-settings-length", hex("80030004 0000000c 00000002 00000004 00000064"));
        server.put("malformed-rst-status-0", hex("80030003 00000008 00000001 00000000"));
        server.put("malformed-window-delta-0", hex("80030009 00000008 00000000 00000000"));
        Map<String, byte[]> client = new LinkedHashMap<>();
        client.put("replies", frames(settings(), reply(1, false), data(1, 100, true), reply(3, false),
                new DefaultSpdyWindowUpdateFrame(3, 70_000), new DefaultSpdyWindowUpdateFrame(0, 70_000), data(3, 5, true)));
        client.put("push-rst-goaway", frames(reply(1, false), push(2, 1), new DefaultSpdyRstStreamFrame(3,
                SpdyStreamStatus.REFUSED_STREAM), new DefaultSpdyGoAwayFrame(1, SpdySessionStatus.PROTOCOL_ERROR)));
        client.put("reply-headers-ping", frames(reply(1, false), headers(1, false), data(1, 3, false),
                headers(1, true), new DefaultSpdyPingFrame(2), new DefaultSpdyPingFrame(1)));
        int[] serverSetups = {ANSWER | CONSUME, ANSWER | CONSUME | LEGACY, ANSWER | SPDY3, ANSWER | CONSUME | TIGHT,
            ANSWER | COMPRESS | TIME};
        int[] clientSetups = {CLIENT | CONSUME, CLIENT | LEGACY | CONSUME | TIME, CLIENT | TIGHT};
        int[] readSizes = {0, 1, 3 | PING_HALFWAY, 9 | SHUTDOWN_HALFWAY};
        int n = 0;
        for (Map.Entry<String, byte[]> e : server.entrySet()) {
            for (int s : serverSetups) {
                int r = readSizes[n++ % readSizes.length];
                out.add(arguments(seed(e.getKey(), s, r, e.getValue())));
            }
        }
        for (Map.Entry<String, byte[]> e : client.entrySet()) {
            for (int s : clientSetups) {
                int r = readSizes[n++ % readSizes.length];
                out.add(arguments(seed(e.getKey(), s, r, e.getValue())));
            }
        }
        return out.stream();
    }

    private static org.junit.jupiter.api.Named<byte[]> seed(String name, int setup, int reads, byte[] wire) {
        byte[] b = new byte[wire.length + 2];
        b[0] = (byte) setup;
        b[1] = (byte) reads;
        System.arraycopy(wire, 0, b, 2, wire.length);
        return org.junit.jupiter.api.Named.of(String.format("%s setup=%02x reads=%02x", name, setup, reads), b);
    }

    private static byte[] frames(SpdyFrame... frames) {
        EmbeddedChannel encoder = new EmbeddedChannel(new SpdyFrameCodec(SpdyVersion.SPDY_3_1));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            for (SpdyFrame f : frames) {
                encoder.writeOutbound(f);
            }
            ByteBuf b;
            while ((b = encoder.readOutbound()) != null) {
                out.writeBytes(ByteBufUtil.getBytes(b));
                b.release();
            }
        } finally {
            encoder.finishAndReleaseAll();
        }
        return out.toByteArray();
    }

    private static byte[] hex(String s) {
        return ByteBufUtil.decodeHexDump(s.replace(" ", ""));
    }

    private static DefaultSpdySynStreamFrame syn(int id, boolean fin) {
        DefaultSpdySynStreamFrame f = new DefaultSpdySynStreamFrame(id, 0, (byte) 0);
        f.headers().set(":method", "POST").set(":path", "/a?b=c").set(":version", "HTTP/1.1")
                .set(":host", "example.com").set(":scheme", "https").set("content-type", "text/plain");
        f.setLast(fin);
        return f;
    }

    private static DefaultSpdySynStreamFrame push(int id, int associated) {
        DefaultSpdySynStreamFrame f = new DefaultSpdySynStreamFrame(id, associated, (byte) 0);
        f.headers().set(":status", "200 OK").set(":version", "HTTP/1.1").set(":path", "/pushed");
        f.setUnidirectional(true);
        return f;
    }

    private static DefaultSpdySynReplyFrame reply(int id, boolean fin) {
        DefaultSpdySynReplyFrame f = new DefaultSpdySynReplyFrame(id);
        f.headers().set(":status", "200 OK").set(":version", "HTTP/1.1").set("content-length", "100");
        f.setLast(fin);
        return f;
    }

    private static DefaultSpdyHeadersFrame headers(int id, boolean fin) {
        DefaultSpdyHeadersFrame f = new DefaultSpdyHeadersFrame(id);
        f.headers().set("x-checksum", "abc");
        f.setLast(fin);
        return f;
    }

    private static DefaultSpdySettingsFrame settings() {
        DefaultSpdySettingsFrame f = new DefaultSpdySettingsFrame();
        f.setValue(4, 10);
        f.setValue(7, 1 << 20);
        return f;
    }

    private static DefaultSpdyDataFrame data(int id, int length, boolean fin) {
        DefaultSpdyDataFrame f = new DefaultSpdyDataFrame(id, Unpooled.wrappedBuffer(new byte[length]));
        f.setLast(fin);
        return f;
    }

    private static SpdyHeaders request() {
        SpdyHeaders h = new DefaultSpdyHeaders();
        h.set(":method", "GET").set(":path", "/").set(":version", "HTTP/1.1")
                .set(":host", "localhost").set(":scheme", "https");
        return h;
    }

    private static SpdyHeaders reply() {
        SpdyHeaders h = new DefaultSpdyHeaders();
        h.set(":status", "200 OK").set(":version", "HTTP/1.1");
        return h;
    }

    private static SpdyHeaders trailers() {
        SpdyHeaders h = new DefaultSpdyHeaders();
        h.set("x-checksum", "abc");
        return h;
    }
}
