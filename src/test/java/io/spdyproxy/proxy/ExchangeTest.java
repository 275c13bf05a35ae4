package io.spdyproxy.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.spdyproxy.tunnel.StreamError;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The per-request state machine ({@link Exchange}) against a scripted tunnel ({@link FakeTunnel}):
 * routing, retries, the origin's framing checked, error answers, aborts. No network.
 */
class ExchangeTest {
    private static final String GET = "GET /f HTTP/1.1\r\nHost: h\r\n\r\n";

    private final FrontendChannel client = new FrontendChannel();
    private FakeTunnel tunnel;
    private FakeTunnel other;

    @AfterEach
    void tearDown() {
        client.close();
        if (tunnel != null) {
            tunnel.release();
        }
        if (other != null) {
            other.release();
        }
    }

    @Test
    void noTunnelIs503AndTheConnectionStays() {
        client.send(GET);
        String out = client.received();
        assertThat(out).startsWith("HTTP/1.1 503 Service Unavailable\r\n")
                .contains("no tunnel connected for 'default'").doesNotContain("connection: close");
        assertThat(client.channel.isOpen()).isTrue();
        tunnel = client.tunnel();
        client.send(GET);
        assertThat(tunnel.opened).hasSize(1);
    }

    @Test
    void relaysAHeadAndBodyAndGrantsWindowOnceWritten() {
        tunnel = client.tunnel();
        client.send(GET);
        FakeTunnel.Opened o = tunnel.last().accept();
        assertThat(o.endOfStream).isTrue();
        assertThat(o.head.request().headers().get("x-forwarded-proto")).isEqualTo("http");
        o.head("200", false, "content-length", "5", "content-type", "text/plain");
        o.data("hello", true);
        String out = client.received();
        assertThat(out).startsWith("HTTP/1.1 200 OK\r\n").contains("content-length: 5").endsWith("\r\n\r\nhello");
        assertThat(o.stream.consumed).isEqualTo(5);
        assertThat(client.channel.isOpen()).isTrue();
    }

    @Test
    void anInvalidHeadIs502AndResetsTheStream() {
        tunnel = client.tunnel();
        client.send(GET);
        FakeTunnel.Opened o = tunnel.last().accept();
        o.head("twohundred", false);
        assertThat(client.received()).startsWith("HTTP/1.1 502 Bad Gateway\r\n")
                .contains("origin sent an invalid response");
        assertThat(o.stream.reset).isEqualTo(StreamError.PROTOCOL_ERROR);
    }

    @Test
    void aDeclaredBodyThatNeverCameIs502() {
        tunnel = client.tunnel();
        client.send(GET);
        tunnel.last().accept().head("200", true, "content-length", "3");
        assertThat(client.received()).startsWith("HTTP/1.1 502 Bad Gateway\r\n")
                .contains("origin declared a body of 3 bytes and sent none");
    }

    @Test
    void aRefusedStreamIsRetriedOnAnotherTunnel() {
        tunnel = client.tunnel();
        other = client.tunnel();
        client.send(GET);
        FakeTunnel first = tunnel.opened.isEmpty() ? other : tunnel;
        FakeTunnel second = first == tunnel ? other : tunnel;
        first.last().refuse();
        assertThat(second.opened).hasSize(1);
        second.last().accept().head("204", true);
        assertThat(client.received()).startsWith("HTTP/1.1 204 No Content\r\n");
    }

    @Test
    void aStreamRefusedAfterOpeningIsRetriedToo() {
        tunnel = client.tunnel();
        other = client.tunnel();
        client.send(GET);
        FakeTunnel first = tunnel.opened.isEmpty() ? other : tunnel;
        FakeTunnel second = first == tunnel ? other : tunnel;
        first.last().accept().closed(StreamError.REFUSED, true);
        second.last().accept().head("200", true);
        assertThat(client.received()).startsWith("HTTP/1.1 200 OK\r\n").contains("content-length: 0");
    }

    @Test
    void noTunnelLeftToRetryOnIs503() {
        tunnel = client.tunnel();
        client.send(GET);
        tunnel.last().refuse();
        assertThat(client.received()).startsWith("HTTP/1.1 503 ")
                .contains("no tunnel could take the request for 'default'");
    }

    @Test
    void aStreamFailingBeforeItsHeadIs502() {
        tunnel = client.tunnel();
        client.send(GET);
        tunnel.last().accept().closed(StreamError.INTERNAL_ERROR, false);
        assertThat(client.received()).startsWith("HTTP/1.1 502 ").contains("origin failed");
    }

    @Test
    void aBodyLongerThanItsContentLengthAbortsTheConnection() {
        tunnel = client.tunnel();
        client.send(GET);
        FakeTunnel.Opened o = tunnel.last().accept();
        o.head("200", false, "content-length", "4");
        o.data("12345678", false);
        assertThat(client.received()).startsWith("HTTP/1.1 200 OK\r\n").doesNotContain("1234");
        assertThat(client.channel.isOpen()).isFalse();
        assertThat(o.stream.reset).isEqualTo(StreamError.PROTOCOL_ERROR);
        assertThat(o.stream.consumed).isEqualTo(8);
    }

    @Test
    void aBodyShorterThanItsContentLengthAbortsTheConnection() {
        tunnel = client.tunnel();
        client.send(GET);
        FakeTunnel.Opened o = tunnel.last().accept();
        o.head("200", false, "content-length", "10");
        o.data("12345", true);
        String out = client.received();
        assertThat(out).endsWith("12345");
        assertThat(client.channel.isOpen()).isFalse();
    }

