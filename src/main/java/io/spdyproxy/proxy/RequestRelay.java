package io.spdyproxy.proxy;

import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.LastHttpContent;
import io.spdyproxy.tunnel.StreamError;
import io.spdyproxy.tunnel.TunnelStream;
import java.util.ArrayDeque;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The request side of one {@link Exchange}: the client's body, chunk by chunk, to the stream. The
 * body is read from the client only while the stream can take it; what came before the stream was
 * open waits here (at most what one read brought). After the answer went out (an error, or an origin
 * that answered early) the rest is drained. A malformed chunk aborts: what came so far must never
 * look like a whole request, to the origin or to the next request on the connection.
 *
 * <p>Threading: confined to the client channel's loop, as its exchange.
 */
final class RequestRelay {
    private static final Logger log = LoggerFactory.getLogger(RequestRelay.class);

    private final Exchange ex;
    private final ExchangeConnection conn;
    private final ClientTimeouts timeouts;
    /** Chunks that came before the stream was open. */
    private final ArrayDeque<HttpContent> held = new ArrayDeque<>();
    private boolean done;
    private boolean sentAny;
    /** Waiting for the tunnel's upload bucket to refill (proxy.access): no read until then. */
    private boolean paced;

    RequestRelay(Exchange ex, ExchangeConnection conn, ClientTimeouts timeouts, boolean hasBody) {
        this.ex = ex;
        this.conn = conn;
        this.timeouts = timeouts;
        if (!hasBody) {
            complete();
        }
    }

    /** The whole request was read (or drained). */
    boolean done() {
        return done;
    }

    /** Body bytes reached a stream: sending the request again elsewhere is no longer safe. */
    boolean sentAny() {
        return sentAny;
    }

    private void complete() {
        done = true;
        timeouts.requestComplete();
    }

    /** A chunk of the body from the client (ownership passes). */
    void content(HttpContent c) {
        if (c.decoderResult().isFailure()) {
            Throwable cause = c.decoderResult().cause();
            c.release();
            malformed(cause);
            return;
        }
        TunnelStream stream = ex.stream();
        if (ex.state().isOver() || done && stream != null) {
            // The answer already went out (an error, or the origin answered early): drain.
            boolean last = c instanceof LastHttpContent;
            c.release();
            if (last) {
                complete();
                if (ex.state() == Exchange.State.DONE) {
                    ex.handBack();
                }
            } else {
                conn.read();
            }
            return;
        }
        if (stream == null) {
            held.add(c);
            return;
        }
        int n = c.content().readableBytes();
        send(stream, c);
        if (!done && !ex.state().isOver()) {
            // The bandwidth limit holds the next read back, never the bytes (one chunk at most).
            paced = true;
            ex.admission().upload().after(n, conn.ctx().executor(), () -> {
                paced = false;
                writable();
            });
        }
    }

    /** The exchange's stream {@code s} is open: what waited goes, then the body is read on. */
    void streamOpened(TunnelStream s) {
        HttpContent c;
        while (ex.stream() == s && (c = held.poll()) != null) {
            send(s, c);
        }
        if (ex.stream() != s) {
            return; // failed while sending, and retried: that attempt carries the body now
        }
        if (done) {
            ex.armTimeout();
        } else if (!ex.state().isOver()) {
            readOrWait();
        }
    }

    /** The stream can take more. */
    void writable() {
        if (!done && !ex.state().isOver() && !paced) {
            readOrWait();
        }
    }

    private void send(TunnelStream stream, HttpContent c) {
        if (ex.openForUpgrade()) {
            // An upgrade request has no body: its end is not the stream's, which stays open for
            // the client's bytes after a 101 (or is ended when the origin declines).
            complete();
            c.release();
            ex.armTimeout();
            return;
        }
        boolean last = c instanceof LastHttpContent;
        ByteBuf data = c.content();
        ex.trace().bytesIn(data.readableBytes());
        if (data.isReadable()) {
            sentAny = true;
        }
        if (last) {
            complete();
        }
        HttpHeaders trailers = last ? trailers((LastHttpContent) c) : null;
        if (trailers != null) {
            // Trailers end the request (RFC 9110 section 6.5): chunked ones on HTTP/1.1, a final
            // HEADERS frame on HTTP/2. The tunnel stream carries them as its own last frame.
            if (data.isReadable()) {
                stream.sendData(data, false);
            } else {
                data.release();
            }
            stream.sendTrailers(trailers);
        } else {
            stream.sendData(data, last);
        }
        if (last) {
            ex.armTimeout();
        }
    }

    /** The request's trailers without framing and routing fields, or null when none are left. */
    private static HttpHeaders trailers(LastHttpContent last) {
        if (last.trailingHeaders().isEmpty()) {
            return null;
        }
        try {
            HttpHeaders t = OriginResponses.trailers(last.trailingHeaders());
            return t.isEmpty() ? null : t;
        } catch (IllegalArgumentException e) {
            return null; // the decoder validated them already; nothing valid to pass on
        }
    }

    /**
     * Reads more of the body while the stream can take it; otherwise the origin is the one holding
     * things up (it grants no window, or its link is full), and the response timeout runs so that an
     * origin that never reads cannot hold the client forever.
     */
    private void readOrWait() {
        TunnelStream stream = ex.stream();
        if (stream == null) {
            return; // given up on during a call into it; the next attempt reads on
        }
        if (stream.isWritable()) {
            if (ex.state() == Exchange.State.WAITING) {
                ex.cancelTimeout();
            }
            conn.read();
        } else {
            ex.armTimeout();
        }
    }

    private void malformed(Throwable cause) {
        String why = "malformed request body: " + (cause == null ? "decoding failed" : cause.getMessage());
        log.debug("client {}: {}", conn.ctx().channel().remoteAddress(), why);
        conn.noMoreRequests();
        ex.noKeepAlive();
        // The app sees an aborted request (CANCEL) either way.
        Exchange.State state = ex.state();
        if (state == Exchange.State.RELAYING || state.isOver()) {
            ex.abort(why, StreamError.CANCEL);
        } else {
            ex.fail(HttpResponseStatus.BAD_REQUEST, why, StreamError.CANCEL);
        }
    }

    /** Drops what waited (the exchange ended before its stream opened). */
    void releaseHeld() {
        HttpContent c;
        while ((c = held.poll()) != null) {
            c.release();
        }
    }
}
