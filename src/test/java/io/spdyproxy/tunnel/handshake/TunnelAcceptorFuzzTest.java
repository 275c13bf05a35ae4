package io.spdyproxy.tunnel.handshake;

import io.spdyproxy.tunnel.Tunnel;
import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static org.junit.jupiter.params.provider.Arguments.arguments;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.spdy.DefaultSpdyDataFrame;
import io.netty.handler.codec.spdy.DefaultSpdyHeaders;
import io.netty.handler.codec.spdy.DefaultSpdyPingFrame;
import io.netty.handler.codec.spdy.DefaultSpdySettingsFrame;
import io.netty.handler.codec.spdy.DefaultSpdySynReplyFrame;
import io.netty.handler.codec.spdy.DefaultSpdyWindowUpdateFrame;
import io.netty.handler.codec.spdy.SpdyFrame;
import io.netty.handler.codec.spdy.SpdyFrameCodec;
import io.netty.handler.codec.spdy.SpdyHeaders;
import io.netty.handler.codec.spdy.SpdySettingsFrame;
import io.netty.handler.codec.spdy.SpdyVersion;
import io.netty.util.ReferenceCountUtil;
import io.spdyproxy.spdy.SpdyRole;
import io.spdyproxy.spdy.SpdySessionConfig;
import io.spdyproxy.spdy.SpdyStream;
import io.spdyproxy.spdy.SpdyStreamListener;
import io.spdyproxy.testing.SocketLikeChannel;
import io.spdyproxy.testing.TrackingAllocator;
import java.io.ByteArrayOutputStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Coverage-guided fuzzing of the proxy's tunnel listener, {@link TunnelAcceptor} without TLS: the
 * handshake decoder, the accept handler and authenticator, and the SPDY session it installs, fed
 * whatever an origin might send. For any bytes, cut into reads of any size:
 * <ul>
 *   <li>no exception escapes the pipeline and every buffer is released;
 *   <li>the proxy's first bytes are one complete HTTP/1.1 response, {@code 200} (then SPDY frames
 *       that decode cleanly, SETTINGS first), {@code 401} or {@code 405} (then nothing more, and
 *       the connection closed);
 *   <li>a tunnel is reported exactly when the answer was {@code 200}, and only once;
 *   <li>a connection that has not completed its handshake is closed by the handshake timeout.
 * </ul>
 *
 * <p>Input layout: byte 0 picks the read size (low 6 bits, squared; 0: one read), bit 6 lets the
 * handshake timeout pass at the end, bit 7 opens a stream on the tunnel; the rest is the wire. The
 * authenticator accepts token {@code s3cret} and legacy origins. Timeout: see
 * {@code SpdySessionFuzzTest}.
 */
@Timeout(value = 1, unit = TimeUnit.DAYS)
class TunnelAcceptorFuzzTest {
    static final int TIME_PASSES = 1 << 6;
    static final int OPEN_STREAM = 1 << 7;
    private static final Duration HANDSHAKE_TIMEOUT = Duration.ofSeconds(10);

    @MethodSource("seeds")
    @FuzzTest(maxDuration = "10s")
    void originBytes(byte[] input) {
        new Run(input).run();
    }

    private static final class Run {
        private final int flags;
        private final byte[] wire;
        private final TrackingAllocator alloc = new TrackingAllocator();
        private final List<Tunnel> tunnels = new ArrayList<>();
        private final List<String> decisions = new ArrayList<>();
        private final List<ByteBuf> fed = new ArrayList<>();
        private final ByteArrayOutputStream written = new ByteArrayOutputStream();
        private SocketLikeChannel channel;

        Run(byte[] input) {
            flags = input.length > 0 ? input[0] & 0xFF : 0;
            wire = input.length > 0 ? Arrays.copyOfRange(input, 1, input.length) : new byte[0];
        }

