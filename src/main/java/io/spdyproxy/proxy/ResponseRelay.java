package io.spdyproxy.proxy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.EmptyHttpHeaders;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.spdyproxy.observe.RequestRecord.Outcome;
import io.spdyproxy.tunnel.ResponseHead;
import io.spdyproxy.tunnel.StreamError;
import io.spdyproxy.tunnel.TunnelStream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The response side of one {@link Exchange}: the origin's head checked ({@link OriginResponses})
 * and framed for the client, its body written with backpressure (a chunk is consumed, granting the
 * origin window, only once the client's socket took it), its trailers, its end. The proxy owns the
 * framing towards the client, so the origin's declared length is held against the bytes that come:
 * more, or fewer at the end, aborts the connection rather than let a body look whole. A HEAD, 204
 * or 304 answer has no body (RFC 9110 sections 9.3.2, 15.3.5, 15.4.5); a body of unknown length is
 * chunked, or on HTTP/1.0 ended by the close (RFC 9112 section 6.3).
 *
 * <p>Threading: confined to the client channel's loop, as its exchange; it changes the exchange's
 * state only through the exchange's transitions.
 */
final class ResponseRelay {
    private static final Logger log = LoggerFactory.getLogger(ResponseRelay.class);

    private final Exchange ex;
    private final ExchangeConnection conn;
    private final ProxyStats stats;
    private final boolean http10;
    private final boolean headRequest;
    private boolean bodyless;
    /** The origin's declared body length, or -1 (none, or a bodyless answer); and what came. */
    private long declaredLength = -1;
    private long bodyReceived;
    private HttpHeaders trailers;

    ResponseRelay(Exchange ex, ExchangeConnection conn, ProxyStats stats, HttpRequest request, boolean headRequest) {
        this.ex = ex;
        this.conn = conn;
        this.stats = stats;
        this.http10 = request.protocolVersion().equals(HttpVersion.HTTP_1_0);
        this.headRequest = headRequest;
    }

    void head(ResponseHead head, boolean fin) {
        if (ex.state() != Exchange.State.WAITING) {
            return; // over, or a second head (a head arrives once per stream)
        }
        if (upgraded(head, fin)) {
            return;
        }
        HttpResponse r;
        try {
            r = OriginResponses.head(head);
        } catch (IllegalArgumentException e) {
            log.info("origin stream {} sent an invalid response: {}", ex.streamId(), e.getMessage());
            ex.trace().outcome(Outcome.ORIGIN_RESET);
            ex.fail(HttpResponseStatus.BAD_GATEWAY, "origin sent an invalid response: " + e.getMessage(),
                    StreamError.PROTOCOL_ERROR);
            return;
        }
        int code = r.status().code();
        bodyless = headRequest || code == 204 || code == 304;
        if (fin && !bodyless && OriginResponses.declaredLength(r) > 0) {
            ex.trace().outcome(Outcome.ORIGIN_RESET);
            ex.fail(HttpResponseStatus.BAD_GATEWAY, "origin declared a body of " + OriginResponses.declaredLength(r)
                    + " bytes and sent none", StreamError.CANCEL);
            return;
        }
        ex.responseStarted(code);
        if (!bodyless) {
            declaredLength = OriginResponses.declaredLength(r);
            if (declaredLength < 0) {
                if (fin) {
                    declaredLength = 0;
                    HttpUtil.setContentLength(r, 0);
                } else if (http10) {
                    ex.noKeepAlive(); // no chunked coding in HTTP/1.0: the close ends the body
                } else {
                    HttpUtil.setTransferEncodingChunked(r, true);
                }
            }
        }
        HttpUtil.setKeepAlive(r, ex.keepAlive());
        if (fin) {
            endWithHead(r);
        } else {
            conn.ctx().write(r);
            conn.flushLater();
        }
    }

    /**
     * A response that is all head: written as one message, so that over HTTP/2 it is one HEADERS
     * frame with END_STREAM (a gRPC error is such a "trailers-only" response, and gRPC clients
     * refuse HEADERS followed by an empty DATA frame); over HTTP/1.1 the bytes are the same as a
     * head and an empty end.
     */
    private void endWithHead(HttpResponse r) {
        ex.responseEnded();
        FullHttpResponse whole = new DefaultFullHttpResponse(r.protocolVersion(), r.status(), Unpooled.EMPTY_BUFFER,
                r.headers(), EmptyHttpHeaders.INSTANCE);
        conn.ctx().write(whole).addListener(f -> ex.lastWritten(f.isSuccess()));
        conn.flushLater();
    }

    /**
     * The hand-over point for an HTTP upgrade (RFC 9110 sections 7.8 and 15.2.2): a {@code 101}
     * answering a request that asked to switch protocols (its stream left open for it) turns the
     * stream into a raw byte pipe, and the client channel goes to {@link UpgradeRelay}; the
     * exchange is then over and the connection reads no more HTTP. Any other answer declines: the
     * request direction kept open ends, and the answer is relayed as usual. A 101 to any other
     * request gets a 502 from {@link OriginResponses#head}. Returns true once it took over.
     */
    private boolean upgraded(ResponseHead head, boolean fin) {
        if (!ex.openForUpgrade()) {
            return false;
        }
        String status = head.status() == null ? "" : head.status().trim();
        if (!status.startsWith("101")) {
            ex.upgradeDeclined();
            return false;
        }
        HttpResponse r;
        try {
            r = OriginResponses.head(head, true);
        } catch (IllegalArgumentException e) {
            ex.trace().outcome(Outcome.ORIGIN_RESET);
            ex.fail(HttpResponseStatus.BAD_GATEWAY, "origin sent an invalid response: " + e.getMessage(),
                    StreamError.PROTOCOL_ERROR);
            return true;
        }
        if (r.status().code() != 101) {
            ex.upgradeDeclined(); // e.g. "1010": not a 101 after all, and OriginResponses refuses it
            return false;
        }
        if (fin) {
            ex.trace().outcome(Outcome.ORIGIN_RESET);
            ex.fail(HttpResponseStatus.BAD_GATEWAY, "origin switched protocols and closed the stream at once",
                    StreamError.CANCEL);
            return true;
        }
        ex.switchProtocols(r);
        return true;
    }

    /** A chunk of the response body (ownership passes). */
    void data(TunnelStream s, ByteBuf data, boolean fin) {
        int n = data.readableBytes();
        Exchange.State state = ex.state();
        if (state == Exchange.State.WAITING) {
            data.release();
            s.consume(n);
            ex.trace().outcome(Outcome.ORIGIN_RESET);
            ex.fail(HttpResponseStatus.BAD_GATEWAY, "origin sent body data before its response head",
                    StreamError.PROTOCOL_ERROR);
            return;
        }
        if (state != Exchange.State.RELAYING || bodyless) {
            data.release();
            s.consume(n);
            if (fin && state == Exchange.State.RELAYING) {
                end();
            }
            return;
        }
        bodyReceived += n;
        if (declaredLength >= 0 && bodyReceived > declaredLength) {
            data.release();
            s.consume(n);
            ex.trace().outcome(Outcome.ORIGIN_RESET);
            ex.abort("origin sent more than its Content-Length of " + declaredLength, StreamError.PROTOCOL_ERROR);
            return;
        }
        if (n > 0) {
            conn.ctx().write(new DefaultHttpContent(data)).addListener(f -> {
                if (f.isSuccess()) {
                    // A bandwidth limit delays the credit, so the stream's window closes and the
                    // origin waits: nothing is held here beyond that window.
                    ex.admission().download().after(n, conn.ctx().executor(), () -> s.consume(n));
                }
            });
            stats.bytesToClients(n);
            ex.trace().bytesOut(n);
        } else {
            data.release();
        }
        if (fin) {
            end();
        } else {
            conn.flushLater();
        }
    }

    void trailers(HttpHeaders headers, boolean fin) {
        Exchange.State state = ex.state();
        if (state.isOver()) {
            return;
        }
        if (state != Exchange.State.RELAYING) {
            ex.trace().outcome(Outcome.ORIGIN_RESET);
            ex.abort("origin sent trailers before its response head", StreamError.PROTOCOL_ERROR);
            return;
        }
        try {
            trailers = OriginResponses.trailers(headers);
        } catch (IllegalArgumentException e) {
            ex.trace().outcome(Outcome.ORIGIN_RESET);
            ex.abort("origin sent invalid trailers: " + e.getMessage(), StreamError.PROTOCOL_ERROR);
            return;
        }
        if (fin) {
            end();
        }
    }

    private void end() {
        if (ex.state() != Exchange.State.RELAYING) {
            return;
        }
        if (declaredLength >= 0 && bodyReceived < declaredLength) {
            ex.trace().outcome(Outcome.ORIGIN_RESET);
            ex.abort("origin ended the body after " + bodyReceived + " of its Content-Length of " + declaredLength,
                    StreamError.PROTOCOL_ERROR);
            return;
        }
        ex.responseEnded();
        LastHttpContent last = trailers == null ? LastHttpContent.EMPTY_LAST_CONTENT
                : new DefaultLastHttpContent(Unpooled.EMPTY_BUFFER, trailers);
        conn.ctx().write(last).addListener(f -> ex.lastWritten(f.isSuccess()));
        conn.flushLater();
    }
}
