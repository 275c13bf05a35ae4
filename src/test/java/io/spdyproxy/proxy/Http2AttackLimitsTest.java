package io.spdyproxy.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http2.DefaultHttp2FrameWriter;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersEncoder;
import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Flags;
import io.netty.handler.codec.http2.Http2FrameTypes;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersEncoder;
import io.netty.handler.codec.http2.Http2Settings;
import io.spdyproxy.transport.Transport;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The HTTP/2 attack limits of the front end, each with a hostile client that crafts its frames
 * with Netty's {@link DefaultHttp2FrameWriter} over a raw socket on the plain port: the offender's
 * connection ends (GOAWAY, then the close), and a well-behaved client on the same proxy goes on.
 */
@Timeout(60)
class Http2AttackLimitsTest {
    /**
     * No GOAWAY seen: the proxy closed while our flood was still unread on its side, so TCP reset
     * the connection and dropped what it had sent. The connection ended all the same (without the
     * limit it stays open and the read times out, failing the test).
     */
    private static final long LOST = -1;
    @TempDir
    Path tmp;
    private ProxyBed bed;
    private EventLoopGroup clientLoops;

    @BeforeEach
    void setUp() throws Exception {
        bed = new ProxyBed(tmp, c -> c.withPorts(0, 0, -1, -1));
        bed.origin("default", new H2TestApp("default"));
        clientLoops = Transport.newGroup(1, "h2-attack-client");
    }

