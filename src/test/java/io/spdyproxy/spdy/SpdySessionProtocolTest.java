package io.spdyproxy.spdy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
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
import io.netty.handler.codec.spdy.SpdyDataFrame;
import io.netty.handler.codec.spdy.SpdyGoAwayFrame;
import io.netty.handler.codec.spdy.SpdyHeaders;
import io.netty.handler.codec.spdy.SpdyHeadersFrame;
import io.netty.handler.codec.spdy.SpdyPingFrame;
import io.netty.handler.codec.spdy.SpdyRstStreamFrame;
import io.netty.handler.codec.spdy.SpdySessionStatus;
import io.netty.handler.codec.spdy.SpdySettingsFrame;
import io.netty.handler.codec.spdy.SpdyStreamStatus;
import io.netty.handler.codec.spdy.SpdySynReplyFrame;
import io.netty.handler.codec.spdy.SpdySynStreamFrame;
import io.netty.handler.codec.spdy.SpdyWindowUpdateFrame;
import io.netty.util.ReferenceCountUtil;
import io.spdyproxy.testing.ScriptedPeer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

/**
 * Protocol-level tests of {@link SpdySession} against a scripted peer: stream lifecycle, the exact
 * RST_STREAM / GOAWAY statuses of SPDY/3 (plus the SPDY/3.1 session window), flow control on both
 * levels and in both directions, SETTINGS, PING, GOAWAY, priorities and stream-id exhaustion.
 *
 * <p>Every DATA frame the session writes is copied into a {@link Data} record and released at once
 * by {@link #take}, and every listener releases the buffers it gets, so nothing leaks.
 */
class SpdySessionProtocolTest {

    private static final int DEFAULT_WINDOW = SpdySessionConfig.DEFAULT_WINDOW;
    private static final int MAX_WINDOW = Integer.MAX_VALUE;

    // ------------------------------------------------------------------------------------------
    // Fixtures

    /** A DATA frame the session wrote, copied so the buffer can be released at once. */
    record Data(int streamId, int length, boolean last, String text) {}

    /** Records one stream's events; releases every buffer it is given. */
    static final class StreamRecorder implements SpdyStreamListener {
        SpdyStream stream;
        final List<String> events = new ArrayList<>();
        final List<SpdyHeaders> headers = new ArrayList<>();
        final List<Boolean> headersEnd = new ArrayList<>();
        final StringBuilder body = new StringBuilder();
        final List<Boolean> writability = new ArrayList<>();
        long dataBytes;
        int closedCount;
        SpdyStreamException closeCause;

        @Override
        public void onHeaders(SpdyStream s, SpdyHeaders h, boolean endOfStream) {
            stream = s;
            headers.add(h);
            headersEnd.add(endOfStream);
            events.add(endOfStream ? "headers+fin" : "headers");
        }

        @Override
        public void onData(SpdyStream s, ByteBuf data, boolean endOfStream) {
            try {
                int len = data.readableBytes();
                dataBytes += len;
                if (len <= 256) {
                    body.append(data.toString(StandardCharsets.UTF_8));
                }
                events.add("data:" + len + (endOfStream ? "+fin" : ""));
            } finally {
                data.release();
            }
        }

        @Override
        public void onWritabilityChanged(SpdyStream s) {
            writability.add(s.isWritable());
        }

        @Override
        public void onClosed(SpdyStream s, SpdyStreamException cause) {
            closedCount++;
            closeCause = cause;
            events.add("closed");
        }
    }

    /** Records session events; accepts every peer stream unless told to refuse. */
    static final class SessionRecorder implements SpdySessionListener {
        final Map<Integer, StreamRecorder> streams = new LinkedHashMap<>();
        final Map<Integer, SpdyHeaders> synHeaders = new LinkedHashMap<>();
        final List<Integer> goAways = new ArrayList<>();
        int streamIdsLow;
        int closed;
        Throwable closeCause;

        @Override
        public SpdyStreamListener onStream(SpdyStream stream, SpdyHeaders headers) {
            StreamRecorder rec = new StreamRecorder();
            rec.stream = stream;
            streams.put(stream.id(), rec);
            synHeaders.put(stream.id(), headers);
            return rec;
        }

        @Override
        public void onGoAway(SpdySession session, int lastGoodStreamId) {
            goAways.add(lastGoodStreamId);
        }

        @Override
        public void onStreamIdsLow(SpdySession session) {
            streamIdsLow++;
        }

        @Override
        public void onClosed(SpdySession session, Throwable cause) {
            closed++;
            closeCause = cause;
        }
    }

    private static SpdySessionConfig.Builder server() {
        return SpdySessionConfig.builder(SpdyRole.SERVER);
    }

    private static SpdySessionConfig.Builder client() {
        return SpdySessionConfig.builder(SpdyRole.CLIENT);
    }

    /** A session with its opening frames already read and dropped. */
    private static ScriptedPeer started(SpdySessionConfig config, SpdySessionListener listener) {
        ScriptedPeer peer = new ScriptedPeer(config, listener);
        peer.discardReceived();
        return peer;
    }

    private static SpdyHeaders request() {
        SpdyHeaders h = new DefaultSpdyHeaders();
        h.set(":method", "POST").set(":path", "/upload").set(":version", "HTTP/1.1")
                .set(":host", "example.test").set(":scheme", "https");
        return h;
    }

    private static SpdyHeaders response() {
        SpdyHeaders h = new DefaultSpdyHeaders();
        h.set(":status", "200 OK").set(":version", "HTTP/1.1");
        return h;
    }

    private static DefaultSpdySynStreamFrame syn(int id, int priority, boolean fin) {
        DefaultSpdySynStreamFrame f = new DefaultSpdySynStreamFrame(id, 0, (byte) priority);
        f.headers().set(request());
        f.setLast(fin);
        return f;
    }

    private static DefaultSpdySynReplyFrame reply(int id, boolean fin) {
        DefaultSpdySynReplyFrame f = new DefaultSpdySynReplyFrame(id);
        f.headers().set(response());
        f.setLast(fin);
        return f;
    }

    private static DefaultSpdyDataFrame data(int id, String text, boolean fin) {
        DefaultSpdyDataFrame f = new DefaultSpdyDataFrame(id,
                Unpooled.copiedBuffer(text, StandardCharsets.UTF_8));
        f.setLast(fin);
        return f;
    }

    private static DefaultSpdyDataFrame data(int id, int size, boolean fin) {
        DefaultSpdyDataFrame f = new DefaultSpdyDataFrame(id, Unpooled.wrappedBuffer(new byte[size]));
        f.setLast(fin);
        return f;
    }

    private static DefaultSpdyWindowUpdateFrame windowUpdate(int id, int delta) {
        return new DefaultSpdyWindowUpdateFrame(id, delta);
    }

    private static DefaultSpdySettingsFrame settings(int id, int value) {
        DefaultSpdySettingsFrame f = new DefaultSpdySettingsFrame();
        f.setValue(id, value);
        return f;
    }

