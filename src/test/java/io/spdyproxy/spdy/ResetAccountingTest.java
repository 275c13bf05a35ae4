package io.spdyproxy.spdy;

import static io.spdyproxy.spdy.ScriptedWire.data;
import static io.spdyproxy.spdy.ScriptedWire.reply;
import static io.spdyproxy.spdy.ScriptedWire.request;
import static io.spdyproxy.spdy.ScriptedWire.rst;
import static io.spdyproxy.spdy.ScriptedWire.syn;
import static io.spdyproxy.spdy.ScriptedWire.synReply;
import static io.spdyproxy.spdy.ScriptedWire.wire;
import static io.spdyproxy.spdy.ScriptedWire.zeros;
import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.spdy.DefaultSpdyWindowUpdateFrame;
import io.netty.handler.codec.spdy.SpdyFrameCodec;
import io.netty.handler.codec.spdy.SpdyStreamStatus;
import io.netty.handler.codec.spdy.SpdyVersion;
import io.spdyproxy.spdy.ScriptedWire.Recorder;
import io.spdyproxy.testing.ScriptedPeer;
import org.junit.jupiter.api.Test;

/**
 * The rapid-reset guard against real peers: npm {@code spdy} answers every DATA frame that was in
 * flight for a stream it cancelled with RST_STREAM, and a WINDOW_UPDATE that crossed its FIN with
 * RST_STREAM INVALID_STREAM. Those resets name streams that are gone or already answered; they
 * must not end a healthy session (with the defaults: at most 1,000 resets of unanswered streams
 * per 30 s), in either role. A real rapid reset (open, reset before any answer) and a flood of
 * resets for nothing are still cut, and no reset is ever answered with a frame.
 */
class ResetAccountingTest {
    private static final int CYCLES = 2_000;
    private static final int WINDOW = 16 * 1024;

    @Test
    void serverRoleSurvivesTwoThousandNpmStyleCancelCycles() {
        // Defaults for the guard; a small window so that each upload earns a WINDOW_UPDATE.
        SpdySessionConfig config = SpdySessionConfig.builder(SpdyRole.SERVER)
                .initialStreamWindow(WINDOW).maxStreamWindow(WINDOW).build();
        Recorder app = new Recorder();
        app.consume = true;
        try (ScriptedPeer peer = new ScriptedPeer(config, app)) {
            peer.discardReceived();
            peer.send(new DefaultSpdyWindowUpdateFrame(0, 1 << 30)); // it reads what we send
            for (int i = 0; i < CYCLES; i++) {
                int id = 2 * i + 1;
                // The client uploads half a window: consumed at once, so we grant it back.
                peer.send(syn(id, false), data(id, WINDOW / 2, false), data(id, 0, true));
                SpdyStream s = app.streams.get(id);
                s.sendHeaders(reply(), false);
                for (int k = 0; k < 3; k++) {
                    s.sendData(zeros(1000), false);
                }
                assertThat(wire(peer)).as("cycle %d", i).containsExactly("WINDOW_UPDATE " + id + " " + WINDOW / 2,
                        "SYN_REPLY " + id, "DATA " + id + " 1000", "DATA " + id + " 1000", "DATA " + id + " 1000");
                // It cancels the download, then answers each DATA frame that was in flight, and the
                // WINDOW_UPDATE that crossed its FIN, as npm spdy does.
                peer.send(rst(id, SpdyStreamStatus.CANCEL), rst(id, SpdyStreamStatus.STREAM_ALREADY_CLOSED),
                        rst(id, SpdyStreamStatus.STREAM_ALREADY_CLOSED), rst(id, SpdyStreamStatus.STREAM_ALREADY_CLOSED),
                        rst(id, SpdyStreamStatus.INVALID_STREAM));
                assertThat(wire(peer)).as("never a frame in answer to a reset (cycle %d)", i).isEmpty();
                assertThat(peer.channel.isOpen()).as("open after cycle %d", i).isTrue();
            }
            assertThat(app.closed).hasSize(CYCLES);
            assertThat(app.closed.values()).allMatch(e -> e.error() == SpdyError.CANCEL);
            assertThat(app.sessionClosed).isFalse();
        }
    }