    @Test
    void aStreamFailingMidBodyAbortsTheConnection() {
        tunnel = client.tunnel();
        client.send(GET);
        FakeTunnel.Opened o = tunnel.last().accept();
        o.head("200", false);
        o.data("part", false);
        o.closed(StreamError.INTERNAL_ERROR, false);
        String out = client.received();
        assertThat(out).contains("transfer-encoding: chunked").contains("4\r\npart\r\n").doesNotContain("0\r\n\r\n");
        assertThat(client.channel.isOpen()).isFalse();
    }

    @Test
    void anAnswerBeforeTheBodyEndedClosesAndCancelsTheUpload() {
        tunnel = client.tunnel();
        client.send("POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\n0123456789");
        FakeTunnel.Opened o = tunnel.last().accept();
        assertThat(o.endOfStream).isFalse();
        assertThat(o.stream.sentText()).isEqualTo("0123456789");
        o.head("413", true);
        String out = client.received();
        assertThat(out).startsWith("HTTP/1.1 413 Request Entity Too Large\r\n").contains("connection: close");
        assertThat(o.stream.reset).isEqualTo(StreamError.CANCEL);
        assertThat(client.channel.isOpen()).isFalse();
    }

    @Test
    void theRequestBodyIsReadOnlyWhileTheStreamTakesIt() {
        tunnel = client.tunnel();
        client.send("POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n");
        FakeTunnel.Opened o = tunnel.last();
        o.stream.writable = false;
        int before = client.reads();
        o.accept();
        assertThat(client.reads()).isEqualTo(before); // the stream is full: no more reading
        o.stream.writable = true;
        o.handler.onWritabilityChanged(o.stream);
        assertThat(client.reads()).isEqualTo(before + 1);
        client.send("0123456789");
        assertThat(o.stream.sentText()).isEqualTo("0123456789");
        assertThat(o.stream.sentLast).isTrue();
    }

    @Test
    void trailersEndAChunkedBody() {
        tunnel = client.tunnel();
        client.send(GET);
        FakeTunnel.Opened o = tunnel.last().accept();
        o.head("200", false);
        o.data("abc", false);
        o.trailers(true, "x-checksum", "42", "content-length", "9");
        String out = client.received();
        assertThat(out).contains("transfer-encoding: chunked").endsWith("3\r\nabc\r\n0\r\nx-checksum: 42\r\n\r\n");
        assertThat(client.channel.isOpen()).isTrue();
    }

    @Test
    void trailersBeforeTheHeadAbort() {
        tunnel = client.tunnel();
        client.send(GET);
        FakeTunnel.Opened o = tunnel.last().accept();
        o.trailers(true, "x-a", "b");
        assertThat(client.channel.isOpen()).isFalse();
        assertThat(o.stream.reset).isEqualTo(StreamError.PROTOCOL_ERROR);
    }

    @Test
    void aHeadRequestGetsNoBodyEvenWhenTheOriginSendsOne() {
        tunnel = client.tunnel();
        client.send("HEAD /f HTTP/1.1\r\nHost: h\r\n\r\n");
        FakeTunnel.Opened o = tunnel.last().accept();
        o.head("200", false, "content-length", "5");
        o.data("hello", true);
        String out = client.received();
        assertThat(out).startsWith("HTTP/1.1 200 OK\r\n").endsWith("\r\n\r\n");
        assertThat(o.stream.consumed).isEqualTo(5);
    }

    @Test
    void anUpgradeToASessionWithoutUpgradesIsAPlainBodilessRequest() {
        tunnel = client.tunnel(); // a session that did not advertise upgrades (a legacy origin's)
        client.send("GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
        // The head says what the client asked; the session's mapping drops Upgrade (SpdyHeads).
        assertThat(tunnel.last().head.upgrade()).isEqualTo("websocket");
        assertThat(tunnel.last().endOfStream).as("no stream left open for bytes that cannot come").isTrue();
    }

    @Test
    void anUpgradeWithABodyIsNoUpgrade() {
        tunnel = client.tunnel();
        client.send("POST /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                + "Content-Length: 2\r\n\r\nhi");
        assertThat(tunnel.last().head.request().headers().contains("upgrade")).isFalse();
    }

    @Test
    void theClientLeavingResetsTheStream() {
        tunnel = client.tunnel();
        client.send(GET);
        FakeTunnel.Opened o = tunnel.last().accept();
        client.channel.close();
        assertThat(o.stream.reset).isEqualTo(StreamError.CANCEL);
        o.data("late", true); // released and consumed, not written
        assertThat(o.stream.consumed).isEqualTo(4);
    }

    @Test
    void anOriginThatDoesNotAnswerIs504() {
        tunnel = client.tunnel();
        client.channel.freezeTime();
        client.send(GET);
        FakeTunnel.Opened o = tunnel.last().accept();
        client.channel.advanceTimeBy(61, java.util.concurrent.TimeUnit.SECONDS);
        assertThat(client.received()).startsWith("HTTP/1.1 504 Gateway Timeout\r\n")
                .contains("origin did not answer within 60 s");
        assertThat(o.stream.reset).isEqualTo(StreamError.CANCEL);
    }
}