    private static ByteBuf bytes(int size) {
        return Unpooled.wrappedBuffer(new byte[size]);
    }

    private static ByteBuf text(String s) {
        return Unpooled.copiedBuffer(s, StandardCharsets.UTF_8);
    }

    /**
     * Everything the session wrote since the last call, in order, with DATA frames copied into
     * {@link Data} records and released. Note: the peer's codec decodes DATA in chunks of at most
     * 8192 bytes, so tests that count frames keep {@code maxFrameSize} at or below that.
     */
    private static List<Object> take(ScriptedPeer peer) {
        List<Object> out = new ArrayList<>();
        for (Object o : peer.received()) {
            try {
                if (o instanceof SpdyDataFrame d) {
                    int len = d.content().readableBytes();
                    String text = len <= 256 ? d.content().toString(StandardCharsets.UTF_8) : null;
                    out.add(new Data(d.streamId(), len, d.isLast(), text));
                } else {
                    out.add(o);
                }
            } finally {
                ReferenceCountUtil.release(o);
            }
        }
        return out;
    }

    private static <T> List<T> only(List<Object> frames, Class<T> type) {
        List<T> out = new ArrayList<>();
        for (Object o : frames) {
            if (type.isInstance(o)) {
                out.add(type.cast(o));
            }
        }
        return out;
    }

    private static long dataBytes(List<Object> frames, int streamId) {
        long n = 0;
        for (Data d : only(frames, Data.class)) {
            if (d.streamId() == streamId) {
                n += d.length();
            }
        }
        return n;
    }

    private static SpdyRstStreamFrame singleRst(List<Object> frames) {
        List<SpdyRstStreamFrame> rsts = only(frames, SpdyRstStreamFrame.class);
        assertThat(rsts).as("RST_STREAM frames sent, of all frames %s", frames).hasSize(1);
        return rsts.get(0);
    }

    private static SpdyGoAwayFrame singleGoAway(List<Object> frames) {
        List<SpdyGoAwayFrame> goAways = only(frames, SpdyGoAwayFrame.class);
        assertThat(goAways).as("GOAWAY frames sent, of all frames %s", frames).hasSize(1);
        return goAways.get(0);
    }

    /** Opens a local stream; the future must complete at once on the embedded loop. */
    private static SpdyStream open(ScriptedPeer peer, int priority, boolean fin, StreamRecorder rec) {
        CompletableFuture<SpdyStream> f = peer.session.newStream(request(), priority, fin, rec);
        assertThat(f).isCompleted();
        rec.stream = f.join();
        return rec.stream;
    }

    private static SpdyStreamException failureOf(CompletableFuture<?> future) {
        assertThat(future).isCompletedExceptionally();
        try {
            future.join();
        } catch (CompletionException e) {
            assertThat(e.getCause()).isInstanceOf(SpdyStreamException.class);
            return (SpdyStreamException) e.getCause();
        }
        throw new AssertionError("future did not fail: " + future);
    }

    // ------------------------------------------------------------------------------------------

    @Nested
    @DisplayName("1. Opening frames")
    class Opening {

        @Test
        void spdy31SendsSettingsThenSessionWindowUpdate() {
            SpdySessionConfig config = server().initialStreamWindow(100_000)
                    .maxConcurrentStreams(77).sessionWindow(1 << 20).build();
            try (ScriptedPeer peer = new ScriptedPeer(config, new SessionRecorder())) {
                List<Object> frames = take(peer);
                assertThat(frames).hasSize(2);
                assertThat(frames.get(0)).isInstanceOfSatisfying(SpdySettingsFrame.class, s -> {
                    assertThat(s.getValue(4)).as("MAX_CONCURRENT_STREAMS").isEqualTo(77);
                    assertThat(s.getValue(7)).as("INITIAL_WINDOW_SIZE").isEqualTo(100_000);
                });
                assertThat(frames.get(1)).isInstanceOfSatisfying(SpdyWindowUpdateFrame.class, w -> {
                    assertThat(w.streamId()).isZero();
                    assertThat(w.deltaWindowSize()).isEqualTo((1 << 20) - DEFAULT_WINDOW);
                });
            }
        }

        @Test
        void spdy3SendsSettingsButNoSessionWindowUpdate() {
            SpdySessionConfig config = server().protocol(SpdyProtocol.SPDY_3)
                    .initialStreamWindow(100_000).maxConcurrentStreams(77).sessionWindow(1 << 20).build();
            try (ScriptedPeer peer = new ScriptedPeer(config, new SessionRecorder())) {
                List<Object> frames = take(peer);
                assertThat(frames).hasSize(1);
                assertThat(frames.get(0)).isInstanceOfSatisfying(SpdySettingsFrame.class, s -> {
                    assertThat(s.getValue(4)).isEqualTo(77);
                    assertThat(s.getValue(7)).isEqualTo(100_000);
                });
                assertThat(only(frames, SpdyWindowUpdateFrame.class)).isEmpty();
            }
        }
    }

    // ------------------------------------------------------------------------------------------

    @Nested
    @DisplayName("2. Server role: peer-opened streams")
    class ServerRole {

        @Test
        void peerFinFirstThenLocalFinClosesStreamOnce() {
            SessionRecorder session = new SessionRecorder();
            try (ScriptedPeer peer = started(server().build(), session)) {
                peer.send(syn(1, 3, false));
                assertThat(session.streams).containsOnlyKeys(1);
                assertThat(session.synHeaders.get(1).get(":method")).hasToString("POST");
                StreamRecorder rec = session.streams.get(1);
                assertThat(rec.events).containsExactly("headers");
                assertThat(rec.headers.get(0).get(":path")).hasToString("/upload");
                SpdyStream stream = rec.stream;
                assertThat(stream.isLocal()).isFalse();
                assertThat(stream.priority()).isEqualTo(3);

                stream.sendHeaders(response(), false);
                List<Object> frames = take(peer);
                assertThat(only(frames, SpdySynReplyFrame.class)).singleElement().satisfies(r -> {
                    assertThat(r.streamId()).isEqualTo(1);
                    assertThat(r.isLast()).isFalse();
                    assertThat(r.headers().get(":status")).hasToString("200 OK");
                });

                peer.send(data(1, "hello", false));
                assertThat(rec.body).hasToString("hello");
                stream.sendData(text("world"), false);
                assertThat(only(take(peer), Data.class))
                        .containsExactly(new Data(1, 5, false, "world"));

                peer.send(data(1, "!", true));
                assertThat(rec.events).containsExactly("headers", "data:5", "data:1+fin");
                assertThat(stream.isClosed()).isFalse();
                assertThat(rec.closedCount).isZero();

                stream.sendData(text("bye"), true);
                assertThat(only(take(peer), Data.class)).containsExactly(new Data(1, 3, true, "bye"));
                assertThat(stream.isClosed()).isTrue();
                assertThat(rec.closedCount).isEqualTo(1);
                assertThat(rec.closeCause).isNull();

                // A late RST for the finished stream changes nothing.
                peer.send(new DefaultSpdyRstStreamFrame(1, SpdyStreamStatus.CANCEL));
                assertThat(rec.closedCount).isEqualTo(1);
                assertThat(take(peer)).isEmpty();
                assertThat(peer.channel.isOpen()).isTrue();
            }
        }