        void run() {
            SpdySessionConfig config = SpdySessionConfig.builder(SpdyRole.CLIENT).build();
            TunnelAcceptor acceptor = new TunnelAcceptor(null, config, (name, token, legacy) -> {
                decisions.add(name + " " + token + " " + legacy);
                return legacy || "s3cret".equals(token)
                        ? TunnelAuthenticator.Decision.accept(name == null ? TunnelProtocol.DEFAULT_NAME : name)
                        : TunnelAuthenticator.Decision.refuse("bad token");
            }, this::tunnelUp, TunnelAcceptor.Limits.defaults().withTimeouts(HANDSHAKE_TIMEOUT, HANDSHAKE_TIMEOUT)
                    // Refusals answered at once, no bans: each run checks one handshake's answer.
                    .withFailures(1_000_000, Duration.ofMinutes(1), Duration.ofMinutes(1), Duration.ofHours(1),
                            Duration.ZERO));
            channel = new SocketLikeChannel(acceptor);
            channel.config().setAllocator(alloc);
            try {
                channel.register();
                channel.freezeTime(); // timers run only when this run advances the clock
                exercise();
                check();
            } catch (Exception e) {
                throw new AssertionError(e);
            } finally {
                channel.finishAndReleaseAll();
                for (Tunnel t : tunnels) {
                    if (!t.session().closeFuture().isDone()) {
                        throw new AssertionError("tunnel session still open after its channel closed");
                    }
                }
            }
            for (ByteBuf b : fed) {
                if (b.refCnt() != 0) {
                    throw new AssertionError("an inbound buffer was not released: refCnt " + b.refCnt());
                }
            }
            alloc.assertAllReleased("the connection closed");
        }

        private void tunnelUp(Tunnel t) {
            tunnels.add(t);
            if ((flags & OPEN_STREAM) != 0) {
                SpdyHeaders h = new DefaultSpdyHeaders();
                h.set(":method", "GET").set(":path", "/").set(":version", "HTTP/1.1")
                        .set(":host", "example.com").set(":scheme", "https");
                ((io.spdyproxy.tunnel.spdy.SpdyTunnelSession) t.session()).spdySession().newStream(h, 0, true, new SpdyStreamListener() {
                    @Override
                    public void onHeaders(SpdyStream stream, SpdyHeaders headers, boolean endOfStream) {}

                    @Override
                    public void onData(SpdyStream stream, ByteBuf data, boolean endOfStream) {
                        int n = data.readableBytes();
                        data.release();
                        stream.consume(n);
                    }
                });
            }
        }

        private void exercise() {
            int chunk = flags & 0x3F;
            chunk = chunk == 0 ? Math.max(1, wire.length) : chunk * chunk;
            for (int off = 0; off < wire.length && channel.isOpen(); off += chunk) {
                ByteBuf b = Unpooled.wrappedBuffer(wire, off, Math.min(chunk, wire.length - off));
                fed.add(b);
                channel.writeInbound(b);
                drain();
            }
            if ((flags & TIME_PASSES) != 0) {
                channel.advanceTimeBy(HANDSHAKE_TIMEOUT.toNanos() + 1, TimeUnit.NANOSECONDS);
                channel.runScheduledPendingTasks();
                drain();
                if (tunnels.isEmpty() && channel.isOpen()) {
                    throw new AssertionError("no tunnel, and the handshake timeout left the connection open");
                }
            }
        }

        private void drain() {
            for (int round = 0; round < 100; round++) {
                channel.runPendingTasks();
                boolean any = false;
                Object out;
                while ((out = channel.readOutbound()) != null) {
                    any = true;
                    try {
                        if (!(out instanceof ByteBuf b)) {
                            throw new AssertionError("the proxy wrote " + out.getClass() + ", not bytes");
                        }
                        written.writeBytes(ByteBufUtil.getBytes(b));
                    } finally {
                        ReferenceCountUtil.release(out);
                    }
                }
                if (!any && !channel.hasPendingTasks()) {
                    return;
                }
            }
        }