    @Test
    void clientRoleSurvivesTwoThousandEarlyAnswersThatResetTheUpload() {
        SpdySessionConfig config = SpdySessionConfig.builder(SpdyRole.CLIENT)
                .initialStreamWindow(WINDOW).maxStreamWindow(WINDOW).build();
        Recorder app = new Recorder();
        app.consume = true;
        try (ScriptedPeer peer = new ScriptedPeer(config, app)) {
            peer.discardReceived();
            peer.send(new DefaultSpdyWindowUpdateFrame(0, 1 << 30)); // it reads what we send
            for (int i = 0; i < CYCLES; i++) {
                SpdyStream s = peer.session.newStream(request(), 0, false, app).join();
                int id = s.id();
                for (int k = 0; k < 3; k++) {
                    s.sendData(zeros(1000), false);
                }
                // The server answers at once (say 413) without reading the upload.
                peer.send(synReply(id, false), data(id, WINDOW / 2, false), data(id, 0, true));
                assertThat(wire(peer)).as("cycle %d", i).containsExactly("SYN_STREAM " + id, "DATA " + id + " 1000",
                        "DATA " + id + " 1000", "DATA " + id + " 1000", "WINDOW_UPDATE " + id + " " + WINDOW / 2);
                // It resets each of our DATA frames, and our WINDOW_UPDATE that crossed its FIN.
                peer.send(rst(id, SpdyStreamStatus.STREAM_ALREADY_CLOSED), rst(id, SpdyStreamStatus.STREAM_ALREADY_CLOSED),
                        rst(id, SpdyStreamStatus.STREAM_ALREADY_CLOSED), rst(id, SpdyStreamStatus.INVALID_STREAM));
                assertThat(wire(peer)).as("never a frame in answer to a reset (cycle %d)", i).isEmpty();
                assertThat(peer.channel.isOpen()).as("open after cycle %d", i).isTrue();
            }
            assertThat(app.closed).hasSize(CYCLES);
            assertThat(app.sessionClosed).isFalse();
        }
    }

    @Test
    void realRapidResetIsStillCutAtTheDefaultLimit() {
        Recorder app = new Recorder();
        EmbeddedChannel codec = new EmbeddedChannel(new SpdyFrameCodec(SpdyVersion.SPDY_3_1));
        try (ScriptedPeer peer = new ScriptedPeer(SpdySessionConfig.builder(SpdyRole.SERVER).build(), app)) {
            peer.discardReceived();
            // Open and reset before any answer: 1,000 pass, the 1,001st ends the session.
            peer.sendRaw(openAndReset(codec, 1, 1_000));
            assertThat(wire(peer)).isEmpty();
            assertThat(peer.channel.isOpen()).isTrue();
            peer.sendRaw(openAndReset(codec, 2_001, 1));
            assertThat(wire(peer)).containsExactly("GOAWAY 2001 PROTOCOL_ERROR");
            assertThat(peer.channel.isOpen()).isFalse();
            assertThat(app.sessionCause).hasMessageContaining("too many RST_STREAM");
        } finally {
            codec.finishAndReleaseAll();
        }
    }

    @Test
    void aFloodOfResetsForStreamsThatAreGoneIsCut() {
        SpdySessionConfig config = SpdySessionConfig.builder(SpdyRole.SERVER).maxStaleResetsPerWindow(500).build();
        Recorder app = new Recorder();
        try (ScriptedPeer peer = new ScriptedPeer(config, app)) {
            peer.discardReceived(); // SETTINGS and the session WINDOW_UPDATE: 2 frames sent
            peer.sendRaw(resets(1, 502)); // the budget: 500 plus one per frame we sent
            assertThat(wire(peer)).isEmpty();
            assertThat(peer.channel.isOpen()).isTrue();
            peer.sendRaw(resets(1, 1));
            assertThat(wire(peer)).containsExactly("GOAWAY 0 PROTOCOL_ERROR");
            assertThat(peer.channel.isOpen()).isFalse();
            assertThat(app.sessionCause).hasMessageContaining("RST_STREAM flood");
        }
    }

    /**
     * {@code n} pairs of SYN_STREAM (a GET with FIN) and RST_STREAM CANCEL from id {@code first},
     * in one buffer; {@code codec} keeps the header compression context across calls.
     */
    private static ByteBuf openAndReset(EmbeddedChannel codec, int first, int n) {
        ByteBuf out = Unpooled.buffer();
        for (int i = 0; i < n; i++) {
            int id = first + 2 * i;
            codec.writeOutbound(syn(id, true), rst(id, SpdyStreamStatus.CANCEL));
            ByteBuf b;
            while ((b = codec.readOutbound()) != null) {
                out.writeBytes(b);
                b.release();
            }
        }
        return out;
    }

    /** {@code n} RST_STREAM CANCEL frames for stream {@code id}, raw, in one buffer. */
    private static ByteBuf resets(int id, int n) {
        ByteBuf b = Unpooled.buffer(16 * n);
        for (int i = 0; i < n; i++) {
            b.writeShort(0x8003).writeShort(3).writeInt(8).writeInt(id).writeInt(5);
        }
        return b;
    }
}