        @Test
        void localFinFirstThenPeerFinClosesStreamOnce() {
            SessionRecorder session = new SessionRecorder();
            try (ScriptedPeer peer = started(server().build(), session)) {
                peer.send(syn(1, 0, false));
                StreamRecorder rec = session.streams.get(1);
                SpdyStream stream = rec.stream;
                stream.sendHeaders(response(), false);
                stream.sendData(text("response"), true);
                List<Object> frames = take(peer);
                assertThat(frames).hasSize(2);
                assertThat(frames.get(0)).isInstanceOf(SpdySynReplyFrame.class);
                assertThat(frames.get(1)).isEqualTo(new Data(1, 8, true, "response"));
                assertThat(stream.isClosed()).isFalse();
                assertThat(rec.closedCount).isZero();

                // Half-closed (local): the peer may still send.
                peer.send(data(1, "more", false));
                peer.send(data(1, "end", true));
                assertThat(rec.events).containsExactly("headers", "data:4", "data:3+fin", "closed");
                assertThat(rec.body).hasToString("moreend");
                assertThat(stream.isClosed()).isTrue();
                assertThat(rec.closedCount).isEqualTo(1);
                assertThat(rec.closeCause).isNull();
                assertThat(take(peer)).isEmpty();
            }
        }
    }

    // ------------------------------------------------------------------------------------------

    @Nested
    @DisplayName("3. Client role: locally opened streams")
    class ClientRole {

        @Test
        void newStreamSendsSynStreamWithOddIdsAndPriority() {
            try (ScriptedPeer peer = started(client().build(), SpdySessionListener.refusingStreams())) {
                open(peer, 2, false, new StreamRecorder());
                open(peer, 0, true, new StreamRecorder());
                open(peer, 7, false, new StreamRecorder());
                List<SpdySynStreamFrame> syns = only(take(peer), SpdySynStreamFrame.class);
                assertThat(syns).extracting(SpdySynStreamFrame::streamId).containsExactly(1, 3, 5);
                assertThat(syns).extracting(SpdySynStreamFrame::priority)
                        .containsExactly((byte) 2, (byte) 0, (byte) 7);
                assertThat(syns).extracting(SpdySynStreamFrame::isLast).containsExactly(false, true, false);
                assertThat(syns).allSatisfy(s -> assertThat(s.headers().get(":method")).hasToString("POST"));
            }
        }

        @Test
        void synReplyDataAndTrailersAreDelivered() {
            try (ScriptedPeer peer = started(client().build(), SpdySessionListener.refusingStreams())) {
                StreamRecorder rec = new StreamRecorder();
                SpdyStream stream = open(peer, 0, true, rec);
                peer.discardReceived();

                peer.send(reply(1, false));
                peer.send(data(1, "body", false));
                DefaultSpdyHeadersFrame trailers = new DefaultSpdyHeadersFrame(1);
                trailers.headers().set("x-checksum", "abc");
                trailers.setLast(true);
                peer.send(trailers);

                assertThat(rec.events).containsExactly("headers", "data:4", "headers+fin", "closed");
                assertThat(rec.headers.get(0).get(":status")).hasToString("200 OK");
                assertThat(rec.headersEnd).containsExactly(false, true);
                assertThat(rec.headers.get(1).get("x-checksum")).hasToString("abc");
                assertThat(rec.body).hasToString("body");
                assertThat(stream.isClosed()).isTrue();
                assertThat(rec.closeCause).isNull();
                assertThat(take(peer)).isEmpty();
            }
        }

        @Test
        void localTrailersGoOutAfterTheQueuedData() {
            SpdySessionConfig config = client().maxFrameSize(8192).build();
            try (ScriptedPeer peer = started(config, SpdySessionListener.refusingStreams())) {
                StreamRecorder rec = new StreamRecorder();
                SpdyStream stream = open(peer, 0, false, rec);
                peer.send(reply(1, false));
                peer.discardReceived();

                // 70000 bytes: 65536 fit the default windows, the rest waits; the trailers wait too.
                stream.sendData(bytes(70_000), false);
                SpdyHeaders trailers = new DefaultSpdyHeaders();
                trailers.set("x-checksum", "abc");
                stream.sendHeaders(trailers, true);
                List<Object> frames = take(peer);
                assertThat(dataBytes(frames, 1)).isEqualTo(DEFAULT_WINDOW);
                assertThat(only(frames, SpdyHeadersFrame.class)).isEmpty();

                peer.send(windowUpdate(0, 100_000), windowUpdate(1, 100_000));
                frames = take(peer);
                assertThat(dataBytes(frames, 1)).isEqualTo(70_000 - DEFAULT_WINDOW);
                assertThat(frames).last().isInstanceOfSatisfying(SpdyHeadersFrame.class, h -> {
                    assertThat(h.streamId()).isEqualTo(1);
                    assertThat(h.isLast()).isTrue();
                    assertThat(h.headers().get("x-checksum")).hasToString("abc");
                });
                assertThat(only(frames, Data.class)).noneMatch(Data::last);
                assertThat(only(frames, SpdyHeadersFrame.class)).hasSize(1);
            }
        }
    }

    // ------------------------------------------------------------------------------------------

    @Nested
    @DisplayName("4. RST_STREAM and GOAWAY for stream errors, with the exact status")
    class Resets {

        @Test
        void synStreamWithOurOwnParityIsResetProtocolError() {
            SessionRecorder session = new SessionRecorder();
            try (ScriptedPeer peer = started(server().build(), session)) {
                peer.send(syn(2, 0, false)); // even: a server-initiated id
                SpdyRstStreamFrame rst = singleRst(take(peer));
                assertThat(rst.streamId()).isEqualTo(2);
                assertThat(rst.status()).isEqualTo(SpdyStreamStatus.PROTOCOL_ERROR);
                assertThat(session.streams).isEmpty();
                assertThat(peer.channel.isOpen()).isTrue();
            }
        }

        @Test
        void duplicateSynStreamOfAnOpenStreamIsResetProtocolError() {
            SessionRecorder session = new SessionRecorder();
            try (ScriptedPeer peer = started(server().build(), session)) {
                peer.send(syn(1, 0, false));
                peer.send(syn(1, 0, false));
                SpdyRstStreamFrame rst = singleRst(take(peer));
                assertThat(rst.streamId()).isEqualTo(1);
                assertThat(rst.status()).isEqualTo(SpdyStreamStatus.PROTOCOL_ERROR);
                StreamRecorder rec = session.streams.get(1);
                assertThat(rec.closedCount).isEqualTo(1);
                assertThat(rec.closeCause.error()).isEqualTo(SpdyError.PROTOCOL_ERROR);
                assertThat(rec.closeCause.isLocal()).isTrue();
                assertThat(peer.channel.isOpen()).isTrue();
            }
        }

