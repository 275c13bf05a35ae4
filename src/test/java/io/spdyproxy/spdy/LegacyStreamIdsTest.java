package io.spdyproxy.spdy;

import static io.spdyproxy.spdy.ScriptedWire.data;
import static io.spdyproxy.spdy.ScriptedWire.reply;
import static io.spdyproxy.spdy.ScriptedWire.syn;
import static io.spdyproxy.spdy.ScriptedWire.wire;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.Unpooled;
import io.spdyproxy.spdy.ScriptedWire.Recorder;
import io.spdyproxy.testing.ScriptedPeer;
import org.junit.jupiter.api.Test;

/**
 * Stream ids out of order, as the original Go proxy sends them under concurrency (PROTOCOL.md:
 * ids reserved atomically, SYN_STREAMs written by each request's goroutine): from a legacy peer
 * any new id of its parity opens a stream, an id seen before or too far below the highest is
 * refused on its own stream, and our own peers keep the strict rule of SPDY/3 section 2.3.2.
 */
class LegacyStreamIdsTest {

    private static SpdySessionConfig legacyServer() {
        return SpdySessionConfig.builder(SpdyRole.SERVER).legacyPeer(true).build();
    }

    @Test
    void legacyPeerMayOpenStreamsOutOfOrderAndEachIsServed() {
        Recorder app = new Recorder();
        try (ScriptedPeer peer = new ScriptedPeer(legacyServer(), app)) {
            peer.discardReceived();
            // 7 overtook 1, 3 and 5 on the wire; the header blocks still decode in wire order.
            peer.send(syn(7, true), syn(5, false), syn(1, true), data(5, 10, true), syn(3, true));
            assertThat(wire(peer)).isEmpty();
            assertThat(peer.channel.isOpen()).isTrue();
            assertThat(app.streams).containsOnlyKeys(7, 5, 1, 3);
            assertThat(app.bytes).containsEntry(5, 10L);

            for (int id : new int[] {1, 3, 5, 7}) {
                SpdyStream s = app.streams.get(id);
                s.sendHeaders(reply(), false);
                s.sendData(Unpooled.copiedBuffer("id " + id, UTF_8), true);
            }
            assertThat(wire(peer)).containsExactly("SYN_REPLY 1", "DATA 1 4 FIN", "SYN_REPLY 3", "DATA 3 4 FIN",
                    "SYN_REPLY 5", "DATA 5 4 FIN", "SYN_REPLY 7", "DATA 7 4 FIN");
            assertThat(app.closed).containsOnlyKeys(1, 3, 5, 7).allSatisfy((id, cause) -> assertThat(cause).isNull());

            // And it goes on above the highest id as usual.
            peer.send(syn(11, true), syn(9, true));
            assertThat(app.streams).containsKeys(9, 11);
            assertThat(peer.channel.isOpen()).isTrue();
        }
    }

    @Test
    void legacyPeerReusingAnIdGetsOnlyThatStreamRefused() {
        Recorder app = new Recorder();
        try (ScriptedPeer peer = new ScriptedPeer(legacyServer(), app)) {
            peer.discardReceived();
            peer.send(syn(3, true), syn(1, true));
            app.streams.get(1).sendHeaders(reply(), true);
            assertThat(wire(peer)).containsExactly("SYN_REPLY 1 FIN");
            assertThat(app.closed).containsKey(1);

            // Stream 1 is closed: a second SYN_STREAM 1 is not a new stream.
            peer.send(syn(1, true));
            assertThat(wire(peer)).containsExactly("RST_STREAM 1 PROTOCOL_ERROR");
            // Stream 3, still open, is a duplicate as before: reset it.
            peer.send(syn(3, true));
            assertThat(wire(peer)).containsExactly("RST_STREAM 3 PROTOCOL_ERROR");
            assertThat(app.closed.get(3).error()).isEqualTo(SpdyError.PROTOCOL_ERROR);

            assertThat(peer.channel.isOpen()).isTrue();
            peer.send(syn(5, true));
            assertThat(app.streams).containsKey(5);
        }
    }

    @Test
    void legacyPeerIdFarBelowTheHighestIsRefusedOnItsStreamOnly() {
        Recorder app = new Recorder();
        int highest = 2 * 2 * RemoteStreamIds.WINDOW + 1; // twice the remembered window above 1
        try (ScriptedPeer peer = new ScriptedPeer(legacyServer(), app)) {
            peer.discardReceived();
            peer.send(syn(highest, true));
            int justInside = highest - 2 * (RemoteStreamIds.WINDOW - 1);
            int justOutside = highest - 2 * RemoteStreamIds.WINDOW;
            peer.send(syn(justInside, true), syn(justOutside, true), syn(1, true));
            assertThat(wire(peer)).containsExactly("RST_STREAM " + justOutside + " PROTOCOL_ERROR",
                    "RST_STREAM 1 PROTOCOL_ERROR");
            assertThat(app.streams).containsOnlyKeys(highest, justInside);
            assertThat(peer.channel.isOpen()).isTrue();
        }
    }

    @Test
    void aLongRunOfShuffledIdsOpensEachExactlyOnce() {
        // Bursts of 8 ids written in reverse, for 1,000 bursts: every id opens once, none is
        // refused, and what the session remembers stays the fixed-size window.
        Recorder app = new Recorder();
        try (ScriptedPeer peer = new ScriptedPeer(legacyServer(), app)) {
            peer.discardReceived();
            int next = 1;
            for (int burst = 0; burst < 1_000; burst++) {
                for (int k = 7; k >= 0; k--) {
                    peer.send(syn(next + 2 * k, true));
                }
                for (int k = 0; k < 8; k++) {
                    app.streams.get(next + 2 * k).sendHeaders(reply(), true);
                }
                next += 16;
            }
            assertThat(wire(peer)).hasSize(8_000).allMatch(f -> f.startsWith("SYN_REPLY "));
            assertThat(app.streams).hasSize(8_000);
            assertThat(app.closed.values()).allMatch(cause -> cause == null);
            assertThat(peer.channel.isOpen()).isTrue();
        }
    }

    @Test
    void ourOwnPeersKeepTheStrictRule() {
        Recorder app = new Recorder();
        try (ScriptedPeer peer = new ScriptedPeer(SpdySessionConfig.builder(SpdyRole.SERVER).build(), app)) {
            peer.discardReceived();
            peer.send(syn(7, true), syn(5, true));
            assertThat(wire(peer)).containsExactly("GOAWAY 7 PROTOCOL_ERROR");
            assertThat(peer.channel.isOpen()).isFalse();
            assertThat(app.sessionCause).hasMessageContaining("SYN_STREAM id 5 not above last id 7");
        }
    }
}
