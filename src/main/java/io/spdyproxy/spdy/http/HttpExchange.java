package io.spdyproxy.spdy.http;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.spdy.SpdyHeaders;
import java.nio.charset.StandardCharsets;

/**
 * The server side of one HTTP request carried by a SPDY stream: the request head, its streamed
 * body, and the response to send.
 */
public final class HttpExchange extends HttpStreamBase {
    private final HttpRequestHandler handler;
    private HttpRequest request;
    private String scheme = "https";
    private boolean requestHasBody;

    HttpExchange(HttpRequestHandler handler) {
        this.handler = handler;
    }

    public HttpRequest request() {
        return request;
    }

    /** The request's {@code :scheme} as the client side sent it ("https" when absent). */
    public String scheme() {
        return scheme;
    }

    /** False when the request ended with its headers (no body will follow). */
    public boolean requestHasBody() {
        return requestHasBody;
    }

    /** Sends the response head; {@code last} when no body follows (HEAD, 304, empty). */
    public void respond(HttpResponse head, boolean last) {
        stream().sendHeaders(SpdyHttpHeaders.fromResponse(head), last);
    }

    /** A complete small response: status, content type and a text body. */
    public void respond(HttpResponseStatus status, String contentType, String body) {
        ByteBuf content = Unpooled.copiedBuffer(body, StandardCharsets.UTF_8);
        HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, status);
        head.headers().set(HttpHeaderNames.CONTENT_TYPE, contentType);
        head.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, content.readableBytes());
        boolean headOnly = "HEAD".equals(request == null ? null : request.method().name());
        respond(head, headOnly);
        if (headOnly) {
            content.release();
        } else {
            write(content, true);
        }
    }

    @Override
    void onHead(SpdyHeaders headers, boolean endOfStream) {
        requestHasBody = !endOfStream;
        String sch = headers.getAsString(SpdyHttpHeaders.SCHEME);
        if (sch != null && !sch.isEmpty()) {
            scheme = sch;
        }
        try {
            request = SpdyHttpHeaders.toRequest(headers);
        } catch (IllegalArgumentException e) {
            // SPDY/3 section 3.2.1: a request without its required headers gets 400.
            respond(HttpResponseStatus.BAD_REQUEST, "text/plain; charset=utf-8", e.getMessage() + "\n");
            return;
        }
        handler.onRequest(this);
    }
}