        @Test
        void synStreamIdBelowLastSeenIsSessionProtocolError() {
            SessionRecorder session = new SessionRecorder();
            try (ScriptedPeer peer = started(server().build(), session)) {
                peer.send(syn(3, 0, false));
                peer.send(syn(1, 0, false)); // below 3, and not open
                SpdyGoAwayFrame goAway = singleGoAway(take(peer));
                assertThat(goAway.status()).isEqualTo(SpdySessionStatus.PROTOCOL_ERROR);
                assertThat(goAway.lastGoodStreamId()).isEqualTo(3);
                assertThat(peer.channel.isOpen()).isFalse();
                assertThat(session.streams).containsOnlyKeys(3);
                assertThat(session.streams.get(3).closeCause.error()).isEqualTo(SpdyError.SESSION_CLOSED);
                assertThat(session.closed).isEqualTo(1);
                assertThat(session.closeCause).isInstanceOf(SpdySessionException.class);
            }
        }

        @Test
        void dataOnNeverOpenedStreamIsResetInvalidStream() {
            try (ScriptedPeer peer = started(server().build(), new SessionRecorder())) {
                peer.send(data(5, "stray", false));
                SpdyRstStreamFrame rst = singleRst(take(peer));
                assertThat(rst.streamId()).isEqualTo(5);
                assertThat(rst.status()).isEqualTo(SpdyStreamStatus.INVALID_STREAM);
                assertThat(peer.channel.isOpen()).isTrue();
            }
        }

        @Test
        void dataAfterPeerFinOnHalfClosedStreamIsResetStreamAlreadyClosed() {
            SessionRecorder session = new SessionRecorder();
            try (ScriptedPeer peer = started(server().build(), session)) {
                peer.send(syn(1, 0, true)); // the peer is done; we have not replied
                StreamRecorder rec = session.streams.get(1);
                assertThat(rec.stream.isClosed()).isFalse();
                peer.send(data(1, "late", false));
                SpdyRstStreamFrame rst = singleRst(take(peer));
                assertThat(rst.streamId()).isEqualTo(1);
                assertThat(rst.status()).isEqualTo(SpdyStreamStatus.STREAM_ALREADY_CLOSED);
                assertThat(rec.events).containsExactly("headers+fin", "closed");
                assertThat(rec.closeCause.error()).isEqualTo(SpdyError.STREAM_ALREADY_CLOSED);
            }
        }

        @Test
        void secondSynReplyIsResetStreamInUse() {
            try (ScriptedPeer peer = started(client().build(), SpdySessionListener.refusingStreams())) {
                StreamRecorder rec = new StreamRecorder();
                open(peer, 0, false, rec);
                peer.discardReceived();
                peer.send(reply(1, false));
                assertThat(take(peer)).isEmpty();
                peer.send(reply(1, false));
                SpdyRstStreamFrame rst = singleRst(take(peer));
                assertThat(rst.streamId()).isEqualTo(1);
                assertThat(rst.status()).isEqualTo(SpdyStreamStatus.STREAM_IN_USE);
                assertThat(rec.events).containsExactly("headers", "closed");
                assertThat(rec.closeCause.error()).isEqualTo(SpdyError.STREAM_IN_USE);
                assertThat(rec.closeCause.isLocal()).isTrue();
            }
        }

        @Test
        void dataBeforeSynReplyOnLocalStreamIsResetProtocolError() {
            try (ScriptedPeer peer = started(client().build(), SpdySessionListener.refusingStreams())) {
                StreamRecorder rec = new StreamRecorder();
                open(peer, 0, true, rec);
                peer.discardReceived();
                peer.send(data(1, "too early", false));
                SpdyRstStreamFrame rst = singleRst(take(peer));
                assertThat(rst.streamId()).isEqualTo(1);
                assertThat(rst.status()).isEqualTo(SpdyStreamStatus.PROTOCOL_ERROR);
                assertThat(rec.events).containsExactly("closed");
                assertThat(rec.closeCause.error()).isEqualTo(SpdyError.PROTOCOL_ERROR);
            }
        }

        @Test
        void dataBeyondStreamWindowIsResetFlowControlError() {
            SessionRecorder session = new SessionRecorder();
            try (ScriptedPeer peer = started(server().initialStreamWindow(1024).build(), session)) {
                peer.send(syn(1, 0, false));
                peer.send(data(1, 1024, false)); // exactly the window: fine
                assertThat(take(peer)).isEmpty();
                peer.send(data(1, 1, false));
                SpdyRstStreamFrame rst = singleRst(take(peer));
                assertThat(rst.streamId()).isEqualTo(1);
                assertThat(rst.status()).isEqualTo(SpdyStreamStatus.FLOW_CONTROL_ERROR);
                StreamRecorder rec = session.streams.get(1);
                assertThat(rec.dataBytes).isEqualTo(1024);
                assertThat(rec.closeCause.error()).isEqualTo(SpdyError.FLOW_CONTROL_ERROR);
                assertThat(peer.channel.isOpen()).isTrue();
            }
        }

        @Test
        void windowUpdateOverflowingStreamWindowIsResetFlowControlError() {
            SessionRecorder session = new SessionRecorder();
            try (ScriptedPeer peer = started(server().build(), session)) {
                peer.send(syn(1, 0, false));
                peer.send(windowUpdate(1, MAX_WINDOW - DEFAULT_WINDOW)); // exactly 2^31-1: fine
                assertThat(take(peer)).isEmpty();
                peer.send(windowUpdate(1, 1));
                SpdyRstStreamFrame rst = singleRst(take(peer));
                assertThat(rst.streamId()).isEqualTo(1);
                assertThat(rst.status()).isEqualTo(SpdyStreamStatus.FLOW_CONTROL_ERROR);
                assertThat(session.streams.get(1).closeCause.error()).isEqualTo(SpdyError.FLOW_CONTROL_ERROR);
                assertThat(peer.channel.isOpen()).isTrue();
            }
        }

        @Test
        void peerCancelClosesStreamWithRemoteException() {
            SessionRecorder session = new SessionRecorder();
            try (ScriptedPeer peer = started(server().build(), session)) {
                peer.send(syn(1, 0, false));
                peer.send(new DefaultSpdyRstStreamFrame(1, SpdyStreamStatus.CANCEL));
                StreamRecorder rec = session.streams.get(1);
                assertThat(rec.closedCount).isEqualTo(1);
                assertThat(rec.closeCause).isNotNull();
                assertThat(rec.closeCause.error()).isEqualTo(SpdyError.CANCEL);
                assertThat(rec.closeCause.isLocal()).isFalse();
                assertThat(rec.closeCause.isRetryable()).isFalse();
                assertThat(rec.stream.isClosed()).isTrue();
                assertThat(take(peer)).as("no answer to a RST").isEmpty();
            }
        }

