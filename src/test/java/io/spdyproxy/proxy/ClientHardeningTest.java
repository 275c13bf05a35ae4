package io.spdyproxy.proxy;

import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static org.assertj.core.api.Assertions.assertThat;

import io.netty.handler.codec.http.HttpResponseStatus;
import io.spdyproxy.proxy.ProxyFeaturesTest.Raw;
import io.spdyproxy.proxy.ProxyFeaturesTest.Reply;
import io.spdyproxy.tunnel.TunnelExchange;
import io.spdyproxy.testing.LeakCheckExtension;
import java.io.IOException;
import java.net.SocketTimeoutException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a hostile or broken client can do to the front end: ambiguous hosts, malformed chunked
 * bodies, silent or trickling connections (slowloris, slow POST), and uploads to an origin that
 * never reads. Each ends with a clear status or a closed connection, never a wedged one, and
 * never a request the app takes as complete when it was not.
 */
@Timeout(30)
@ExtendWith(LeakCheckExtension.class)
class ClientHardeningTest {
    @TempDir
    Path tmp;
    private ProxyBed bed;

    @AfterEach
    void tearDown() throws Exception {
        if (bed != null) {
            bed.close();
        }
    }

    private void start(UnaryOperator<ProxyConfig> tweak) throws Exception {
        bed = new ProxyBed(tmp.resolve("p"), c -> tweak.apply(configure(c)), tunnelProtocol());
    }

    /** The proxy's configuration for every test here; a subclass runs them all another way. */
    ProxyConfig configure(ProxyConfig c) {
        return c;
    }

    /** The tunnel protocol the origins ask for; a subclass runs every test over HTTP/2. */
    io.spdyproxy.tunnel.handshake.TunnelProtocol.Kind tunnelProtocol() {
        return io.spdyproxy.tunnel.handshake.TunnelProtocol.Kind.SPDY;
    }

    /** How the app saw a request body end: "complete:<bytes>" or "aborted:<bytes>". */
    private CompletableFuture<String> bodyOutcome() throws Exception {
        CompletableFuture<String> outcome = new CompletableFuture<>();
        bed.origin("default", ex -> {
            long[] got = {0};
            ex.onClose(cause -> {
                if (cause != null) {
                    outcome.complete("aborted:" + got[0]);
                }
            });
            ex.onBody((chunk, last) -> {
                got[0] += chunk.readableBytes();
                int n = chunk.readableBytes();
                chunk.release();
                ex.consume(n);
                if (last) {
                    outcome.complete("complete:" + got[0]);
                    ex.respond(HttpResponseStatus.OK, "text/plain", "got " + got[0]);
                }
            });
        });
        return outcome;
    }

    @Test
    void ambiguousOrMissingHostsGet400() throws Exception {
        start(c -> c);
        bed.origin("default", ex -> ex.respond(HttpResponseStatus.OK, "text/plain", "ok"));
        for (String head : List.of(
                "GET / HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n",
                "GET / HTTP/1.1\r\n\r\n",
                "GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
                "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
                "CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n")) {
            try (Raw raw = new Raw(bed.port())) {
                raw.send(head);
                Reply r = raw.readReply(false);
                assertThat(r.status()).as(head).isBetween(400, 501).isNotEqualTo(404);
                assertThat(r.header("connection")).as(head).isEqualTo("close");
                assertThat(raw.readToEof()).as(head).isZero();
            }
        }
        try (Raw raw = new Raw(bed.port())) {
            raw.send("GET / HTTP/1.0\r\n\r\n"); // HTTP/1.0 needs no Host
            assertThat(raw.readReply(false).status()).isEqualTo(200);
        }
    }

