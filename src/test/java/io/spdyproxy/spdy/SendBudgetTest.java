package io.spdyproxy.spdy;

import static io.spdyproxy.spdy.ScriptedWire.data;
import static io.spdyproxy.spdy.ScriptedWire.dataBytes;
import static io.spdyproxy.spdy.ScriptedWire.initialWindow;
import static io.spdyproxy.spdy.ScriptedWire.request;
import static io.spdyproxy.spdy.ScriptedWire.rst;
import static io.spdyproxy.spdy.ScriptedWire.syn;
import static io.spdyproxy.spdy.ScriptedWire.synReply;
import static io.spdyproxy.spdy.ScriptedWire.wire;
import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.Unpooled;
import io.netty.handler.codec.spdy.DefaultSpdyWindowUpdateFrame;
import io.netty.handler.codec.spdy.SpdyStreamStatus;
import io.spdyproxy.spdy.ScriptedWire.Recorder;
import io.spdyproxy.testing.ScriptedPeer;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * What one session holds for sending stays bounded whatever windows the peer grants: a stream
 * queues at most {@code maxStreamQueuedBytes} (even with a 2^31-1 window), all streams together
 * at most {@code maxSessionQueuedBytes} before every stream reports unwritable, producers are
 * woken when it drains, and a producer that ignores writability is reset at the hard limit. The
 * legacy allowance (bytes past a legacy peer's window) is capped per session in both directions.
 * Producers here write only while {@link SpdyStream#isWritable()}, like the proxy's front end.
 */
class SendBudgetTest {
    private static final int CHUNK = 64 * 1024;
    private static final byte[] ZEROS = new byte[CHUNK];
    /** The default maxSessionQueuedBytes. */
    private static final long CAP = 16L * 1024 * 1024;

    /** Writes CHUNK-sized buffers while the stream is writable, up to {@code max} bytes; returns the count. */
    private static long produce(SpdyStream s, long max) {
        long written = 0;
        while (written < max && s.isWritable()) {
            s.sendData(Unpooled.wrappedBuffer(ZEROS), false);
            written += CHUNK;
        }
        return written;
    }

    @Test
    void aHugeStreamWindowWithoutSessionWindowQueuesAtMostThePerStreamCap() {
        // SETTINGS grant each stream 2^31-1, but the session window (SPDY/3.1) stays at 64 KiB:
        // everything past it waits in the stream's queue, which must stop at the per-stream cap.
        SpdySessionConfig config = SpdySessionConfig.builder(SpdyRole.CLIENT).build();
        Recorder app = new Recorder();
        try (ScriptedPeer peer = new ScriptedPeer(config, app)) {
            peer.discardReceived();
            peer.send(initialWindow(Integer.MAX_VALUE));
            SpdyStream s = peer.session.newStream(request(), 0, false, app).join();
            long written = produce(s, 64L * 1024 * 1024);

            long cap = 4L * 1024 * 1024; // the default maxStreamQueuedBytes
            assertThat(written).as("bytes accepted before the stream said stop").isLessThanOrEqualTo(cap + 2 * CHUNK);
            assertThat(s.maxQueuedBytes()).isLessThanOrEqualTo(cap + CHUNK);
            assertThat(peer.session.stats().maxQueuedBytes()).isLessThanOrEqualTo(cap + 2 * CHUNK);
            assertThat(app.writable).isEmpty();

            // The peer opens the session window: the queue drains and the producer is called back.
            peer.send(new DefaultSpdyWindowUpdateFrame(0, 1 << 30));
            assertThat(dataBytes(wire(peer), s.id())).isEqualTo(written);
            assertThat(app.writable).contains(s.id());
            assertThat(s.isWritable()).isTrue();
            assertThat(peer.session.stats().queuedBytes()).isZero();
        }
    }

    @Test
    void overTheSessionCapEveryStreamIsUnwritableUntilItDrainsToHalf() {
        // Window 0 for every stream: each may queue one chunk, and 300 of them would hold 19 MiB,
        // above the default cap of 16 MiB.
        SpdySessionConfig config = SpdySessionConfig.builder(SpdyRole.CLIENT).build();
        Recorder app = new Recorder();
        try (ScriptedPeer peer = new ScriptedPeer(config, app)) {
            peer.discardReceived();
            peer.send(initialWindow(0), new DefaultSpdyWindowUpdateFrame(0, 1 << 30));
            List<SpdyStream> streams = new ArrayList<>();
            List<SpdyStream> refused = new ArrayList<>();
            long total = 0;
            for (int i = 0; i < 300; i++) {
                SpdyStream s = peer.session.newStream(request(), 0, false, app).join();
                streams.add(s);
                long n = produce(s, CHUNK);
                total += n;
                if (n == 0) {
                    refused.add(s);
                }
            }
            assertThat(total).as("bytes the 300 streams queued in all").isEqualTo(CAP);
            assertThat(refused).hasSize(300 - (int) (CAP / CHUNK));
            assertThat(streams).allMatch(s -> !s.isWritable());
            assertThat(peer.session.stats().maxQueuedBytes()).isLessThanOrEqualTo(CAP + CHUNK);
            wire(peer); // the SYN_STREAMs

            // Window for half the streams that queued: their chunks leave, the queues hold half
            // the cap, and every stream that found the session closed is called back.
            int granted = (int) (CAP / CHUNK / 2);
            for (int i = 0; i < granted; i++) {
                peer.send(new DefaultSpdyWindowUpdateFrame(streams.get(i).id(), CHUNK));
            }
            List<String> out = wire(peer);
            for (int i = 0; i < granted; i++) {
                assertThat(dataBytes(out, streams.get(i).id())).isEqualTo(CHUNK);
            }
            assertThat(peer.session.stats().queuedBytes()).isEqualTo(CAP / 2);
            for (SpdyStream s : refused) {
                assertThat(app.writable).as("stream %d woken", s.id()).contains(s.id());
                assertThat(s.isWritable()).isTrue();
            }
            assertThat(peer.channel.isOpen()).isTrue();
        }
    }

    @Test
    void aProducerIgnoringWritabilityIsResetAtTheHardLimitAndOthersCarryOn() {
        SpdySessionConfig config = SpdySessionConfig.builder(SpdyRole.CLIENT).build();
        Recorder app = new Recorder();
        try (ScriptedPeer peer = new ScriptedPeer(config, app)) {
            peer.discardReceived();
            peer.send(initialWindow(0), new DefaultSpdyWindowUpdateFrame(0, 1 << 30));
            SpdyStream good = peer.session.newStream(request(), 0, false, app).join();
            good.sendData(Unpooled.wrappedBuffer(ZEROS), false);
            SpdyStream greedy = peer.session.newStream(request(), 0, false, app).join();
            for (long n = 0; n < 3 * CAP; n += CHUNK) { // 48 MiB, never asking isWritable()
                greedy.sendData(Unpooled.wrappedBuffer(ZEROS), false);
            }
            List<String> out = wire(peer);
            assertThat(out).contains("RST_STREAM " + greedy.id() + " INTERNAL_ERROR");
            assertThat(app.closed.get(greedy.id())).isNotNull();
            assertThat(app.closed.get(greedy.id()).error()).isEqualTo(SpdyError.INTERNAL_ERROR);
            assertThat(app.closed.get(greedy.id())).hasMessageContaining("hard limit");
            assertThat(peer.session.stats().maxQueuedBytes()).isLessThanOrEqualTo(2 * CAP + CHUNK);
            assertThat(peer.session.stats().queuedBytes()).isEqualTo(CHUNK); // the good stream's

            peer.send(new DefaultSpdyWindowUpdateFrame(good.id(), CHUNK));
            assertThat(dataBytes(wire(peer), good.id())).isEqualTo(CHUNK);
            assertThat(app.closed).doesNotContainKey(good.id());
            assertThat(peer.channel.isOpen()).isTrue();
        }
    }

    @Test
    void aLegacyPeerMayOverrunOurWindowsOnlyWithinTheSessionAllowance() {
        SpdySessionConfig config = SpdySessionConfig.builder(SpdyRole.SERVER).legacyPeer(true)
                .legacyWindowAllowance(10_000).legacySessionAllowance(15_000).build();
        Recorder app = new Recorder(); // never consumes: every byte past 64 KiB is overrun
        try (ScriptedPeer peer = new ScriptedPeer(config, app)) {
            peer.discardReceived();
            peer.send(syn(1, false), syn(3, false), syn(5, false));
            for (int id : new int[] {1, 3}) {
                for (int i = 0; i < 4; i++) {
                    peer.send(data(id, 16_384, false));
                }
            }
            peer.send(data(1, 10_000, false)); // stream 1 uses its whole allowance
            peer.send(data(3, 5_000, false)); // stream 3 the rest of the session's
            assertThat(wire(peer)).isEmpty();

            peer.send(data(3, 1, false));
            assertThat(wire(peer)).containsExactly("RST_STREAM 3 FLOW_CONTROL_ERROR");
            assertThat(app.closed.get(3)).hasMessageContaining("allowance of the session");
            assertThat(app.bytes).containsEntry(3, 65_536L + 5_000L);

            // Stream 3 is gone, which frees its 5,000: stream 5 may use them, not more.
            for (int i = 0; i < 4; i++) {
                peer.send(data(5, 16_384, false));
            }
            peer.send(data(5, 5_000, false));
            assertThat(wire(peer)).isEmpty();
            peer.send(data(5, 1, false));
            assertThat(wire(peer)).containsExactly("RST_STREAM 5 FLOW_CONTROL_ERROR");

            // Stream 1 ends: its 10,000 are free again for a new stream.
            app.streams.get(1).reset(SpdyError.CANCEL);
            peer.send(syn(7, false));
            for (int i = 0; i < 4; i++) {
                peer.send(data(7, 16_384, false));
            }
            peer.send(data(7, 10_000, false));
            assertThat(wire(peer)).containsExactly("RST_STREAM 1 CANCEL");
            assertThat(app.closed).doesNotContainKey(7);
            assertThat(peer.channel.isOpen()).isTrue();
        }
    }

    @Test
    void towardsALegacyOriginRequestBodiesShareTheSessionAllowance() {
        SpdySessionConfig config = SpdySessionConfig.builder(SpdyRole.CLIENT).legacyPeer(true)
                .legacyWindowAllowance(100_000).legacySessionAllowance(150_000).build();
        Recorder app = new Recorder();
        try (ScriptedPeer peer = new ScriptedPeer(config, app)) {
            peer.discardReceived();
            SpdyStream a = peer.session.newStream(request(), 0, false, app).join();
            SpdyStream b = peer.session.newStream(request(), 0, false, app).join();
            // 192 KiB each, more than window (64 KiB) plus allowance (100,000) allows.
            for (int i = 0; i < 3; i++) {
                a.sendData(Unpooled.wrappedBuffer(ZEROS), false);
            }
            for (int i = 0; i < 3; i++) {
                b.sendData(Unpooled.wrappedBuffer(ZEROS), false);
            }
            List<String> out = wire(peer);
            assertThat(dataBytes(out, a.id())).isEqualTo(65_536 + 100_000);
            assertThat(dataBytes(out, b.id())).isEqualTo(65_536 + 50_000);

            // A's exchange ends: its 100,000 past the window are free, and B may go on to its own limit.
            peer.send(synReply(a.id(), true), rst(a.id(), SpdyStreamStatus.CANCEL));
            assertThat(dataBytes(wire(peer), b.id())).isEqualTo(50_000);
            assertThat(b.queuedBytes()).isEqualTo(3L * CHUNK - 65_536 - 100_000);
            assertThat(peer.channel.isOpen()).isTrue();
        }
    }
}
