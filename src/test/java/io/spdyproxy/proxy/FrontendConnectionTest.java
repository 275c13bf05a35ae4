package io.spdyproxy.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.spdyproxy.tunnel.StreamError;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The HTTP/1 connection ({@link FrontendHandler}) on an {@code EmbeddedChannel}: pipelining order,
 * keep-alive and close, {@code Expect}, limits, half-close. No network.
 */
class FrontendConnectionTest {
    private static final String GET = "GET /f HTTP/1.1\r\nHost: h\r\n\r\n";

    private final FrontendChannel client = new FrontendChannel();
    private FakeTunnel tunnel;

    @AfterEach
    void tearDown() {
        client.close();
        if (tunnel != null) {
            tunnel.release();
        }
    }

    private static int count(String s, String part) {
        int n = 0;
        for (int i = s.indexOf(part); i >= 0; i = s.indexOf(part, i + 1)) {
            n++;
        }
        return n;
    }

    @Test
    void pipelinedRequestsAreAnsweredInOrderOneStreamAtATime() {
        tunnel = client.tunnel();
        client.send("GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\nGET /3 HTTP/1.1\r\nHost: h\r\n\r\n");
        assertThat(tunnel.opened).hasSize(1); // the others wait for the first answer
        assertThat(tunnel.last().head.request().uri()).isEqualTo("/1");
        int readsBefore = client.reads();
        FakeTunnel.Opened first = tunnel.last().accept();
        first.head("200", false, "content-length", "1");
        first.data("1", true);
        assertThat(client.received()).startsWith("HTTP/1.1 200 OK\r\n").endsWith("\r\n\r\n1");
        assertThat(tunnel.opened).hasSize(2);
        assertThat(tunnel.last().head.request().uri()).isEqualTo("/2");
        assertThat(client.reads()).isEqualTo(readsBefore); // nothing read while requests are held
        tunnel.last().accept().head("200", true);
        client.settle(); // the answer is written: the next request goes
        assertThat(tunnel.opened).hasSize(3);
        assertThat(tunnel.last().head.request().uri()).isEqualTo("/3");
        assertThat(client.reads()).isGreaterThan(readsBefore); // none held any more: read ahead
        tunnel.last().accept().head("200", true);
        assertThat(count(client.received(), "HTTP/1.1 200 OK")).isEqualTo(2);
        assertThat(client.channel.isOpen()).isTrue();
    }

    @Test
    void aRefusedRequestClosesTheConnectionAndDropsWhatWasPipelinedAfterIt() {
        client.send("CONNECT h:443 HTTP/1.1\r\nHost: h\r\n\r\n" + GET);
        String out = client.received();
        assertThat(out).startsWith("HTTP/1.1 405 Method Not Allowed\r\n").contains("connection: close");
        assertThat(count(out, "HTTP/1.1")).isEqualTo(1);
        assertThat(client.channel.isOpen()).isFalse();
    }

    @Test
    void http10WithoutKeepAliveClosesAfterTheAnswer() {
        tunnel = client.tunnel();
        client.send("GET /f HTTP/1.0\r\n\r\n");
        FakeTunnel.Opened o = tunnel.last().accept();
        o.head("200", false);
        o.data("body", true);
        String out = client.received();
        assertThat(out).startsWith("HTTP/1.1 200 OK\r\n").doesNotContain("chunked").endsWith("body");
        assertThat(client.channel.isOpen()).isFalse();
    }

    @Test
    void connectionCloseIsHonouredAfterTheAnswer() {
        tunnel = client.tunnel();
        client.send("GET /f HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
        tunnel.last().accept().head("204", true);
        assertThat(client.received()).contains("connection: close");
        assertThat(client.channel.isOpen()).isFalse();
    }

    @Test
    void keepAliveServesTheNextRequestOnTheSameConnection() {
        tunnel = client.tunnel();
        for (int i = 0; i < 3; i++) {
            client.send(GET);
            tunnel.last().accept().head("204", true);
            assertThat(client.received()).startsWith("HTTP/1.1 204 No Content\r\n").doesNotContain("connection");
        }
        assertThat(tunnel.opened).hasSize(3);
        assertThat(client.channel.isOpen()).isTrue();
    }

    @Test
    void expect100ContinueIsAnsweredBeforeTheBodyIsRead() {
        tunnel = client.tunnel();
        client.send("PUT /f HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n");
        assertThat(client.received()).isEqualTo("HTTP/1.1 100 Continue\r\n\r\n");
        FakeTunnel.Opened o = tunnel.last().accept();
        assertThat(o.head.request().headers().contains("expect")).isFalse();
        client.send("abc");
        assertThat(o.stream.sentText()).isEqualTo("abc");
        o.head("201", true);
        assertThat(client.received()).startsWith("HTTP/1.1 201 Created\r\n");
    }

    @Test
    void anUnknownExpectationIs417() {
        client.send("PUT /f HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nExpect: teapot\r\n\r\nabc");
        assertThat(client.received()).startsWith("HTTP/1.1 417 Expectation Failed\r\n")
                .contains("unsupported expectation: teapot");
        assertThat(client.channel.isOpen()).isFalse();
    }

    @Test
    void anOversizedHeaderIs431() {
        client.send("GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + "a".repeat(20_000) + "\r\n\r\n");
        assertThat(client.received()).startsWith("HTTP/1.1 431 Request Header Fields Too Large\r\n");
        assertThat(client.channel.isOpen()).isFalse();
    }

    @Test
    void anOversizedRequestLineIs414() {
        client.send("GET /" + "a".repeat(9000) + " HTTP/1.1\r\nHost: h\r\n\r\n");
        assertThat(client.received()).startsWith("HTTP/1.1 414 Request-URI Too Long\r\n");
        assertThat(client.channel.isOpen()).isFalse();
    }

    @Test
    void aMissingHostIs400AndAHeadRequestGetsNoBody() {
        client.send("HEAD / HTTP/1.1\r\n\r\n");
        String out = client.received();
        assertThat(out).startsWith("HTTP/1.1 400 Bad Request\r\n").endsWith("\r\n\r\n");
        assertThat(out).contains("content-length: " + "missing Host header\n".length());
    }

    @Test
    void aHalfClosedClientGetsItsAnswersThenTheClose() {
        tunnel = client.tunnel();
        client.send(GET + GET);
        client.channel.pipeline().fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
        assertThat(client.channel.isOpen()).isTrue();
        tunnel.last().accept().head("204", true);
        client.settle();
        tunnel.last().accept().head("204", true);
        assertThat(count(client.received(), "HTTP/1.1 204")).isEqualTo(2);
        assertThat(client.channel.isOpen()).isFalse();
    }

    @Test
    void aHalfCloseMidBodyAbandonsTheRequest() {
        tunnel = client.tunnel();
        client.send("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n01234");
        FakeTunnel.Opened o = tunnel.last().accept();
        client.channel.pipeline().fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
        assertThat(client.channel.isOpen()).isFalse();
        assertThat(o.stream.reset).isEqualTo(StreamError.CANCEL);
    }
}