        @Test
        void localResetSendsCancelAndClosesWithLocalException() {
            SessionRecorder session = new SessionRecorder();
            try (ScriptedPeer peer = started(server().build(), session)) {
                peer.send(syn(1, 0, false));
                StreamRecorder rec = session.streams.get(1);
                rec.stream.reset(SpdyError.CANCEL);
                SpdyRstStreamFrame rst = singleRst(take(peer));
                assertThat(rst.streamId()).isEqualTo(1);
                assertThat(rst.status()).isEqualTo(SpdyStreamStatus.CANCEL);
                assertThat(rec.closedCount).isEqualTo(1);
                assertThat(rec.closeCause.error()).isEqualTo(SpdyError.CANCEL);
                assertThat(rec.closeCause.isLocal()).isTrue();
                assertThat(rec.stream.isClosed()).isTrue();
            }
        }

        @Test
        void peerRefusedStreamBeforeReplyIsRetryable() {
            try (ScriptedPeer peer = started(client().build(), SpdySessionListener.refusingStreams())) {
                StreamRecorder rec = new StreamRecorder();
                open(peer, 0, true, rec);
                peer.send(new DefaultSpdyRstStreamFrame(1, SpdyStreamStatus.REFUSED_STREAM));
                assertThat(rec.closedCount).isEqualTo(1);
                assertThat(rec.closeCause.error()).isEqualTo(SpdyError.REFUSED_STREAM);
                assertThat(rec.closeCause.isRetryable()).isTrue();
                assertThat(rec.closeCause.isLocal()).isFalse();
            }
        }
    }

    // ------------------------------------------------------------------------------------------

    @Nested
    @DisplayName("5. Receive-side flow control")
    class ReceiveFlowControl {

        @Test
        void dataBeyondSessionWindowIsGoAwayProtocolError() {
            SessionRecorder session = new SessionRecorder();
            SpdySessionConfig config = server().sessionWindow(DEFAULT_WINDOW)
                    .initialStreamWindow(1 << 20).build();
            try (ScriptedPeer peer = started(config, session)) {
                peer.send(syn(1, 0, false));
                peer.send(data(1, DEFAULT_WINDOW, false)); // exactly the session window
                assertThat(take(peer)).isEmpty();
                assertThat(peer.channel.isOpen()).isTrue();
                peer.send(data(1, 1, false));
                SpdyGoAwayFrame goAway = singleGoAway(take(peer));
                assertThat(goAway.status()).isEqualTo(SpdySessionStatus.PROTOCOL_ERROR);
                assertThat(peer.channel.isOpen()).isFalse();
                assertThat(session.closeCause).isInstanceOfSatisfying(SpdySessionException.class,
                        e -> assertThat(e.error()).isEqualTo(SpdyError.FLOW_CONTROL_ERROR));
            }
        }

        @Test
        void sessionWindowUpdateOverflowIsGoAwayProtocolError() {
            try (ScriptedPeer peer = started(server().build(), new SessionRecorder())) {
                peer.send(windowUpdate(0, MAX_WINDOW - DEFAULT_WINDOW)); // exactly 2^31-1: fine
                assertThat(take(peer)).isEmpty();
                assertThat(peer.channel.isOpen()).isTrue();
                peer.send(windowUpdate(0, 1));
                SpdyGoAwayFrame goAway = singleGoAway(take(peer));
                assertThat(goAway.status()).isEqualTo(SpdySessionStatus.PROTOCOL_ERROR);
                assertThat(peer.channel.isOpen()).isFalse();
            }
        }

        @Test
        void streamWindowUpdateOnlyAfterConsumeAndBatchedAtHalfTheWindow() {
            SessionRecorder session = new SessionRecorder();
            try (ScriptedPeer peer = started(server().initialStreamWindow(1000).build(), session)) {
                peer.send(syn(1, 0, false));
                peer.send(data(1, 600, false));
                assertThat(take(peer)).as("nothing before consume").isEmpty();
                SpdyStream stream = session.streams.get(1).stream;

                stream.consume(499);
                assertThat(take(peer)).as("below half the window").isEmpty();
                stream.consume(1);
                List<SpdyWindowUpdateFrame> updates = only(take(peer), SpdyWindowUpdateFrame.class);
                assertThat(updates).singleElement().satisfies(w -> {
                    assertThat(w.streamId()).isEqualTo(1);
                    assertThat(w.deltaWindowSize()).isEqualTo(500);
                });
                stream.consume(100);
                assertThat(take(peer)).as("batched again").isEmpty();
            }
        }

        @Test
        void sessionWindowUpdateBatchedAtHalfTheSessionWindow() {
            SessionRecorder session = new SessionRecorder();
            SpdySessionConfig config = server().sessionWindow(2 * DEFAULT_WINDOW)
                    .initialStreamWindow(1 << 20).build();
            try (ScriptedPeer peer = started(config, session)) {
                peer.send(syn(1, 0, false), syn(3, 0, false));
                peer.send(data(1, 40_000, false), data(3, 30_000, false));
                assertThat(take(peer)).isEmpty();
                SpdyStream s1 = session.streams.get(1).stream;
                SpdyStream s3 = session.streams.get(3).stream;

                s1.consume(40_000);
                s3.consume(DEFAULT_WINDOW - 40_000 - 1);
                assertThat(take(peer)).as("one byte short of half the session window").isEmpty();
                s3.consume(1);
                List<SpdyWindowUpdateFrame> updates = only(take(peer), SpdyWindowUpdateFrame.class);
                assertThat(updates).singleElement().satisfies(w -> {
                    assertThat(w.streamId()).isZero();
                    assertThat(w.deltaWindowSize()).isEqualTo(DEFAULT_WINDOW);
                });
            }
        }
    }

    // ------------------------------------------------------------------------------------------

    @Nested
    @DisplayName("6. Send-side flow control")
    class SendFlowControl {

