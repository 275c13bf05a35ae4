package io.spdyproxy.spdy;

import static io.spdyproxy.spdy.ScriptedWire.data;
import static io.spdyproxy.spdy.ScriptedWire.request;
import static io.spdyproxy.spdy.ScriptedWire.syn;
import static io.spdyproxy.spdy.ScriptedWire.synReply;
import static io.spdyproxy.spdy.ScriptedWire.wire;
import static org.assertj.core.api.Assertions.assertThat;

import io.netty.handler.codec.spdy.DefaultSpdyHeadersFrame;
import io.netty.handler.codec.spdy.SpdyFrame;
import io.spdyproxy.spdy.ScriptedWire.Recorder;
import io.spdyproxy.testing.ScriptedPeer;
import org.junit.jupiter.api.Test;

/**
 * The one check every DATA, SYN_REPLY and HEADERS frame passes against the stream it names
 * (SPDY/3 sections 2.3 and 2.6), one case per row of its table, in both roles: an id that never
 * existed is answered with RST_STREAM INVALID_STREAM, a stream that is gone is not answered, and
 * a frame out of order resets its stream with the status and reason for it. DATA that is refused
 * still returns its bytes to the session window, before the reset.
 */
class StreamFrameChecksTest {
    /** Half of it consumed earns a stream-0 WINDOW_UPDATE, so a refused DATA of this size shows one. */
    private static final int HALF_SESSION_WINDOW = SpdySessionConfig.DEFAULT_WINDOW / 2;

    private static ScriptedPeer server(Recorder app) {
        ScriptedPeer peer = new ScriptedPeer(SpdySessionConfig.builder(SpdyRole.SERVER)
                .sessionWindow(SpdySessionConfig.DEFAULT_WINDOW).build(), app);
        peer.discardReceived();
        return peer;
    }

    /** A client-role session with stream 1 open (its SYN_STREAM, no FIN, already discarded). */
    private static ScriptedPeer clientWithStream(Recorder app) {
        ScriptedPeer peer = new ScriptedPeer(SpdySessionConfig.builder(SpdyRole.CLIENT)
                .sessionWindow(SpdySessionConfig.DEFAULT_WINDOW).build(), app);
        app.streams.put(1, peer.session.newStream(request(), 0, false, app).join());
        peer.discardReceived();
        return peer;
    }

    private static DefaultSpdyHeadersFrame headers(int id, boolean fin) {
        DefaultSpdyHeadersFrame f = new DefaultSpdyHeadersFrame(id);
        f.headers().set("x-trailer", "1");
        f.setLast(fin);
        return f;
    }

    private static void assertResetBySession(Recorder app, int id, SpdyError error, String why) {
        SpdyStreamException cause = app.closed.get(id);
        assertThat(cause).as("stream %d closed", id).isNotNull();
        assertThat(cause.error()).isEqualTo(error);
        assertThat(cause.isLocal()).isTrue();
        assertThat(cause.getMessage()).contains(why);
    }

    @Test
    void frameOnAnIdThatNeverExistedIsInvalidStream() {
        for (SpdyFrame frame : new SpdyFrame[] {synReply(3, false), headers(3, false)}) {
            Recorder app = new Recorder();
            try (ScriptedPeer peer = server(app)) {
                peer.send(syn(1, false), frame);
                assertThat(wire(peer)).as("%s", frame).containsExactly("RST_STREAM 3 INVALID_STREAM");
                assertThat(app.closed).isEmpty();
            }
        }
    }

    @Test
    void dataOnAnIdThatNeverExistedReturnsItsSessionCreditThenIsInvalidStream() {
        Recorder app = new Recorder();
        try (ScriptedPeer peer = server(app)) {
            peer.send(data(3, HALF_SESSION_WINDOW, false));
            assertThat(wire(peer)).containsExactly("WINDOW_UPDATE 0 " + HALF_SESSION_WINDOW,
                    "RST_STREAM 3 INVALID_STREAM");
        }
    }

