package io.spdyproxy.proxy;

import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.Unpooled;
import io.netty.handler.codec.spdy.DefaultSpdyHeaders;
import io.netty.handler.codec.spdy.SpdyHeaders;
import io.spdyproxy.proxy.ProxyFeaturesTest.Raw;
import io.spdyproxy.proxy.ProxyFeaturesTest.Reply;
import io.spdyproxy.tunnel.TunnelExchange;
import io.spdyproxy.testing.LeakCheckExtension;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The proxy owns HTTP/1.1 framing towards clients: an origin that lies about its body length or
 * sends headers that would split the client's byte stream can never place bytes of its choosing
 * where the client expects the next response. Origins here write raw header blocks (SPDY, or
 * HTTP/2 in the subclass; no validation on their side) through a real tunnel.
 */
@Timeout(30)
@ExtendWith(LeakCheckExtension.class)
class OriginFramingTest {
    private static final String FORGED = "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nforged";

    @TempDir
    Path tmp;
    private ProxyBed bed;

    @BeforeEach
    void setUp() throws Exception {
        bed = new ProxyBed(tmp.resolve("p"), this::configure, tunnelProtocol());
    }

    /** The proxy's configuration for every test here; a subclass runs them all another way. */
    ProxyConfig configure(ProxyConfig c) {
        return c;
    }

    /** The tunnel protocol the origins ask for; a subclass runs every test over HTTP/2. */
    io.spdyproxy.tunnel.handshake.TunnelProtocol.Kind tunnelProtocol() {
        return io.spdyproxy.tunnel.handshake.TunnelProtocol.Kind.SPDY;
    }

    @AfterEach
    void tearDown() throws Exception {
        bed.close();
    }

    /** An origin answering /lie with {@code reply} and everything else with a small honest 200. */
    private void origin(Consumer<TunnelExchange> reply) throws Exception {
        bed.origin("default", ex -> {
            if (ex.request().uri().startsWith("/lie")) {
                reply.accept(ex);
            } else {
                ex.respond(io.netty.handler.codec.http.HttpResponseStatus.OK, "text/plain", "honest");
            }
        });
    }

    private static SpdyHeaders head(String status, String... nameValues) {
        SpdyHeaders h = new DefaultSpdyHeaders(false);
        h.set(":status", status);
        h.set(":version", "HTTP/1.1");
        for (int i = 0; i < nameValues.length; i += 2) {
            h.add(nameValues[i], nameValues[i + 1]);
        }
        return h;
    }

    private void send(TunnelExchange ex, SpdyHeaders h, String body) {
        sendHeaders(ex, h, false);
        ex.stream().sendData(Unpooled.copiedBuffer(body, ISO_8859_1), true);
    }

    /**
     * Writes {@code h} as the tunnel's wire has it, unvalidated: a SPDY header block, or over
     * HTTP/2 the same fields with {@code :status} as a bare code when it is a plain "200 OK"
     * (HTTP/2 has no reason phrase) and everything else, the broken ones too, as given.
     */
    private void sendHeaders(TunnelExchange ex, SpdyHeaders h, boolean endOfStream) {
        if (tunnelProtocol() == io.spdyproxy.tunnel.handshake.TunnelProtocol.Kind.SPDY) {
            io.spdyproxy.tunnel.spdy.SpdyTunnelSession.unwrap(ex.stream()).sendHeaders(h, endOfStream);
            return;
        }
        io.netty.handler.codec.http2.Http2Headers out = new io.netty.handler.codec.http2.DefaultHttp2Headers(false);
        for (java.util.Map.Entry<CharSequence, CharSequence> e : h) {
            String name = e.getKey().toString();
            String value = e.getValue().toString();
            if (name.equals(":version")) {
                continue;
            }
            if (name.equals(":status") && value.matches("\\d{3} [A-Za-z ]+")) {
                value = value.substring(0, 3);
            }
            out.add(name, value);
        }
        io.spdyproxy.tunnel.h2.H2TunnelSession.sendRawHeaders(ex.stream(), out, endOfStream);
    }

    /** Reads until the proxy closes the connection; everything the client got. */
    private static String readAll(Raw raw) throws IOException {
        InputStream in = raw.in;
        return new String(in.readAllBytes(), ISO_8859_1);
    }

    @Test
    void bodyLongerThanItsContentLengthNeverReachesTheNextRequest() throws Exception {
        origin(ex -> send(ex, head("200 OK", "content-length", "5"), "hello" + FORGED));
        try (Raw raw = new Raw(bed.port())) {
            // Two pipelined requests: the forged bytes must not answer the second.
            raw.send("GET /lie HTTP/1.1\r\nHost: a\r\n\r\nGET /next HTTP/1.1\r\nHost: a\r\n\r\n");
            String all = readAll(raw);
            assertThat(all).doesNotContain("forged");
            assertThat(all).doesNotContain("honest"); // the connection is not reused
        }
    }

    @Test
    void bodyShorterThanItsContentLengthAbortsTheConnectionInsteadOfGluingTheNextResponse() throws Exception {
        origin(ex -> send(ex, head("200 OK", "content-length", "100"), "short"));
        try (Raw raw = new Raw(bed.port())) {
            raw.send("GET /lie HTTP/1.1\r\nHost: a\r\n\r\nGET /next HTTP/1.1\r\nHost: a\r\n\r\n");
            String all = readAll(raw);
            assertThat(all).startsWith("HTTP/1.1 200");
            assertThat(all).doesNotContain("honest");
            assertThat(all.substring(all.indexOf("\r\n\r\n") + 4)).as("less than declared, then EOF")
                    .hasSizeLessThan(100);
        }
    }