        private void check() throws Exception {
            byte[] out = written.toByteArray();
            if (decisions.size() > 1) {
                throw new AssertionError("authenticated " + decisions.size() + " times: " + decisions);
            }
            if (tunnels.size() > 1) {
                throw new AssertionError(tunnels.size() + " tunnels from one connection");
            }
            if (out.length == 0) {
                if (!tunnels.isEmpty()) {
                    throw new AssertionError("a tunnel without an answer");
                }
                return;
            }
            String text = new String(out, ISO_8859_1);
            int headEnd = text.indexOf("\r\n\r\n");
            if (headEnd < 0) {
                throw new AssertionError("an incomplete answer: " + text);
            }
            String[] lines = text.substring(0, headEnd).split("\r\n");
            String status = lines[0];
            int length = -1;
            for (int i = 1; i < lines.length; i++) {
                if (lines[i].regionMatches(true, 0, "Content-Length: ", 0, 16)) {
                    length = Integer.parseInt(lines[i].substring(16));
                }
            }
            if (length < 0 || out.length < headEnd + 4 + length) {
                throw new AssertionError("an answer without its whole body: " + text);
            }
            int after = headEnd + 4 + length;
            if (status.startsWith("HTTP/1.1 200 ")) {
                if (tunnels.size() != 1) {
                    throw new AssertionError("200 but " + tunnels.size() + " tunnels");
                }
                checkSpdy(Arrays.copyOfRange(out, after, out.length));
            } else if (status.startsWith("HTTP/1.1 401 ") || status.startsWith("HTTP/1.1 405 ")) {
                if (!tunnels.isEmpty() || after != out.length || channel.isOpen()) {
                    throw new AssertionError("after '" + status + "': " + tunnels.size() + " tunnels, "
                            + (out.length - after) + " more bytes, channel open " + channel.isOpen());
                }
            } else {
                throw new AssertionError("unexpected answer: " + status);
            }
        }

        /** The bytes after the 200 are SPDY frames a peer decodes cleanly, SETTINGS first. */
        private void checkSpdy(byte[] frames) {
            EmbeddedChannel peer = new EmbeddedChannel(new SpdyFrameCodec(SpdyVersion.SPDY_3_1));
            try {
                peer.writeInbound(Unpooled.wrappedBuffer(frames));
                Object first = peer.readInbound();
                try {
                    if (!(first instanceof SpdySettingsFrame)) {
                        throw new AssertionError("the first frame after 200 is " + first);
                    }
                } finally {
                    ReferenceCountUtil.release(first);
                }
            } finally {
                peer.finishAndReleaseAll();
            }
        }
    }

    // ------------------------------------------------------------------------------------------
    // Seeds: our origin's handshake and the original Go origin's, each followed by the origin's
    // first SPDY frames; and refusals.

    static Stream<Arguments> seeds() {
        String ours = "PUT / HTTP/1.1\r\nHost: proxy.example:1444\r\nUser-Agent: spdy-proxy\r\n"
                + "Tunnel-Protocol: spdy/3.1\r\nTunnel-Name: web\r\nAuthorization: Bearer s3cret\r\n"
                + "Content-Length: 12\r\n\r\nHello from C";
        String legacy = "PUT / HTTP/1.1\r\nHost: localhost:1444\r\nUser-Agent: Go-http-client/1.1\r\n"
                + "Content-Length: 12\r\n\r\nHello from C";
        DefaultSpdySettingsFrame settings = new DefaultSpdySettingsFrame();
        settings.setValue(4, 100);
        settings.setValue(7, 1 << 20);
        byte[] origin = frames(settings, new DefaultSpdyWindowUpdateFrame(0, 1 << 20), new DefaultSpdyPingFrame(1));
        byte[] answer = frames(reply(1), new DefaultSpdyDataFrame(1, Unpooled.wrappedBuffer(new byte[] {'o', 'k'})));
        return Stream.of(
                seed("ours", 0, ours.getBytes(ISO_8859_1), origin),
                seed("ours, answering a stream", OPEN_STREAM | 5, ours.getBytes(ISO_8859_1), origin, answer),
                seed("legacy", 1, legacy.getBytes(ISO_8859_1), answer),
                seed("legacy, answering a stream", OPEN_STREAM, legacy.getBytes(ISO_8859_1), answer),
                seed("bad token", 0, ours.replace("s3cret", "guess").getBytes(ISO_8859_1)),
                seed("GET", 2, legacy.replace("PUT", "GET").getBytes(ISO_8859_1)),
                seed("half a head, then silence", TIME_PASSES, "PUT / HTTP/1.1\r\nHost: a".getBytes(ISO_8859_1)));
    }

    private static Arguments seed(String name, int flags, byte[]... parts) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        b.write(flags);
        for (byte[] p : parts) {
            b.writeBytes(p);
        }
        return arguments(Named.of(name, b.toByteArray()));
    }

    private static DefaultSpdySynReplyFrame reply(int id) {
        DefaultSpdySynReplyFrame f = new DefaultSpdySynReplyFrame(id);
        f.headers().set(":status", "200 OK").set(":version", "HTTP/1.1");
        return f;
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
}