        @Test
        void streamWindowLimitsSendingAndWindowUpdateReleasesTheRest() {
            SpdySessionConfig config = client().maxFrameSize(8192).build();
            try (ScriptedPeer peer = started(config, SpdySessionListener.refusingStreams())) {
                peer.send(windowUpdate(0, 1 << 20)); // only the stream's default window limits
                StreamRecorder rec = new StreamRecorder();
                SpdyStream stream = open(peer, 0, false, rec);
                peer.send(reply(1, false));
                peer.discardReceived();

                stream.sendData(bytes(100 * 1024), true);
                List<Data> sent = only(take(peer), Data.class);
                assertThat(sent.stream().mapToLong(Data::length).sum()).isEqualTo(DEFAULT_WINDOW);
                assertThat(sent).hasSize(DEFAULT_WINDOW / 8192).noneMatch(Data::last);
                assertThat(stream.isWritable()).isFalse();
                assertThat(stream.queuedBytes()).isEqualTo(100 * 1024 - DEFAULT_WINDOW);
                assertThat(rec.writability).isEmpty();

                peer.send(windowUpdate(1, 40_000));
                sent = only(take(peer), Data.class);
                assertThat(sent.stream().mapToLong(Data::length).sum()).isEqualTo(100 * 1024 - DEFAULT_WINDOW);
                assertThat(sent).last().extracting(Data::last).isEqualTo(true);
                assertThat(stream.queuedBytes()).isZero();
                assertThat(stream.isWritable()).isTrue();
                assertThat(rec.writability).as("onWritabilityChanged saw isWritable()").isNotEmpty();
                assertThat(rec.writability).last().isEqualTo(true);
            }
        }

        @Test
        void exhaustedSessionWindowBlocksAllStreamsUntilStreamZeroWindowUpdate() {
            SpdySessionConfig config = client().maxFrameSize(8192).build();
            try (ScriptedPeer peer = started(config, SpdySessionListener.refusingStreams())) {
                peer.send(settings(7, 1 << 20)); // stream windows are not the limit
                SpdyStream a = open(peer, 0, false, new StreamRecorder());
                SpdyStream b = open(peer, 0, false, new StreamRecorder());
                a.sendData(bytes(DEFAULT_WINDOW + 10_000), false);
                b.sendData(bytes(5000), false);
                List<Object> frames = take(peer);
                assertThat(dataBytes(frames, 1)).isEqualTo(DEFAULT_WINDOW);
                assertThat(dataBytes(frames, 3)).isZero();

                // A stream-level update does not help while the session window is empty.
                peer.send(windowUpdate(3, 1000), windowUpdate(1, 1000));
                assertThat(only(take(peer), Data.class)).isEmpty();
                assertThat(a.queuedBytes()).isEqualTo(10_000);
                assertThat(b.queuedBytes()).isEqualTo(5000);

                peer.send(windowUpdate(0, 100_000));
                frames = take(peer);
                assertThat(dataBytes(frames, 1)).isEqualTo(10_000);
                assertThat(dataBytes(frames, 3)).isEqualTo(5000);
                assertThat(a.queuedBytes()).isZero();
                assertThat(b.queuedBytes()).isZero();
            }
        }

        @Test
        void spdy3HasNoSessionWindowInEitherDirection() {
            SessionRecorder session = new SessionRecorder();
            SpdySessionConfig config = client().protocol(SpdyProtocol.SPDY_3).maxFrameSize(8192).build();
            try (ScriptedPeer peer = started(config, session)) {
                SpdyStream a = open(peer, 0, false, new StreamRecorder());
                SpdyStream b = open(peer, 0, false, new StreamRecorder());
                a.sendData(bytes(DEFAULT_WINDOW), false);
                b.sendData(bytes(DEFAULT_WINDOW), false);
                List<Object> frames = take(peer);
                assertThat(dataBytes(frames, 1)).isEqualTo(DEFAULT_WINDOW);
                assertThat(dataBytes(frames, 3)).as("no 64 KiB session window in SPDY/3")
                        .isEqualTo(DEFAULT_WINDOW);

                // Nor on receive: two full stream windows, nothing consumed, no GOAWAY.
                peer.send(reply(1, false), reply(3, false));
                peer.send(data(1, DEFAULT_WINDOW, false), data(3, DEFAULT_WINDOW, false));
                assertThat(take(peer)).isEmpty();
                assertThat(peer.channel.isOpen()).isTrue();
            }
        }

        @Test
        void dataFramesNeverExceedMaxFrameSize() {
            // Below the peer codec's 8192-byte decode chunk, so each decoded frame is a wire frame.
            SpdySessionConfig config = client().maxFrameSize(5000).build();
            try (ScriptedPeer peer = started(config, SpdySessionListener.refusingStreams())) {
                peer.send(settings(7, 1 << 20), windowUpdate(0, 1 << 20));
                SpdyStream stream = open(peer, 0, false, new StreamRecorder());
                stream.sendData(bytes(50_000), false);
                stream.sendData(bytes(12_345), true);
                List<Data> sent = only(take(peer), Data.class);
                assertThat(sent).allSatisfy(d -> assertThat(d.length()).isLessThanOrEqualTo(5000));
                assertThat(sent.stream().mapToLong(Data::length).sum()).isEqualTo(62_345);
                assertThat(sent).hasSize(10 + 3);
                assertThat(sent).last().extracting(Data::last).isEqualTo(true);
            }
        }
    }

    // ------------------------------------------------------------------------------------------

    @Nested
    @DisplayName("7. SETTINGS changes with data in flight")
    class SettingsChanges {

        @Test
        void loweredInitialWindowGoesNegativeAndRaisedReleasesQueuedData() {
            SpdySessionConfig config = client().maxFrameSize(8192).build();
            try (ScriptedPeer peer = started(config, SpdySessionListener.refusingStreams())) {
                peer.send(windowUpdate(0, 1 << 20));
                SpdyStream stream = open(peer, 0, false, new StreamRecorder());
                peer.discardReceived();
                stream.sendData(bytes(100 * 1024), false);
                assertThat(dataBytes(take(peer), 1)).isEqualTo(DEFAULT_WINDOW);

                // 65536 -> 32768: the window (0) becomes -32768.
                peer.send(settings(7, 32_768));
                assertThat(only(take(peer), Data.class)).isEmpty();
                peer.send(windowUpdate(1, 32_768)); // back to 0: still nothing may go
                assertThat(only(take(peer), Data.class)).isEmpty();
                assertThat(stream.isWritable()).isFalse();
                peer.send(windowUpdate(1, 1000)); // now 1000
                assertThat(dataBytes(take(peer), 1)).isEqualTo(1000);

                // 32768 -> 98304: +65536 at once releases the remaining 35864 bytes.
                peer.send(settings(7, 98_304));
                assertThat(dataBytes(take(peer), 1)).isEqualTo(100 * 1024 - DEFAULT_WINDOW - 1000);
                assertThat(stream.queuedBytes()).isZero();
                assertThat(stream.isWritable()).isTrue();
            }
        }