    @Test
    void framesOnAStreamThatIsGoneAreDroppedQuietly() {
        Recorder app = new Recorder();
        try (ScriptedPeer peer = clientWithStream(app)) {
            app.streams.get(1).reset(SpdyError.CANCEL);
            assertThat(wire(peer)).containsExactly("RST_STREAM 1 CANCEL");
            peer.send(synReply(1, false), headers(1, false), data(1, 10, true));
            assertThat(wire(peer)).isEmpty();
            assertThat(peer.channel.isOpen()).isTrue();
        }
    }

    @Test
    void synReplyOnAStreamThePeerOpenedIsProtocolError() {
        Recorder app = new Recorder();
        try (ScriptedPeer peer = server(app)) {
            peer.send(syn(1, false), synReply(1, false));
            assertThat(wire(peer)).containsExactly("RST_STREAM 1 PROTOCOL_ERROR");
            assertResetBySession(app, 1, SpdyError.PROTOCOL_ERROR, "SYN_REPLY on a stream the peer opened");
        }
    }

    @Test
    void secondSynReplyIsStreamInUse() {
        Recorder app = new Recorder();
        try (ScriptedPeer peer = clientWithStream(app)) {
            peer.send(synReply(1, false), synReply(1, false));
            assertThat(wire(peer)).containsExactly("RST_STREAM 1 STREAM_IN_USE");
            assertResetBySession(app, 1, SpdyError.STREAM_IN_USE, "second SYN_REPLY");
        }
    }

    @Test
    void headersBeforeSynReplyIsProtocolError() {
        Recorder app = new Recorder();
        try (ScriptedPeer peer = clientWithStream(app)) {
            peer.send(headers(1, false));
            assertThat(wire(peer)).containsExactly("RST_STREAM 1 PROTOCOL_ERROR");
            assertResetBySession(app, 1, SpdyError.PROTOCOL_ERROR, "HEADERS before SYN_REPLY");
        }
    }

    @Test
    void dataBeforeSynReplyReturnsItsSessionCreditThenIsProtocolError() {
        Recorder app = new Recorder();
        try (ScriptedPeer peer = clientWithStream(app)) {
            peer.send(data(1, HALF_SESSION_WINDOW, false));
            assertThat(wire(peer)).containsExactly("WINDOW_UPDATE 0 " + HALF_SESSION_WINDOW,
                    "RST_STREAM 1 PROTOCOL_ERROR");
            assertResetBySession(app, 1, SpdyError.PROTOCOL_ERROR, "DATA before SYN_REPLY");
            assertThat(app.bytes).isEmpty();
        }
    }

    @Test
    void headersAfterThePeersFinIsStreamAlreadyClosed() {
        Recorder app = new Recorder();
        try (ScriptedPeer peer = server(app)) {
            peer.send(syn(1, true), headers(1, false));
            assertThat(wire(peer)).containsExactly("RST_STREAM 1 STREAM_ALREADY_CLOSED");
            assertResetBySession(app, 1, SpdyError.STREAM_ALREADY_CLOSED, "HEADERS after the peer's FIN");
        }
    }

    @Test
    void dataAfterThePeersFinReturnsItsSessionCreditThenIsStreamAlreadyClosed() {
        Recorder app = new Recorder();
        try (ScriptedPeer peer = clientWithStream(app)) {
            peer.send(synReply(1, true), data(1, HALF_SESSION_WINDOW, false));
            assertThat(wire(peer)).containsExactly("WINDOW_UPDATE 0 " + HALF_SESSION_WINDOW,
                    "RST_STREAM 1 STREAM_ALREADY_CLOSED");
            assertResetBySession(app, 1, SpdyError.STREAM_ALREADY_CLOSED, "DATA after the peer's FIN");
            assertThat(app.bytes).isEmpty();
        }
    }
}