    @AfterEach
    void tearDown() throws Exception {
        bed.close();
        clientLoops.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    /** A raw HTTP/2 peer: frames made by Netty's writer, bytes on a plain socket. */
    static final class Raw implements AutoCloseable {
        final Socket socket;
        final OutputStream out;
        private final EmbeddedChannel encoder = new EmbeddedChannel(new ChannelInboundHandlerAdapter());
        private final ChannelHandlerContext ctx = encoder.pipeline().firstContext();
        final DefaultHttp2FrameWriter writer = new DefaultHttp2FrameWriter(Http2HeadersEncoder.NEVER_SENSITIVE, true);

        Raw(int port, int receiveBuffer) throws IOException {
            socket = new Socket();
            if (receiveBuffer > 0) {
                socket.setReceiveBufferSize(receiveBuffer);
            }
            socket.connect(new java.net.InetSocketAddress("127.0.0.1", port));
            socket.setSoTimeout(20_000);
            out = socket.getOutputStream();
            ByteBuf preface = Http2CodecUtil.connectionPrefaceBuf();
            encoder.writeOutbound(preface);
            writer.writeSettings(ctx, new Http2Settings(), ctx.newPromise());
            send();
        }

        ChannelHandlerContext ctx() {
            return ctx;
        }

        /** Writes what the frame writer produced so far to the socket. */
        void send() throws IOException {
            ctx.flush();
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            ByteBuf b;
            while ((b = encoder.readOutbound()) != null) {
                try {
                    byte[] a = new byte[b.readableBytes()];
                    b.readBytes(a);
                    bytes.writeBytes(a);
                } finally {
                    b.release();
                }
            }
            out.write(bytes.toByteArray());
            out.flush();
        }

        void headers(int streamId, Http2Headers h, boolean endStream) {
            writer.writeHeaders(ctx, streamId, h, 0, endStream, ctx.newPromise());
        }

        /**
         * Reads until the proxy closes the connection (a reset counts); returns the error code of
         * the GOAWAY it sent, or -1 when none came. Fails on the read timeout.
         */
        long readUntilClosed() throws IOException {
            ByteArrayOutputStream seen = new ByteArrayOutputStream();
            InputStream in = socket.getInputStream();
            byte[] buf = new byte[16384];
            try {
                int n;
                while ((n = in.read(buf)) >= 0) {
                    seen.write(buf, 0, n);
                }
            } catch (SocketTimeoutException e) {
                throw e;
            } catch (IOException reset) {
                // closed with unread data: a reset is the end too
            }
            return goAwayCode(seen.toByteArray());
        }

        /** RST_STREAM error codes the proxy sent, by stream, in what was read so far. */
        static long goAwayCode(byte[] a) {
            long code = -1;
            int i = 0;
            while (i + 9 <= a.length) {
                int len = (a[i] & 0xff) << 16 | (a[i + 1] & 0xff) << 8 | a[i + 2] & 0xff;
                int type = a[i + 3];
                if (type == Http2FrameTypes.GO_AWAY && i + 9 + 8 <= a.length) {
                    code = readInt(a, i + 9 + 4);
                }
                i += 9 + len;
            }
            return code;
        }

        static long readInt(byte[] a, int at) {
            return (a[at] & 0xffL) << 24 | (a[at + 1] & 0xffL) << 16 | (a[at + 2] & 0xffL) << 8 | a[at + 3] & 0xffL;
        }

        @Override
        public void close() throws IOException {
            socket.close();
            encoder.finishAndReleaseAll();
        }
    }

    static Http2Headers request(String method, String path) {
        return new DefaultHttp2Headers().method(method).path(path).scheme("http").authority("app.example");
    }

    /** A well-behaved client on the same proxy is served. */
    private void othersAreStillServed() throws Exception {
        try (H2TestClient c = H2TestClient.connect(clientLoops, bed.port(), null)) {
            var r = c.get(Http2FrontendTest.get("/x")).get(20, TimeUnit.SECONDS);
            assertThat(r.status()).isEqualTo(200);
            assertThat(r.text()).isEqualTo("default");
        }
    }

    @Test
    void rapidResetEndsTheConnection() throws Exception {
        try (Raw raw = new Raw(bed.port(), 0)) {
            // CVE-2023-44487: open and cancel at once, many times over.
            int stream = 1;
            for (int i = 0; i < Http2Frontend.MAX_RST_PER_WINDOW + 50; i++, stream += 2) {
                raw.headers(stream, request("GET", "/x"), true);
                raw.writer.writeRstStream(raw.ctx(), stream, Http2Error.CANCEL.code(), raw.ctx().newPromise());
            }
            try {
                raw.send();
            } catch (IOException closedMeanwhile) {
                // the proxy may close before it read everything
            }
            assertThat(raw.readUntilClosed()).isIn(LOST, Http2Error.ENHANCE_YOUR_CALM.code());
        }
        othersAreStillServed();
    }

    @Test
    void continuationFloodEndsTheConnection() throws Exception {
        try (Raw raw = new Raw(bed.port(), 0)) {
            // One header block, far over the header list limit, cut into many CONTINUATION frames.
            Http2Headers h = request("GET", "/x");
            for (int i = 0; i < 200; i++) {
                h.add("x-flood-" + i, "v".repeat(1000));
            }
            ByteBuf block = Unpooled.buffer();
            new DefaultHttp2HeadersEncoder(Http2HeadersEncoder.NEVER_SENSITIVE, true).encodeHeaders(1, h, block);
            boolean first = true;
            while (block.isReadable()) {
                ByteBuf part = block.readRetainedSlice(Math.min(1000, block.readableBytes()));
                boolean end = !block.isReadable();
                Http2Flags flags = new Http2Flags().endOfHeaders(end).endOfStream(first);
                raw.writer.writeFrame(raw.ctx(), first ? Http2FrameTypes.HEADERS : Http2FrameTypes.CONTINUATION, 1,
                        flags, part, raw.ctx().newPromise());
                first = false;
            }
            block.release();
            try {
                raw.send();
            } catch (IOException closedMeanwhile) {
                // expected once the limit is hit
            }
            assertThat(raw.readUntilClosed()).isIn(LOST, Http2Error.PROTOCOL_ERROR.code(),
                    Http2Error.ENHANCE_YOUR_CALM.code());
        }
        othersAreStillServed();
    }

    @Test
    void aHeaderListOverTheLimitIsRefusedAndFarOverItEndsTheConnection() throws Exception {
        try (Raw raw = new Raw(bed.port(), 0)) {
            Http2Headers h = request("GET", "/x");
            h.add("x-big", "v".repeat(Http2Frontend.MAX_HEADER_LIST_SIZE * 3));
            raw.headers(1, h, true);
            try {
                raw.send();
            } catch (IOException closedMeanwhile) {
                // expected
            }
            assertThat(raw.readUntilClosed()).isNotEqualTo(Http2Error.NO_ERROR.code());
        }
        othersAreStillServed();
    }

    @Test
    void pingFloodFromAClientThatDoesNotReadEndsTheConnection() throws Exception {
        flood(false);
    }

    @Test
    void settingsFloodFromAClientThatDoesNotReadEndsTheConnection() throws Exception {
        flood(true);
    }

    private void flood(boolean settings) throws Exception {
        try (Raw raw = new Raw(bed.port(), 4096)) {
            boolean closed = false;
            // Each PING (or SETTINGS) asks for an answer the client never reads: once the proxy's
            // socket is full, answers queue up to the limit, and then the connection ends.
            for (int round = 0; round < 2000 && !closed; round++) {
                for (int i = 0; i < 1000; i++) {
                    if (settings) {
                        raw.writer.writeSettings(raw.ctx(), new Http2Settings(), raw.ctx().newPromise());
                    } else {
                        raw.writer.writePing(raw.ctx(), false, i, raw.ctx().newPromise());
                    }
                }
                try {
                    raw.send();
                } catch (IOException e) {
                    closed = true;
                }
            }
            if (!closed) {
                raw.readUntilClosed(); // the close may come after our last write
            }
            assertThat(raw.socket.isClosed() || closed || raw.socket.getInputStream().read() < 0).isTrue();
        }
        othersAreStillServed();
    }

    @Test
    void emptyDataFloodEndsTheConnection() throws Exception {
        try (Raw raw = new Raw(bed.port(), 0)) {
            raw.headers(1, request("POST", "/upload"), false);
            for (int i = 0; i < 50; i++) {
                raw.writer.writeData(raw.ctx(), 1, Unpooled.EMPTY_BUFFER, 0, false, raw.ctx().newPromise());
            }
            try {
                raw.send();
            } catch (IOException closedMeanwhile) {
                // expected
            }
            assertThat(raw.readUntilClosed()).isIn(LOST, Http2Error.ENHANCE_YOUR_CALM.code());
        }
        othersAreStillServed();
    }

    @Test
    void streamsOverTheConcurrencyLimitAreRefused() throws Exception {
        try (Raw raw = new Raw(bed.port(), 0)) {
            int n = Http2Frontend.MAX_CONCURRENT_STREAMS + 1;
            // Uploads that never end: every stream stays open.
            for (int i = 0; i < n; i++) {
                raw.headers(1 + 2 * i, request("POST", "/upload"), false);
            }
            raw.send();
            // The last one gets RST_STREAM REFUSED_STREAM (RFC 9113 section 5.1.2).
            InputStream in = raw.socket.getInputStream();
            List<long[]> resets = new ArrayList<>();
            ByteArrayOutputStream seen = new ByteArrayOutputStream();
            byte[] buf = new byte[4096];
            while (resets.isEmpty()) {
                int k = in.read(buf);
                assertThat(k).isPositive();
                seen.write(buf, 0, k);
                byte[] a = seen.toByteArray();
                int i = 0;
                while (i + 9 <= a.length) {
                    int len = (a[i] & 0xff) << 16 | (a[i + 1] & 0xff) << 8 | a[i + 2] & 0xff;
                    if (i + 9 + len > a.length) {
                        break;
                    }
                    if (a[i + 3] == Http2FrameTypes.RST_STREAM) {
                        resets.add(new long[] {Raw.readInt(a, i + 5) & 0x7fffffffL, Raw.readInt(a, i + 9)});
                    }
                    i += 9 + len;
                }
            }
            assertThat(resets.get(0)[0]).isEqualTo(1 + 2L * (n - 1));
            assertThat(resets.get(0)[1]).isEqualTo(Http2Error.REFUSED_STREAM.code());
        }
        othersAreStillServed();
    }

    @Test
    void aConnectionThatOnlySendsThePrefaceIsClosed() throws Exception {
        bed.close();
        bed = new ProxyBed(tmp, c -> c.withPorts(0, 0, -1, -1)
                .withFrontend(java.time.Duration.ofMillis(300), java.time.Duration.ofMillis(300), false));
        bed.origin("default", new H2TestApp("default"));
        try (Raw raw = new Raw(bed.port(), 0)) {
            assertThat(raw.readUntilClosed()).isEqualTo(Http2Error.NO_ERROR.code());
        }
        // A stream whose upload stalls is reset after the idle timeout; the connection then
        // idles out too.
        try (Raw raw = new Raw(bed.port(), 0)) {
            raw.headers(1, request("POST", "/upload"), false);
            raw.send();
            assertThat(raw.readUntilClosed()).isEqualTo(Http2Error.NO_ERROR.code());
        }
        othersAreStillServed();
    }

    static String method(HttpMethod m) {
        return m.name();
    }
}