        /**
         * An empty DATA frame needs no window, so a FIN-only frame must go out even while SETTINGS
         * left the stream window negative.
         */
        @Test
        void emptyFinIsSentWhileTheWindowIsNegative() {
            SpdySessionConfig config = client().maxFrameSize(8192).build();
            try (ScriptedPeer peer = started(config, SpdySessionListener.refusingStreams())) {
                peer.send(windowUpdate(0, 1 << 20));
                StreamRecorder rec = new StreamRecorder();
                SpdyStream stream = open(peer, 0, false, rec);
                peer.send(reply(1, false));
                stream.sendData(bytes(DEFAULT_WINDOW), false);
                assertThat(dataBytes(take(peer), 1)).isEqualTo(DEFAULT_WINDOW);
                peer.send(settings(7, 16_384)); // the stream window is now -49152

                assertThatCode(() -> stream.sendData(Unpooled.EMPTY_BUFFER, true))
                        .as("ending the stream with an empty DATA frame while its window is negative")
                        .doesNotThrowAnyException();
                assertThat(only(take(peer), Data.class)).containsExactly(new Data(1, 0, true, ""));
                assertThat(peer.channel.isOpen()).isTrue();
                peer.send(data(1, "done", true));
                assertThat(stream.isClosed()).isTrue();
                assertThat(rec.closeCause).isNull();
            }
        }

        @Test
        void peerMaxConcurrentStreamsLimitsNewStream() {
            try (ScriptedPeer peer = started(client().build(), SpdySessionListener.refusingStreams())) {
                peer.send(settings(4, 2));
                open(peer, 0, false, new StreamRecorder());
                open(peer, 0, false, new StreamRecorder());
                SpdyStreamException e = failureOf(
                        peer.session.newStream(request(), 0, false, new StreamRecorder()));
                assertThat(e.error()).isEqualTo(SpdyError.REFUSED_STREAM);
                assertThat(e.isRetryable()).isTrue();
                assertThat(only(take(peer), SpdySynStreamFrame.class))
                        .extracting(SpdySynStreamFrame::streamId).containsExactly(1, 3);

                // A slot frees up when a stream ends.
                peer.send(new DefaultSpdyRstStreamFrame(1, SpdyStreamStatus.CANCEL));
                assertThat(open(peer, 0, false, new StreamRecorder()).id()).isEqualTo(5);
            }
        }
    }

    // ------------------------------------------------------------------------------------------

    @Nested
    @DisplayName("8. PING")
    class Ping {

        @Test
        void peerPingIsEchoedWithTheSameId() {
            try (ScriptedPeer peer = started(server().build(), new SessionRecorder())) {
                peer.send(new DefaultSpdyPingFrame(7)); // odd: the client's parity
                assertThat(only(take(peer), SpdyPingFrame.class))
                        .extracting(SpdyPingFrame::id).containsExactly(7);
            }
        }

        @Test
        void ourPingUsesOurParityAndCompletesWhenEchoed() {
            try (ScriptedPeer peer = started(server().build(), new SessionRecorder())) {
                CompletableFuture<Duration> first = peer.session.ping();
                CompletableFuture<Duration> second = peer.session.ping();
                List<SpdyPingFrame> pings = only(take(peer), SpdyPingFrame.class);
                assertThat(pings).extracting(SpdyPingFrame::id).containsExactly(2, 4);
                assertThat(first).isNotDone();

                peer.send(new DefaultSpdyPingFrame(2));
                assertThat(first).isCompleted();
                assertThat(first.join().isNegative()).isFalse();
                assertThat(second).isNotDone();
                assertThat(take(peer)).as("an echo is not echoed back").isEmpty();
            }
        }

        @Test
        void clientPingIdsAreOdd() {
            try (ScriptedPeer peer = started(client().build(), SpdySessionListener.refusingStreams())) {
                CompletableFuture<Duration> ping = peer.session.ping();
                assertThat(only(take(peer), SpdyPingFrame.class))
                        .extracting(SpdyPingFrame::id).containsExactly(1);
                peer.send(new DefaultSpdyPingFrame(1));
                assertThat(ping).isCompleted();
            }
        }

        @Test
        void unsolicitedPingWithOurParityIsIgnored() {
            try (ScriptedPeer peer = started(server().build(), new SessionRecorder())) {
                peer.send(new DefaultSpdyPingFrame(4));
                assertThat(take(peer)).isEmpty();
                assertThat(peer.channel.isOpen()).isTrue();
            }
        }
    }

    // ------------------------------------------------------------------------------------------

    @Nested
    @DisplayName("9. GOAWAY")
    class GoAway {

        @Test
        void peerGoAwayRefusesStreamsAboveLastGoodAndClosesWhenTheRestFinish() {
            SessionRecorder session = new SessionRecorder();
            try (ScriptedPeer peer = started(client().build(), session)) {
                StreamRecorder s1 = new StreamRecorder();
                StreamRecorder s3 = new StreamRecorder();
                StreamRecorder s5 = new StreamRecorder();
                open(peer, 0, true, s1);
                open(peer, 0, true, s3);
                open(peer, 0, true, s5);
                peer.discardReceived();

                peer.send(new DefaultSpdyGoAwayFrame(3, SpdySessionStatus.OK));
                assertThat(session.goAways).containsExactly(3);
                assertThat(s5.closedCount).isEqualTo(1);
                assertThat(s5.closeCause.error()).isEqualTo(SpdyError.REFUSED_STREAM);
                assertThat(s5.closeCause.isRetryable()).isTrue();
                assertThat(s1.closedCount).isZero();
                assertThat(s3.closedCount).isZero();
                assertThat(peer.channel.isOpen()).isTrue();

                SpdyStreamException refused = failureOf(
                        peer.session.newStream(request(), 0, true, new StreamRecorder()));
                assertThat(refused.isRetryable()).isTrue();
                assertThat(refused.error()).isEqualTo(SpdyError.REFUSED_STREAM);
                assertThat(only(take(peer), SpdySynStreamFrame.class)).isEmpty();

                // The streams at or below last-good keep working.
                peer.send(reply(1, false), data(1, "one", true));
                assertThat(s1.events).containsExactly("headers", "data:3+fin", "closed");
                assertThat(s1.closeCause).isNull();
                assertThat(peer.channel.isOpen()).isTrue();

                peer.send(reply(3, true));
                assertThat(s3.closedCount).isEqualTo(1);
                assertThat(s3.closeCause).isNull();
                assertThat(peer.channel.isOpen()).isFalse();
                assertThat(peer.session.closeFuture()).isCompleted();
                assertThat(session.closed).isEqualTo(1);
            }
        }