    @Test
    void declaredBodyThatNeverComesGets502() throws Exception {
        origin(ex -> sendHeaders(ex, head("200 OK", "content-length", "10"), true));
        assertThat(get("/lie").status()).isEqualTo(502);
    }

    @Test
    void malformedOrConflictingHeadersGet502AndTheConnectionStaysUsable() throws Exception {
        List<SpdyHeaders> bad = List.of(
                head("200 OK", "content-length", "5", "content-length", "6"),
                head("200 OK", "content-length", "5, 6"),
                head("200 OK", "content-length", "+5"),
                head("200 OK", "content-length", "0x5"),
                head("200 OK", "content-length", "-1"),
                head("200 OK", "x-evil", "a\r\nSet-Cookie: stolen=1"),
                head("200 OK", "x-evil", "a\nb"),
                head("200 OK", "bad name", "x"),
                head("200 OK\r\nX-Injected: 1"),
                head("2000 OK"),
                head("101 Switching Protocols"),
                head("abc"));
        for (SpdyHeaders h : bad) {
            ProxyBed b = bed;
            try (ProxyBed fresh = new ProxyBed(tmp.resolve("p" + System.nanoTime()), this::configure, tunnelProtocol())) {
                bed = fresh;
                origin(ex -> send(ex, h, "hello"));
                try (Raw raw = new Raw(bed.port())) {
                    raw.send("GET /lie HTTP/1.1\r\nHost: a\r\n\r\n");
                    Reply r = raw.readReply(false);
                    assertThat(r.status()).as("%s", h).isEqualTo(502);
                    assertThat(r.headers().keySet()).as("%s", h).doesNotContain("x-injected", "set-cookie");
                    raw.send("GET /next HTTP/1.1\r\nHost: a\r\n\r\n");
                    assertThat(raw.readReply(false).text()).as("%s", h).isEqualTo("honest");
                }
            } finally {
                bed = b;
            }
        }
    }

    @Test
    void repeatedEqualContentLengthsAreOneAndTheBodyIsCounted() throws Exception {
        origin(ex -> send(ex, head("200 OK", "content-length", "5", "content-length", "5"), "hello"));
        try (Raw raw = new Raw(bed.port())) {
            raw.send("GET /lie HTTP/1.1\r\nHost: a\r\n\r\n");
            Reply r = raw.readReply(false);
            assertThat(r.status()).isEqualTo(200);
            assertThat(r.header("content-length")).isEqualTo("5");
            assertThat(r.text()).isEqualTo("hello");
            raw.send("GET /next HTTP/1.1\r\nHost: a\r\n\r\n");
            assertThat(raw.readReply(false).text()).isEqualTo("honest");
        }
    }

    @Test
    void transferEncodingFromTheOriginIsIgnoredAndTheProxyFramesTheBody() throws Exception {
        origin(ex -> send(ex, head("200 OK", "transfer-encoding", "chunked"), "0\r\n\r\n" + FORGED));
        try (Raw raw = new Raw(bed.port())) {
            raw.send("GET /lie HTTP/1.1\r\nHost: a\r\n\r\n");
            Reply r = raw.readReply(false);
            assertThat(r.complete()).isTrue();
            if (tunnelProtocol() == io.spdyproxy.tunnel.handshake.TunnelProtocol.Kind.H2) {
                // RFC 9113 section 8.2.2: over HTTP/2 the field makes the response malformed; the
                // proxy's codec refuses it before any byte of it reaches the client.
                assertThat(r.status()).isEqualTo(502);
                assertThat(new String(r.body(), ISO_8859_1)).doesNotContain("forged");
            } else {
                assertThat(new String(r.body(), ISO_8859_1)).as("the bytes as data, framed by the proxy")
                        .isEqualTo("0\r\n\r\n" + FORGED);
            }
            raw.send("GET /next HTTP/1.1\r\nHost: a\r\n\r\n");
            assertThat(raw.readReply(false).text()).isEqualTo("honest");
        }
    }

    @Test
    void invalidTrailersAbortTheConnection() throws Exception {
        origin(ex -> {
            sendHeaders(ex, head("200 OK"), false);
            ex.stream().sendData(Unpooled.copiedBuffer("part", ISO_8859_1), false);
            SpdyHeaders t = new DefaultSpdyHeaders(false);
            t.set("x-trailer", "a\r\n\r\n" + FORGED);
            sendHeaders(ex, t, true);
        });
        try (Raw raw = new Raw(bed.port())) {
            raw.send("GET /lie HTTP/1.1\r\nHost: a\r\n\r\nGET /next HTTP/1.1\r\nHost: a\r\n\r\n");
            String all = readAll(raw);
            assertThat(all).startsWith("HTTP/1.1 200").doesNotContain("forged").doesNotContain("honest");
            assertThat(all).as("the chunked body never ends: the client sees it cut").doesNotContain("\r\n0\r\n");
        }
    }

    @Test
    void notModifiedCarriesNoContentTypeFromTheOrigin() throws Exception {
        // The original origin labels every reply text/html, 304s included (PROTOCOL.md).
        origin(ex -> send(ex, head("304 Not Modified", "content-type", "text/html; charset=utf-8",
                "etag", "\"x\""), ""));
        try (Raw raw = new Raw(bed.port())) {
            raw.send("GET /lie HTTP/1.1\r\nHost: a\r\n\r\n");
            Reply r = raw.readReply(false);
            assertThat(r.status()).isEqualTo(304);
            assertThat(r.headers()).doesNotContainKey("content-type").containsEntry("etag", "\"x\"");
        }
    }

    private Reply get(String path) throws IOException {
        try (Raw raw = new Raw(bed.port())) {
            raw.send("GET " + path + " HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
            return raw.readReply(false);
        }
    }

}