    @Test
    void aTunnelHandshakeSentToTheClientPortIsRefusedAndItsTokenNeverForwarded() throws Exception {
        start(c -> c);
        CompletableFuture<String> seen = new CompletableFuture<>();
        bed.origin("default", ex -> {
            seen.complete(ex.request().headers().get("authorization"));
            ex.respond(HttpResponseStatus.OK, "text/plain", "ok");
        });
        try (Raw raw = new Raw(bed.port())) {
            raw.send("PUT / HTTP/1.1\r\nHost: a\r\nTunnel-Protocol: spdy/3.1\r\nAuthorization: Bearer secret\r\n"
                    + "Content-Length: 12\r\n\r\nHello from C");
            Reply r = raw.readReply(false);
            assertThat(r.status()).isEqualTo(400);
            assertThat(r.text()).contains("--tunnel-port");
        }
        try (Raw raw = new Raw(bed.port())) {
            raw.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
            assertThat(raw.readReply(false).status()).isEqualTo(200);
        }
        assertThat(seen.get(5, TimeUnit.SECONDS)).as("only the second request reached the origin").isNull();
    }

    @Test
    void aTlsHelloOnThePlainPortGetsAnImmediatePlainAnswer() throws Exception {
        start(c -> c.withFrontend(Duration.ofSeconds(20), Duration.ofSeconds(20), false));
        try (Raw raw = new Raw(bed.port(), 0, Duration.ofSeconds(5))) {
            // The start of a ClientHello record, with no line end anywhere.
            raw.write(new byte[] {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, (byte) 0xfc}, 0, 9);
            Reply r = raw.readReply(false);
            assertThat(r.status()).isEqualTo(400);
            assertThat(r.text()).contains("--https-port").contains("--tunnel-port");
        }
    }

    @Test
    void anAbsoluteFormTargetRoutesByItsOwnAuthority() throws Exception {
        start(c -> c.withDomain("tunnel.test", "default"));
        bed.origin("alpha", ex -> ex.respond(HttpResponseStatus.OK, "text/plain",
                "alpha " + ex.request().uri() + " " + ex.request().headers().get("host")));
        bed.origin("default", ex -> ex.respond(HttpResponseStatus.OK, "text/plain", "default"));
        try (Raw raw = new Raw(bed.port())) {
            // RFC 9112 section 3.2.2: the target's authority wins over Host.
            raw.send("GET http://alpha.tunnel.test/x?y=1 HTTP/1.1\r\nHost: other.example\r\n\r\n");
            assertThat(raw.readReply(false).text()).isEqualTo("alpha /x?y=1 alpha.tunnel.test");
        }
    }

    @Test
    void malformedChunkedBodiesAreAbortedAtTheAppAndAnswered400() throws Exception {
        for (String body : List.of("ffffffffffffffff\r\nhello\r\n0\r\n\r\n", "+5\r\nhello\r\n0\r\n\r\n",
                "5;ext\nx\r\nhello\r\n0\r\n\r\n", "5\r\nhelloXX0\r\n\r\n")) {
            start(c -> c);
            CompletableFuture<String> outcome = bodyOutcome();
            try (Raw raw = new Raw(bed.port())) {
                // The first chunk is good and goes to the app before the bad one arrives.
                raw.send("POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n");
                raw.send(body);
                Reply r = raw.readReply(false);
                assertThat(r.status()).as(body).isEqualTo(400);
                assertThat(r.header("connection")).as(body).isEqualTo("close");
                assertThat(raw.readToEof()).as(body).isZero();
            }
            assertThat(outcome.get(10, TimeUnit.SECONDS)).as(body).startsWith("aborted:");
            bed.close();
            bed = null;
        }
    }

