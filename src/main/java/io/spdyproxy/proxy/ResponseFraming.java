package io.spdyproxy.proxy;

import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;

/**
 * How one response is framed towards the client, and whether the origin kept to it: the length
 * it declared against the bytes that came, whether the answer has a body at all (HEAD, 204, 304:
 * RFC 9110 sections 9.3.2, 15.3.5, 15.4.5), chunked coding when no length was given, and the
 * trailers to end it with. A mismatch is returned as the reason to abort, never written on.
 *
 * <p>Threading: owned by one {@link Exchange}, confined to its loop.
 */
final class ResponseFraming {
    private final boolean http10;
    private final boolean headRequest;
    private boolean bodyless;
    /** The origin's declared body length, or -1 (none, or a bodyless answer). */
    private long declaredLength = -1;
    private long bodyReceived;
    private HttpHeaders trailers;

    ResponseFraming(HttpRequest request, boolean headRequest) {
        this.http10 = request.protocolVersion().equals(HttpVersion.HTTP_1_0);
        this.headRequest = headRequest;
    }

    /** Why {@code r} cannot be relayed at all (a body declared, none sent), or null. */
    String refusal(HttpResponse r, boolean fin) {
        int code = r.status().code();
        bodyless = headRequest || code == 204 || code == 304;
        long declared = OriginResponses.declaredLength(r);
        return fin && !bodyless && declared > 0
                ? "origin declared a body of " + declared + " bytes and sent none" : null;
    }

    /**
     * Frames {@code r} for the client: a length of 0 for an empty body, chunked coding for a body
     * of unknown length. False when only the connection's close can end the body (no chunked
     * coding in HTTP/1.0), so the connection must not be kept alive.
     */
    boolean frame(HttpResponse r, boolean fin) {
        if (bodyless) {
            return true;
        }
        declaredLength = OriginResponses.declaredLength(r);
        if (declaredLength >= 0) {
            return true;
        }
        if (fin) {
            declaredLength = 0;
            HttpUtil.setContentLength(r, 0);
            return true;
        }
        if (http10) {
            return false;
        }
        HttpUtil.setTransferEncodingChunked(r, true);
        return true;
    }

    /** The answer has no body: whatever data comes is dropped. */
    boolean bodyless() {
        return bodyless;
    }

    /** Counts {@code n} body bytes; the reason to abort when they exceed the declared length. */
    String received(int n) {
        bodyReceived += n;
        return declaredLength >= 0 && bodyReceived > declaredLength
                ? "origin sent more than its Content-Length of " + declaredLength : null;
    }

    /** At the end of the body: the reason to abort when it fell short of the declared length. */
    String shortBody() {
        return declaredLength >= 0 && bodyReceived < declaredLength
                ? "origin ended the body after " + bodyReceived + " of its Content-Length of " + declaredLength
                : null;
    }

    void trailers(HttpHeaders checked) {
        this.trailers = checked;
    }

    /** The checked trailers to end the body with, or null. */
    HttpHeaders trailers() {
        return trailers;
    }
}
