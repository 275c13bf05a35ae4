package io.spdyproxy.spdy.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.spdy.DefaultSpdyHeaders;
import io.netty.handler.codec.spdy.SpdyHeaders;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class SpdyHttpHeadersTest {

    private static HttpRequest request(HttpMethod method, String uri) {
        return new DefaultHttpRequest(HttpVersion.HTTP_1_1, method, uri);
    }

    private static List<String> names(SpdyHeaders h) {
        List<String> out = new ArrayList<>();
        for (Map.Entry<CharSequence, CharSequence> e : h) {
            out.add(e.getKey().toString());
        }
        return out;
    }

    /** Adds every hop-by-hop header SPDY/3 section 3.2.1 and RFC 9110 section 7.6.1 name. */
    private static void addHopByHop(HttpHeaders h) {
        h.add(HttpHeaderNames.CONNECTION, "keep-alive, X-Custom-Hop");
        h.add(HttpHeaderNames.CONNECTION, "X-Second-Hop");
        h.add("Keep-Alive", "timeout=5");
        h.add("Proxy-Connection", "keep-alive");
        h.add(HttpHeaderNames.TRANSFER_ENCODING, "chunked");
        h.add(HttpHeaderNames.UPGRADE, "websocket");
        h.add(HttpHeaderNames.TE, "trailers");
        h.add("X-Custom-Hop", "dropped because Connection lists it");
        h.add("x-second-hop", "dropped too, case-insensitively");
        h.add("X-End-To-End", "kept");
    }

    private static void assertNoHopByHop(SpdyHeaders s) {
        for (String name : List.of("connection", "keep-alive", "proxy-connection", "transfer-encoding",
                "upgrade", "te", "x-custom-hop", "x-second-hop")) {
            assertThat(s.contains(name)).as("header %s must be dropped", name).isFalse();
        }
        assertThat(s.getAsString("x-end-to-end")).isEqualTo("kept");
    }

    // ---- requests: HTTP -> SPDY ----

    @Test
    void requestBecomesPseudoHeadersAndHostBecomesColonHost() {
        HttpRequest req = request(HttpMethod.GET, "/search?q=spdy&lang=en");
        req.headers().set(HttpHeaderNames.HOST, "example.com:8443");
        req.headers().set(HttpHeaderNames.USER_AGENT, "junit");

        SpdyHeaders s = SpdyHttpHeaders.fromRequest(req, "https");

        assertThat(s.getAsString(":method")).isEqualTo("GET");
        assertThat(s.getAsString(":path")).isEqualTo("/search?q=spdy&lang=en");
        assertThat(s.getAsString(":version")).isEqualTo("HTTP/1.1");
        assertThat(s.getAsString(":host")).isEqualTo("example.com:8443");
        assertThat(s.getAsString(":scheme")).isEqualTo("https");
        assertThat(s.contains("host")).as("Host travels only as :host").isFalse();
        assertThat(s.getAsString("user-agent")).isEqualTo("junit");
        // SPDY/3 section 3.2: every header name is lower case.
        assertThat(names(s)).allSatisfy(n -> assertThat(n).isEqualTo(n.toLowerCase(java.util.Locale.ROOT)));
    }

    @Test
    void requestSchemeIsTakenFromTheArgument() {
        HttpRequest req = request(HttpMethod.POST, "/upload");
        req.headers().set(HttpHeaderNames.HOST, "h");
        SpdyHeaders s = SpdyHttpHeaders.fromRequest(req, "http");
        assertThat(s.getAsString(":scheme")).isEqualTo("http");
        assertThat(s.getAsString(":method")).isEqualTo("POST");
    }

    @Test
    void requestDropsHopByHopHeadersIncludingThoseNamedInConnection() {
        HttpRequest req = request(HttpMethod.GET, "/");
        req.headers().set(HttpHeaderNames.HOST, "h");
        addHopByHop(req.headers());

        SpdyHeaders s = SpdyHttpHeaders.fromRequest(req, "https");

        assertNoHopByHop(s);
        assertThat(s.getAsString(":host")).isEqualTo("h");
    }

    @Test
    void requestKeepsEveryValueOfAMultiValuedHeaderInOrder() {
        HttpRequest req = request(HttpMethod.GET, "/");
        req.headers().set(HttpHeaderNames.HOST, "h");
        req.headers().add("Accept", "text/html");
        req.headers().add("accept", "application/json");
        req.headers().add("X-Trace", "a");
        req.headers().add("X-Trace", "b");
        req.headers().add("X-Trace", "c");

        SpdyHeaders s = SpdyHttpHeaders.fromRequest(req, "https");

        assertThat(s.getAllAsString("accept")).containsExactly("text/html", "application/json");
        assertThat(s.getAllAsString("x-trace")).containsExactly("a", "b", "c");
    }

    // ---- requests: SPDY -> HTTP ----

    @Test
    void synStreamHeadersBecomeARequest() {
        SpdyHeaders s = new DefaultSpdyHeaders();
        s.set(":method", "PUT").set(":path", "/items/7?x=1").set(":version", "HTTP/1.1")
                .set(":host", "origin.example").set(":scheme", "https");
        s.add("content-type", "application/json");
        s.add("cookie", "a=1");
        s.add("cookie", "b=2");

        HttpRequest req = SpdyHttpHeaders.toRequest(s);

        assertThat(req.method()).isEqualTo(HttpMethod.PUT);
        assertThat(req.uri()).isEqualTo("/items/7?x=1");
        assertThat(req.protocolVersion()).isEqualTo(HttpVersion.HTTP_1_1);
        assertThat(req.headers().get(HttpHeaderNames.HOST)).isEqualTo("origin.example");
        assertThat(req.headers().get(HttpHeaderNames.CONTENT_TYPE)).isEqualTo("application/json");
        assertThat(req.headers().getAll(HttpHeaderNames.COOKIE)).containsExactly("a=1", "b=2");
        assertThat(req.headers().names()).noneMatch(n -> n.startsWith(":"));
    }

    @Test
    void requestHostComesFromColonHostNotFromAStrayHostHeader() {
        SpdyHeaders s = new DefaultSpdyHeaders();
        s.set(":method", "GET").set(":path", "/").set(":version", "HTTP/1.1").set(":host", "right");
        s.add("host", "wrong");
        HttpRequest req = SpdyHttpHeaders.toRequest(s);
        assertThat(req.headers().getAll(HttpHeaderNames.HOST)).containsExactly("right");
    }

    @Test
    void hopByHopHeadersFromThePeerAreDropped() {
        SpdyHeaders s = new DefaultSpdyHeaders();
        s.set(":method", "GET").set(":path", "/").set(":version", "HTTP/1.1").set(":host", "h");
        s.add("connection", "close");
        s.add("keep-alive", "timeout=5");
        s.add("proxy-connection", "close");
        s.add("transfer-encoding", "chunked");
        s.add("upgrade", "h2c");
        s.add("te", "trailers");
        s.add("x-kept", "1");
        HttpRequest req = SpdyHttpHeaders.toRequest(s);
        assertThat(req.headers().names()).containsExactlyInAnyOrder("host", "x-kept");
    }

    @Test
    void missingMethodIsRejected() {
        SpdyHeaders s = new DefaultSpdyHeaders();
        s.set(":path", "/").set(":version", "HTTP/1.1").set(":host", "h");
        assertThatThrownBy(() -> SpdyHttpHeaders.toRequest(s))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(":method");
    }

    @Test
    void missingPathIsRejected() {
        SpdyHeaders s = new DefaultSpdyHeaders();
        s.set(":method", "GET").set(":version", "HTTP/1.1").set(":host", "h");
        assertThatThrownBy(() -> SpdyHttpHeaders.toRequest(s))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(":path");
    }

    @Test
    void emptyPathIsRejectedLikeAMissingOne() {
        SpdyHeaders s = new DefaultSpdyHeaders();
        s.set(":method", "GET").set(":path", "").set(":version", "HTTP/1.1").set(":host", "h");
        assertThatThrownBy(() -> SpdyHttpHeaders.toRequest(s))
                .isInstanceOf(IllegalArgumentException.class);
    }

    private static String targetOf(String path) {
        SpdyHeaders s = new DefaultSpdyHeaders();
        s.set(":method", "GET").set(":path", path).set(":version", "HTTP/1.1").set(":host", "h");
        return SpdyHttpHeaders.toRequest(s).uri();
    }

    /**
     * The original Go proxy sends the decoded path (PROTOCOL.md): it becomes a valid request
     * target, every character outside RFC 3986 pchar escaped, '%' and '#' included.
     */
    @Test
    void aDecodedPathIsEscapedIntoAValidRequestTarget() {
        String[][] cases = {
            {"/a b.txt", "/a%20b.txt"},
            {"/a#b.txt", "/a%23b.txt"},
            {"/café.txt", "/caf%C3%A9.txt"},
            {"/\uD83C\uDFB5 x.mp3", "/%F0%9F%8E%B5%20x.mp3"},
            {"/100%.txt", "/100%25.txt"},
            {"/50% off/%zz", "/50%25%20off/%25zz"},
            {"/a b%41.txt", "/a%20b%2541.txt"},
            {"/dir/<x>\"y\"{z}`.txt", "/dir/%3Cx%3E%22y%22%7Bz%7D%60.txt"},
            {"/a b/../../x", "/a%20b/../../x"},
            {"/a b/%2e%2e/x", "/a%20b/%252e%252e/x"},
            {"/a\\b c", "/a%5Cb%20c"},
            {"/x y;p=1:@!$&'()*+,=~_-.z", "/x%20y;p=1:@!$&'()*+,=~_-.z"},
        };
        SoftAssertions soft = new SoftAssertions();
        for (String[] c : cases) {
            soft.assertThat(targetOf(c[0])).as(c[0]).isEqualTo(c[1]);
        }
        soft.assertAll();
    }

    @Test
    void aDecodedPathNeverSplitsTheRequestLine() {
        assertThat(targetOf("/a\r\nHost: evil\r\n\r\nGET /x")).isEqualTo("/a%0D%0AHost:%20evil%0D%0A%0D%0AGET%20/x");
        assertThat(targetOf("/a\tb\u0000c\u007f")).isEqualTo("/a%09b%00c%7F");
        assertThat(targetOf("/ok?q=a b\r\nX: y#frag")).isEqualTo("/ok?q=a%20b%0D%0AX:%20y%23frag");
    }

    /** What our proxy sends (and browsers): already encoded, passed on unchanged. */
    @ParameterizedTest
    @ValueSource(strings = {"/", "/a%20b.txt", "/caf%C3%A9.txt", "/100%25.txt", "/a%23b.txt",
        "/search?q=a+b&x=%20", "/a|b[1]^%20c", "/%2e%2e/x", "/x?y=%zz", "*", "https://h/x?y"})
    void anEncodedPathPassesUnchanged(String path) {
        assertThat(targetOf(path)).isEqualTo(path);
    }

    @Test
    void theQueryIsKeptAsSentExceptWhatCannotBeOnARequestLine() {
        assertThat(targetOf("/a b.txt?x=%41&y=1%")).isEqualTo("/a%20b.txt?x=%41&y=1%");
        assertThat(targetOf("/a.txt?q=café&r=?")).isEqualTo("/a.txt?q=caf%C3%A9&r=?");
        assertThat(targetOf("/a#b?c#d")).isEqualTo("/a%23b?c%23d");
    }

    @Test
    void aPathThatWasNotUtf8IsRefused() {
        // Netty decodes header values as UTF-8, with U+FFFD for bytes that are not.
        assertThatThrownBy(() -> targetOf("/caf\uFFFD.txt")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("UTF-8");
        assertThatThrownBy(() -> targetOf("/x?q=\uFFFD")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void aRepeatedPathOrMethodIsRefused() {
        // A NUL inside a SPDY header value separates two values: "/public\0/../secret".
        SpdyHeaders s = new DefaultSpdyHeaders();
        s.set(":method", "GET").set(":version", "HTTP/1.1").set(":host", "h");
        s.add(":path", "/public");
        s.add(":path", "/../secret");
        assertThatThrownBy(() -> SpdyHttpHeaders.toRequest(s)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(":path");
        SpdyHeaders m = new DefaultSpdyHeaders();
        m.set(":path", "/").set(":version", "HTTP/1.1").set(":host", "h");
        m.add(":method", "GET");
        m.add(":method", "DELETE");
        assertThatThrownBy(() -> SpdyHttpHeaders.toRequest(m)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(":method");
    }

    @Test
    void requestRoundTripsThroughSpdyHeaders() {
        HttpRequest req = request(HttpMethod.DELETE, "/r/1");
        req.headers().set(HttpHeaderNames.HOST, "h:1");
        req.headers().add("X-A", "1");
        req.headers().add("X-A", "2");
        req.headers().add(HttpHeaderNames.CONNECTION, "close");

        HttpRequest back = SpdyHttpHeaders.toRequest(SpdyHttpHeaders.fromRequest(req, "https"));

        assertThat(back.method()).isEqualTo(HttpMethod.DELETE);
        assertThat(back.uri()).isEqualTo("/r/1");
        assertThat(back.headers().get(HttpHeaderNames.HOST)).isEqualTo("h:1");
        assertThat(back.headers().getAll("x-a")).containsExactly("1", "2");
        assertThat(back.headers().contains(HttpHeaderNames.CONNECTION)).isFalse();
    }

    // ---- responses ----

    @Test
    void responseStatusIsCodeAndReasonPhrase() {
        HttpResponse res = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
        res.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain");
        SpdyHeaders s = SpdyHttpHeaders.fromResponse(res);
        assertThat(s.getAsString(":status")).isEqualTo("200 OK");
        assertThat(s.getAsString(":version")).isEqualTo("HTTP/1.1");
        assertThat(s.getAsString("content-type")).isEqualTo("text/plain");
    }

    @Test
    void responseStatusKeepsACustomReasonPhrase() {
        HttpResponse res = new DefaultHttpResponse(HttpVersion.HTTP_1_1,
                new HttpResponseStatus(299, "Quite Fine"));
        assertThat(SpdyHttpHeaders.fromResponse(res).getAsString(":status")).isEqualTo("299 Quite Fine");
    }

    @Test
    void responseDropsHopByHopAndKeepsMultiValuedHeaders() {
        HttpResponse res = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
        addHopByHop(res.headers());
        res.headers().add("Set-Cookie", "a=1; Path=/");
        res.headers().add("Set-Cookie", "b=2; Path=/");
        res.headers().add("Set-Cookie", "c=3; Path=/");

        SpdyHeaders s = SpdyHttpHeaders.fromResponse(res);

        assertNoHopByHop(s);
        assertThat(s.getAllAsString("set-cookie")).containsExactly("a=1; Path=/", "b=2; Path=/", "c=3; Path=/");
    }

    @Test
    void bareStatusCodeIsParsed() {
        SpdyHeaders s = new DefaultSpdyHeaders();
        s.set(":status", "404").set(":version", "HTTP/1.1");
        HttpResponse res = SpdyHttpHeaders.toResponse(s);
        assertThat(res.status().code()).isEqualTo(404);
        assertThat(res.status().reasonPhrase()).isEqualTo("Not Found");
    }

    @Test
    void statusWithReasonPhraseIsParsed() {
        SpdyHeaders s = new DefaultSpdyHeaders();
        s.set(":status", "404 Not Found").set(":version", "HTTP/1.1");
        HttpResponse res = SpdyHttpHeaders.toResponse(s);
        assertThat(res.status().code()).isEqualTo(404);
        assertThat(res.status().reasonPhrase()).isEqualTo("Not Found");
        assertThat(res.status()).isEqualTo(HttpResponseStatus.NOT_FOUND);
    }

    @Test
    void statusWithAnUnusualReasonPhraseKeepsIt() {
        SpdyHeaders s = new DefaultSpdyHeaders();
        s.set(":status", "503 Back Soon").set(":version", "HTTP/1.1");
        HttpResponse res = SpdyHttpHeaders.toResponse(s);
        assertThat(res.status().code()).isEqualTo(503);
        assertThat(res.status().reasonPhrase()).isEqualTo("Back Soon");
    }

    @ParameterizedTest
    @ValueSource(strings = {"abc", "OK", "200OK", "2x0", "99", "1000", "-200", "OK 200", " "})
    void garbageStatusIsRejected(String status) {
        SpdyHeaders s = new DefaultSpdyHeaders();
        s.set(":status", status).set(":version", "HTTP/1.1");
        assertThatThrownBy(() -> SpdyHttpHeaders.toResponse(s)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void missingStatusIsRejected() {
        SpdyHeaders s = new DefaultSpdyHeaders();
        s.set(":version", "HTTP/1.1");
        s.add("content-type", "text/plain");
        assertThatThrownBy(() -> SpdyHttpHeaders.toResponse(s))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(":status");
    }

    @Test
    void responseHeadersAreCopiedWithoutPseudoOrHopByHopHeaders() {
        SpdyHeaders s = new DefaultSpdyHeaders();
        s.set(":status", "200").set(":version", "HTTP/1.1");
        s.add("content-length", "5");
        s.add("set-cookie", "a=1");
        s.add("set-cookie", "b=2");
        s.add("transfer-encoding", "chunked");
        s.add("connection", "close");

        HttpResponse res = SpdyHttpHeaders.toResponse(s);

        assertThat(res.status()).isEqualTo(HttpResponseStatus.OK);
        assertThat(res.headers().get(HttpHeaderNames.CONTENT_LENGTH)).isEqualTo("5");
        assertThat(res.headers().getAll(HttpHeaderNames.SET_COOKIE)).containsExactly("a=1", "b=2");
        assertThat(res.headers().names()).containsExactlyInAnyOrder("content-length", "set-cookie");
    }

    @Test
    void responseRoundTrips() {
        HttpResponse res = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.CREATED);
        res.headers().add("Location", "/items/8");
        res.headers().add("Vary", "Accept");
        res.headers().add("Vary", "Accept-Encoding");
        HttpResponse back = SpdyHttpHeaders.toResponse(SpdyHttpHeaders.fromResponse(res));
        assertThat(back.status()).isEqualTo(HttpResponseStatus.CREATED);
        assertThat(back.status().reasonPhrase()).isEqualTo("Created");
        assertThat(back.headers().get("location")).isEqualTo("/items/8");
        assertThat(back.headers().getAll("vary")).containsExactly("Accept", "Accept-Encoding");
    }

    // ---- trailers ----

    @Test
    void trailersHaveNoPseudoHeadersAndDropHopByHop() {
        HttpHeaders t = new DefaultHttpHeaders();
        t.add("X-Checksum", "abc");
        t.add("X-Multi", "1");
        t.add("X-Multi", "2");
        t.add(HttpHeaderNames.TRANSFER_ENCODING, "chunked");
        SpdyHeaders s = SpdyHttpHeaders.fromTrailers(t);
        assertThat(names(s)).containsExactly("x-checksum", "x-multi", "x-multi");
        HttpHeaders back = SpdyHttpHeaders.toTrailers(s);
        assertThat(back.get("x-checksum")).isEqualTo("abc");
        assertThat(back.getAll("x-multi")).containsExactly("1", "2");
    }
}