    @Test
    void aSilentConnectionIsClosedAfterTheHeadTimeout() throws Exception {
        start(c -> c.withFrontend(Duration.ofSeconds(20), Duration.ofMillis(300), false));
        try (Raw raw = new Raw(bed.port(), 0, Duration.ofSeconds(10))) {
            long t0 = System.nanoTime();
            assertThat(raw.readToEof()).isZero();
            assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(5));
        }
    }

    @Test
    void aTricklingHeadGets408WhenItsTimeIsUp() throws Exception {
        start(c -> c.withFrontend(Duration.ofSeconds(20), Duration.ofMillis(500), false));
        try (Raw raw = new Raw(bed.port(), 0, Duration.ofMillis(100))) {
            String head = "GET / HTTP/1.1\r\nHost: a\r\nX-Slow: ";
            raw.send(head);
            // Keep trickling a byte whenever the read times out; the deadline does not move.
            String all = "";
            for (int i = 0; i < 100 && !all.contains("\r\n\r\n"); i++) {
                try {
                    int b = raw.in.read();
                    if (b < 0) {
                        break;
                    }
                    all += (char) b;
                } catch (SocketTimeoutException e) {
                    raw.send("x");
                }
            }
            assertThat(all).startsWith("HTTP/1.1 408");
        }
    }

    @Test
    void anIdleKeepAliveConnectionIsClosedAfterTheIdleTimeout() throws Exception {
        start(c -> c.withFrontend(Duration.ofMillis(300), Duration.ofSeconds(20), false));
        bed.origin("default", ex -> ex.respond(HttpResponseStatus.OK, "text/plain", "ok"));
        try (Raw raw = new Raw(bed.port(), 0, Duration.ofSeconds(10))) {
            raw.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
            assertThat(raw.readReply(false).text()).isEqualTo("ok");
            assertThat(raw.readToEof()).as("closed when idle").isZero();
        }
    }

    @Test
    void aStalledBodyIsClosedAndTheAppSeesAnAbortedRequest() throws Exception {
        start(c -> c.withFrontend(Duration.ofMillis(300), Duration.ofSeconds(20), false));
        CompletableFuture<String> outcome = bodyOutcome();
        try (Raw raw = new Raw(bed.port(), 0, Duration.ofSeconds(10))) {
            raw.send("POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nonly some");
            raw.readToEof();
        }
        assertThat(outcome.get(10, TimeUnit.SECONDS)).isEqualTo("aborted:9");
    }

    @Test
    void waitingOnASlowOriginIsNotTheClientsIdleTime() throws Exception {
        start(c -> c.withFrontend(Duration.ofMillis(200), Duration.ofMillis(200), false));
        CompletableFuture<TunnelExchange> held = new CompletableFuture<>();
        bed.origin("default", held::complete);
        try (Raw raw = new Raw(bed.port(), 0, Duration.ofSeconds(10))) {
            raw.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
            TunnelExchange ex = held.get(10, TimeUnit.SECONDS);
            // Several idle and head timeouts pass while the origin thinks; the client waits.
            ex.eventLoop().schedule(() ->
                    ex.respond(HttpResponseStatus.OK, "text/plain", "late"), 1, TimeUnit.SECONDS);
            assertThat(raw.readReply(false).text()).isEqualTo("late");
        }
    }

    @Test
    void anUploadToAnOriginThatNeverReadsGets504AfterTheResponseTimeout() throws Exception {
        start(c -> c.withTimeouts(Duration.ofMillis(500), c.shutdownGrace(), c.pingInterval()));
        bed.origin("default", ex -> { }); // never reads the body, never answers: its window stays shut
        try (Raw raw = new Raw(bed.port(), 0, Duration.ofSeconds(15))) {
            byte[] body = new byte[300_000];
            raw.send("POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: " + body.length + "\r\n\r\n");
            Thread writer = new Thread(() -> {
                try {
                    raw.write(body, 0, body.length);
                } catch (IOException e) {
                    // the proxy closed after its 504: expected
                }
            });
            writer.start();
            Reply r = raw.readReply(false);
            assertThat(r.status()).isEqualTo(504);
            assertThat(new String(r.body(), ISO_8859_1)).contains("did not answer");
            raw.socket.close();
            writer.join(10_000);
        }
    }
}
