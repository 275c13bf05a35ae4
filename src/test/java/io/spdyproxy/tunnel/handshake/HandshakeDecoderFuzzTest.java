package io.spdyproxy.tunnel.handshake;

import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.params.provider.Arguments.arguments;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.DecoderException;
import io.spdyproxy.testing.TrackingAllocator;
import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Coverage-guided fuzzing of the tunnel handshake decoder ({@link HandshakeDecoder}), which reads
 * one HTTP/1.1 message and must leave every byte after it (the first SPDY frames) for the next
 * handler. For any bytes, cut into reads of any size:
 * <ul>
 *   <li>it either waits for more, decodes exactly one message, or refuses with its own
 *       {@link DecoderException} (never an unexpected exception wrapped in one), and once it
 *       refused it decodes nothing more, not even from what is left when the connection closes;
 *   <li>a message is what the bytes say: its start line is the first line, its body the
 *       {@code Content-Length} bytes after the blank line (at most {@link HandshakeDecoder#MAX_BODY}),
 *       its head at most {@link HandshakeDecoder#MAX_HEAD} bytes;
 *   <li>the bytes after the message reach the next handler unchanged, in order;
 *   <li>the outcome does not depend on how the bytes were cut into reads;
 *   <li>every buffer is released.
 * </ul>
 *
 * <p>Input layout: byte 0 picks the read size (low 6 bits, squared; 0: one read), the rest is the
 * wire. Timeout: see {@code SpdySessionFuzzTest}.
 */
@Timeout(value = 1, unit = TimeUnit.DAYS)
class HandshakeDecoderFuzzTest {

    @MethodSource("seeds")
    @FuzzTest(maxDuration = "10s")
    void handshakeBytes(byte[] input) {
        int chunk = input.length > 0 ? input[0] & 0x3F : 0;
        byte[] wire = input.length > 0 ? Arrays.copyOfRange(input, 1, input.length) : new byte[0];
        Outcome whole = decode(wire, Math.max(1, wire.length));
        Outcome cut = decode(wire, chunk == 0 ? Math.max(1, wire.length) : chunk * chunk);
        if (!whole.equals(cut)) {
            throw new AssertionError("the outcome depends on how the bytes were cut:\n  one read: " + whole
                    + "\n  reads of " + (chunk * chunk) + ": " + cut);
        }
        whole.check(wire);
    }

    /** What the decoder made of the bytes: a message and the bytes after it, an error, or nothing yet. */
    private record Outcome(String startLine, List<String> headers, String body, byte[] rest, String error) {
        @Override
        public boolean equals(Object o) {
            return o instanceof Outcome x && Objects.equals(startLine, x.startLine) && Objects.equals(headers, x.headers)
                    && Objects.equals(body, x.body) && Arrays.equals(rest, x.rest) && Objects.equals(error, x.error);
        }

        @Override
        public int hashCode() {
            return Objects.hash(startLine, headers, body, Arrays.hashCode(rest), error);
        }

        @Override
        public String toString() {
            return error != null ? "error " + error : startLine == null ? "waiting"
                    : "message " + startLine + " " + headers + " body " + body.length() + " chars, then "
                    + rest.length + " bytes";
        }

        /** Checks the outcome against the bytes themselves. */
        void check(byte[] wire) {
            int headEnd = indexOf(wire, new byte[] {'\r', '\n', '\r', '\n'});
            int headLength = headEnd < 0 ? -1 : headEnd + 4;
            if (startLine != null) {
                if (headLength < 0 || headLength > HandshakeDecoder.MAX_HEAD) {
                    throw new AssertionError("a message from a head of " + headLength + " bytes");
                }
                int firstLine = indexOf(wire, new byte[] {'\r', '\n'});
                String expectedStart = new String(wire, 0, firstLine, ISO_8859_1);
                if (!startLine.equals(expectedStart)) {
                    throw new AssertionError("start line '" + startLine + "', the bytes say '" + expectedStart + "'");
                }
                int bodyBytes = wire.length - headLength - rest.length;
                if (bodyBytes < 0 || bodyBytes > HandshakeDecoder.MAX_BODY) {
                    throw new AssertionError("a body of " + bodyBytes + " bytes");
                }
                String expectedBody = new String(wire, headLength, bodyBytes, UTF_8);
                if (!body.equals(expectedBody)) {
                    throw new AssertionError("body '" + body + "', the bytes say '" + expectedBody + "'");
                }
                String declared = declaredLength(headers);
                if (bodyBytes != (declared == null ? 0 : Integer.parseInt(declared.trim()))) {
                    throw new AssertionError("a body of " + bodyBytes + " bytes for Content-Length " + declared);
                }
                for (String h : headers) {
                    if (h.indexOf('\r') >= 0 || h.indexOf('\n') >= 0) {
                        throw new AssertionError("CR or LF in a header: " + h);
                    }
                }
            } else if (error == null) {
                // Still waiting: only while the head is incomplete and short, or the body incomplete.
                if (headLength < 0 && wire.length >= HandshakeDecoder.MAX_HEAD) {
                    throw new AssertionError("still waiting after " + wire.length + " bytes without a blank line");
                }
                if (headLength > HandshakeDecoder.MAX_HEAD) {
                    throw new AssertionError("waiting for a head of " + headLength + " bytes");
                }
                if (headLength >= 0 && wire.length - headLength > HandshakeDecoder.MAX_BODY) {
                    throw new AssertionError("waiting with " + (wire.length - headLength) + " bytes after the head");
                }
            } else if (headLength < 0 && wire.length < HandshakeDecoder.MAX_HEAD) {
                throw new AssertionError("refused before the head was complete: " + error);
            }
        }
    }

    private static String declaredLength(List<String> headers) {
        for (String h : headers) {
            int colon = h.indexOf(": ");
            if (h.substring(0, colon).equalsIgnoreCase("Content-Length")) {
                return h.substring(colon + 2);
            }
        }
        return null;
    }

    private static Outcome decode(byte[] wire, int chunk) {
        TrackingAllocator alloc = new TrackingAllocator();
        EmbeddedChannel channel = new EmbeddedChannel(new HandshakeDecoder());
        channel.config().setAllocator(alloc);
        List<ByteBuf> fed = new ArrayList<>();
        ByteArrayOutputStream rest = new ByteArrayOutputStream();
        HandshakeMessage message = null;
        String error = null;
        try {
            for (int off = 0; off < wire.length; off += chunk) {
                ByteBuf b = Unpooled.wrappedBuffer(wire, off, Math.min(chunk, wire.length - off));
                fed.add(b);
                try {
                    channel.writeInbound(b);
                } catch (DecoderException e) {
                    if (e.getCause() != null) {
                        throw new AssertionError("the decoder failed unexpectedly", e.getCause());
                    }
                    error = e.getMessage();
                    refused(channel);
                    break;
                }
                Object m;
                while ((m = channel.readInbound()) != null) {
                    if (m instanceof HandshakeMessage hm) {
                        if (message != null) {
                            throw new AssertionError("a second message: " + hm);
                        }
                        message = hm;
                        // As the acceptor does: the rest of the bytes go to the next handler.
                        channel.pipeline().remove(HandshakeDecoder.class);
                    } else if (m instanceof ByteBuf bytes) {
                        if (message == null) {
                            bytes.release();
                            throw new AssertionError("bytes passed on before the message");
                        }
                        rest.writeBytes(ByteBufUtil.getBytes(bytes));
                        bytes.release();
                    } else {
                        throw new AssertionError("unexpected " + m);
                    }
                }
            }
        } finally {
            channel.finishAndReleaseAll();
        }
        for (ByteBuf b : fed) {
            if (b.refCnt() != 0) {
                throw new AssertionError("an inbound buffer was not released: refCnt " + b.refCnt());
            }
        }
        alloc.assertAllReleased("the handshake");
        if (message == null) {
            return new Outcome(null, null, null, null, error);
        }
        List<String> headers = new ArrayList<>();
        message.headers().forEach(e -> headers.add(e.getKey() + ": " + e.getValue()));
        return new Outcome(message.startLine(), headers, message.body(), rest.toByteArray(), null);
    }

    /**
     * After a refusal the acceptor closes the connection, and closing hands the decoder what is
     * left of its input one last time: it must neither decode a message from it nor fail again.
     */
    private static void refused(EmbeddedChannel channel) {
        channel.close();
        try {
            channel.checkException();
        } catch (Exception e) {
            throw new AssertionError("the decoder went on decoding after it refused", e);
        }
        Object m;
        while ((m = channel.readInbound()) != null) {
            io.netty.util.ReferenceCountUtil.release(m);
            throw new AssertionError("the decoder went on decoding after it refused: " + m);
        }
    }

    private static int indexOf(byte[] data, byte[] what) {
        outer:
        for (int i = 0; i + what.length <= data.length; i++) {
            for (int j = 0; j < what.length; j++) {
                if (data[i + j] != what[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }

    // ------------------------------------------------------------------------------------------
    // Seeds: the handshakes our peers and the original Go programs send, and a few broken ones.

    static Stream<Arguments> seeds() {
        String spdy = "\u0080\u0003\u0000\u0004\u0000\u0000\u0000\u000c\u0000\u0000\u0000\u0001"
                + "\u0000\u0000\u0000\u0007\u0000\u0001\u0000\u0000"; // a SETTINGS frame follows
        return Stream.of(
                seed("ours", 0, "PUT / HTTP/1.1\r\nHost: proxy.example:1444\r\nUser-Agent: spdy-proxy\r\n"
                        + "Tunnel-Protocol: spdy/3.1\r\nTunnel-Name: web\r\nAuthorization: Bearer s3cret\r\n"
                        + "Content-Length: 12\r\n\r\nHello from C" + spdy),
                seed("legacy origin", 3, "PUT / HTTP/1.1\r\nHost: localhost:1444\r\nUser-Agent: Go-http-client/1.1\r\n"
                        + "Content-Length: 12\r\n\r\nHello from C"),
                seed("proxy answer", 1, "HTTP/1.1 200 Connection Established\r\nTunnel-Protocol: spdy/3.1\r\n"
                        + "Tunnel-Name: web\r\nContent-Length: 12\r\n\r\nHello from P" + spdy),
                seed("legacy answer", 7, "HTTP/1.1 200 Connection Established\r\nContent-Length: 12\r\n\r\nHello from P"),
                seed("refusal", 2, "HTTP/1.1 401 Unauthorized\r\nContent-Type: text/plain\r\nConnection: close\r\n"
                        + "Content-Length: 10\r\n\r\nbad token\n"),
                seed("no body", 5, "PUT / HTTP/1.1\r\nHost: a\r\n\r\n" + spdy),
                seed("bad length", 0, "PUT / HTTP/1.1\r\nContent-Length: 12x\r\n\r\n"),
                seed("no colon", 0, "PUT / HTTP/1.1\r\nHost a\r\n\r\n"),
                seed("body too big", 0, "PUT / HTTP/1.1\r\nContent-Length: 5000\r\n\r\n"),
                seed("bare CR", 4, "PUT / HTTP/1.1\r\r\nHost: a\r\n\r\r\n\r\n"));
    }

    private static Arguments seed(String name, int chunk, String wire) {
        byte[] w = wire.getBytes(ISO_8859_1);
        byte[] b = new byte[w.length + 1];
        b[0] = (byte) chunk;
        System.arraycopy(w, 0, b, 1, w.length);
        return arguments(Named.of(name, b));
    }
}
