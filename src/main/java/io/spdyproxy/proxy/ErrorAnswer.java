package io.spdyproxy.proxy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * The front end's own answers (a refused request, no tunnel, an origin that failed): a plain-text
 * page with the status and one line saying why, never cached. The one place such an answer is
 * built, so every error looks alike to a client.
 *
 * <p>Stateless.
 */
final class ErrorAnswer {
    private ErrorAnswer() {}

    /**
     * An error page. A HEAD request gets the head alone, with the length the body would have had
     * (RFC 9110 section 9.3.2); {@code keepAlive} false adds {@code Connection: close}.
     */
    static FullHttpResponse of(HttpResponseStatus status, String message, boolean headRequest, boolean keepAlive) {
        ByteBuf body = Unpooled.copiedBuffer(message + "\n", StandardCharsets.UTF_8);
        int length = body.readableBytes();
        if (headRequest) {
            body.release();
            body = Unpooled.EMPTY_BUFFER;
        }
        FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, body);
        r.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain; charset=utf-8");
        r.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, length);
        r.headers().set(HttpHeaderNames.CACHE_CONTROL, "no-store");
        HttpUtil.setKeepAlive(r, keepAlive);
        return r;
    }

    /** A duration as an error message says it: "60 s", "250 ms". */
    static String human(Duration d) {
        return d.toMillis() % 1000 == 0 ? d.toSeconds() + " s" : d.toMillis() + " ms";
    }
}