        @Test
        void shutdownGracefullySendsGoAwayRefusesNewStreamsAndClosesWhenDone() {
            SessionRecorder session = new SessionRecorder();
            try (ScriptedPeer peer = started(server().build(), session)) {
                peer.send(syn(1, 0, false));
                CompletableFuture<Void> closed = peer.session.shutdownGracefully(Duration.ofMinutes(5));
                SpdyGoAwayFrame goAway = singleGoAway(take(peer));
                assertThat(goAway.lastGoodStreamId()).isEqualTo(1);
                assertThat(goAway.status()).isEqualTo(SpdySessionStatus.OK);
                assertThat(peer.session.state()).isEqualTo(SpdySession.State.DRAINING);
                assertThat(peer.channel.isOpen()).isTrue();

                peer.send(syn(3, 0, true));
                SpdyRstStreamFrame rst = singleRst(take(peer));
                assertThat(rst.streamId()).isEqualTo(3);
                assertThat(rst.status()).isEqualTo(SpdyStreamStatus.REFUSED_STREAM);
                assertThat(session.streams).containsOnlyKeys(1);

                // The in-flight stream finishes normally, then the connection closes.
                peer.send(data(1, "req", true));
                assertThat(peer.channel.isOpen()).isTrue();
                StreamRecorder rec = session.streams.get(1);
                rec.stream.sendHeaders(response(), true);
                assertThat(only(take(peer), SpdySynReplyFrame.class)).singleElement()
                        .satisfies(r -> assertThat(r.isLast()).isTrue());
                assertThat(rec.closeCause).isNull();
                assertThat(peer.channel.isOpen()).isFalse();
                assertThat(closed).isCompleted();
            }
        }

        @Test
        void shutdownGracefullyDeadlineClosesEvenWithAStreamOpen() {
            SessionRecorder session = new SessionRecorder();
            try (ScriptedPeer peer = started(server().build(), session)) {
                peer.channel.freezeTime();
                peer.send(syn(1, 0, false));
                CompletableFuture<Void> closed = peer.session.shutdownGracefully(Duration.ofSeconds(10));
                assertThat(singleGoAway(take(peer)).status()).isEqualTo(SpdySessionStatus.OK);

                peer.channel.advanceTimeBy(9, TimeUnit.SECONDS);
                peer.channel.runScheduledPendingTasks();
                peer.pump();
                assertThat(peer.channel.isOpen()).isTrue();

                peer.channel.advanceTimeBy(1, TimeUnit.SECONDS);
                peer.channel.runScheduledPendingTasks();
                peer.pump();
                assertThat(peer.channel.isOpen()).isFalse();
                assertThat(closed).isCompleted();
                StreamRecorder rec = session.streams.get(1);
                assertThat(rec.closedCount).isEqualTo(1);
                assertThat(rec.closeCause.error()).isEqualTo(SpdyError.SESSION_CLOSED);
            }
        }
    }

    // ------------------------------------------------------------------------------------------

    @Nested
    @DisplayName("10. Priority")
    class Priority {

        @Test
        void highestPriorityFirstRoundRobinWithinAPriority() {
            SpdySessionConfig config = client().maxFrameSize(4096).build();
            try (ScriptedPeer peer = started(config, SpdySessionListener.refusingStreams())) {
                peer.send(settings(7, 1 << 20)); // only the session window limits
                SpdyStream filler = open(peer, 7, false, new StreamRecorder()); // id 1
                filler.sendData(bytes(DEFAULT_WINDOW), false); // empties the session window
                SpdyStream low = open(peer, 7, false, new StreamRecorder()); // id 3
                SpdyStream high1 = open(peer, 0, false, new StreamRecorder()); // id 5
                SpdyStream mid = open(peer, 3, false, new StreamRecorder()); // id 7
                SpdyStream high2 = open(peer, 0, false, new StreamRecorder()); // id 9
                for (SpdyStream s : List.of(low, high1, mid, high2)) {
                    s.sendData(bytes(2 * 4096), false);
                }
                List<Object> frames = take(peer);
                assertThat(dataBytes(frames, 1)).isEqualTo(DEFAULT_WINDOW);
                assertThat(only(frames, Data.class)).allMatch(d -> d.streamId() == 1);

                peer.send(windowUpdate(0, 1 << 20));
                List<Integer> order = new ArrayList<>();
                for (Data d : only(take(peer), Data.class)) {
                    assertThat(d.length()).isEqualTo(4096);
                    order.add(d.streamId());
                }
                assertThat(order).containsExactly(5, 9, 5, 9, 7, 7, 3, 3);
            }
        }
    }

    // ------------------------------------------------------------------------------------------

    @Nested
    @DisplayName("11. Stream-id exhaustion")
    class StreamIdExhaustion {

        @Test
        void idsRunOutSignalLowOnceThenNewStreamFailsRetryable() {
            SessionRecorder session = new SessionRecorder();
            try (ScriptedPeer peer = started(client().build(), session)) {
                assertThat(peer.session.remainingStreamIds()).isEqualTo(1L << 30);
                peer.session.nextLocalStreamIdForTest(Integer.MAX_VALUE - 2);
                assertThat(peer.session.remainingStreamIds()).isEqualTo(2);
                assertThat(session.streamIdsLow).isZero();

                assertThat(open(peer, 0, true, new StreamRecorder()).id()).isEqualTo(Integer.MAX_VALUE - 2);
                assertThat(session.streamIdsLow).isEqualTo(1);
                assertThat(peer.session.remainingStreamIds()).isEqualTo(1);
                assertThat(open(peer, 0, true, new StreamRecorder()).id()).isEqualTo(Integer.MAX_VALUE);
                assertThat(peer.session.remainingStreamIds()).isZero();
                assertThat(peer.session.isAcceptingStreams()).isFalse();

                SpdyStreamException e = failureOf(
                        peer.session.newStream(request(), 0, true, new StreamRecorder()));
                assertThat(e.isRetryable()).isTrue();
                assertThat(e.error()).isEqualTo(SpdyError.REFUSED_STREAM);
                assertThat(session.streamIdsLow).isEqualTo(1);
                assertThat(only(take(peer), SpdySynStreamFrame.class))
                        .extracting(SpdySynStreamFrame::streamId)
                        .containsExactly(Integer.MAX_VALUE - 2, Integer.MAX_VALUE);
                assertThat(peer.channel.isOpen()).isTrue();
            }
        }

        /**
         * A SYN_REPLY still in flight for a stream we reset is dropped quietly (as for any low id);
         * that must not change once the last stream id 2^31-1 has been used.
         */
        @Test
        void lateFramesForAResetStreamAreDroppedQuietlyAfterTheLastIdIsUsed() {
            try (ScriptedPeer peer = started(client().build(), SpdySessionListener.refusingStreams())) {
                // The ordinary case: a reset stream's late reply is ignored.
                SpdyStream first = open(peer, 0, true, new StreamRecorder());
                first.reset(SpdyError.CANCEL);
                peer.discardReceived();
                peer.send(reply(first.id(), false));
                assertThat(take(peer)).isEmpty();

                peer.session.nextLocalStreamIdForTest(Integer.MAX_VALUE - 2);
                SpdyStream a = open(peer, 0, true, new StreamRecorder());
                a.reset(SpdyError.CANCEL);
                open(peer, 0, true, new StreamRecorder()); // uses 2^31-1, the last id
                peer.discardReceived();

                peer.send(reply(a.id(), false));
                peer.send(reply(first.id(), false));
                assertThat(take(peer))
                        .as("late SYN_REPLYs for streams we reset must be ignored, not answered with "
                                + "RST INVALID_STREAM as if the ids had never been used")
                        .isEmpty();
            }
        }
    }
}
