package io.spdyproxy.proxy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.concurrent.ScheduledFuture;
import io.spdyproxy.tunnel.RequestHead;
import io.spdyproxy.tunnel.ResponseHead;
import io.spdyproxy.tunnel.StreamClosedException;
import io.spdyproxy.tunnel.StreamError;
import io.spdyproxy.tunnel.Tunnel;
import io.spdyproxy.tunnel.TunnelSession;
import io.spdyproxy.tunnel.TunnelStream;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.ArrayDeque;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One request and its response: routes the request to a tunnel, opens a stream there (again on
 * another tunnel when one refused it unprocessed), relays the body both ways with backpressure,
 * checks the origin's framing ({@link OriginResponses}) and answers failures itself. The
 * response side is a {@link State}; the request side only tracks whether its body has ended
 * ({@link #requestDone}), since a body may still arrive, or be drained, after the answer.
 *
 * <p>Backpressure: the request body is read from the client only while the stream is writable; a
 * response chunk is consumed (granting the origin window) only once the client's socket took it.
 *
 * <p>Threading: confined to the client channel's event loop. Stream events reach it through
 * {@link ExchangeEvents}, on that loop; the stream's own methods are safe from any thread and run
 * inline when the tunnel shares the loop, so every state change precedes the call that may report
 * back (a reset reports the stream's close at once).
 */
final class Exchange {
    private static final Logger log = LoggerFactory.getLogger(Exchange.class);
    private static final int MAX_ATTEMPTS = 3;

    /** The response side's lifecycle. */
    enum State {
        /** Picking a tunnel and opening a stream on it (again after a refusal). */
        ROUTING,
        /** The stream is open; the origin's response head has not come. */
        WAITING,
        /** The response head went to the client; its body follows. */
        RELAYING,
        /** The answer is complete (the origin's or an error page); the request body may still drain. */
        DONE,
        /** Aborted, or the client went away: nothing more goes out. */
        CLOSED;

        boolean isOver() {
            return this == DONE || this == CLOSED;
        }
    }

    /** What the exchange needs of its client connection ({@link FrontendHandler}). */
    interface Connection {
        ChannelHandlerContext ctx();

        /** Asks for more of the client's bytes. */
        void read();

        /** Flushes once the tasks queued on the loop ran, so that small writes leave together. */
        void flushLater();

        /** No request after this one is read: the connection closes once this one is answered. */
        void noMoreRequests();

        /** The answer went out; {@code keepAlive} false closes the connection. Called once. */
        void exchangeDone(Exchange e, boolean keepAlive);

        /** Moves the connection to the tunnel's loop before its first stream, then runs {@code then}. */
        void settleOn(TunnelSession session, Runnable then);
    }

    private final Connection conn;
    private final ProxyContext px;
    private final ClientTimeouts timeouts;
    private final String scheme;
    private final HttpRequest request;
    /** The request as the origin gets it (with X-Forwarded-*), made once for every attempt. */
    private HttpRequest forwarded;
    private final boolean headRequest;
    private final boolean requestHasBody;
    /** Request body chunks that came before the stream was open. */
    private final ArrayDeque<HttpContent> early = new ArrayDeque<>();
    private final Set<TunnelSession> tried = new HashSet<>();
    private final ResponseFraming framing;
    private State state = State.ROUTING;
    private boolean requestDone;
    private boolean keepAlive;
    private TunnelStream stream;
    private int attempts;
    private boolean bodySent;
    private ScheduledFuture<?> timeout;
    private boolean counted;
    private boolean handedBack;

    Exchange(Connection conn, ProxyContext px, ClientTimeouts timeouts, String scheme, HttpRequest request) {
        this.conn = conn;
        this.px = px;
        this.timeouts = timeouts;
        this.scheme = scheme;
        this.request = request;
        this.headRequest = request.method().equals(HttpMethod.HEAD);
        this.requestHasBody = HttpUtil.isTransferEncodingChunked(request) || HttpUtil.getContentLength(request, 0L) > 0;
        this.requestDone = !requestHasBody;
        this.keepAlive = HttpUtil.isKeepAlive(request);
        this.framing = new ResponseFraming(request, headRequest);
        if (requestDone) {
            timeouts.requestComplete();
        }
    }

    State state() {
        return state;
    }

    boolean requestDone() {
        return requestDone;
    }

    private ChannelHandlerContext ctx() {
        return conn.ctx();
    }

    void start() {
        px.stats().requestStarted();
        open();
    }

    private void requestComplete() {
        requestDone = true;
        timeouts.requestComplete();
    }

    /** The origin's time to answer runs from the end of the request, not from its start. */
    private void armTimeout() {
        if (timeout == null && !state.isOver()) {
            timeout = ctx().executor().schedule(this::timedOut, px.config().responseTimeout().toNanos(),
                    TimeUnit.NANOSECONDS);
        }
    }

    private void cancelTimeout() {
        if (timeout != null) {
            timeout.cancel(false);
            timeout = null;
        }
    }

    /**
     * Reads more of the request body while the stream can take it; otherwise the origin is the one
     * holding things up (it grants no window, or its link is full), and the response timeout runs
     * so that an origin that never reads cannot hold the client forever.
     */
    private void readBodyOrWait() {
        if (stream == null) {
            return; // given up on during a call into it; the next attempt reads on
        }
        if (stream.isWritable()) {
            if (state == State.WAITING) {
                cancelTimeout();
            }
            conn.read();
        } else {
            armTimeout();
        }
    }

    private void ended() {
        if (!counted) {
            counted = true;
            px.stats().requestEnded();
        }
    }

    // ---- routing and opening -------------------------------------------------------------------

    private void open() {
        String name = px.router().route(request.headers().get(HttpHeaderNames.HOST));
        Tunnel tunnel = px.registry().pick(name, tried);
        if (tunnel == null) {
            fail(HttpResponseStatus.SERVICE_UNAVAILABLE, tried.isEmpty()
                    ? "no tunnel connected for '" + name + "'"
                    : "no tunnel could take the request for '" + name + "'", StreamError.CANCEL);
            return;
        }
        TunnelSession session = tunnel.session();
        conn.settleOn(session, () -> openOn(session));
    }

    private void openOn(TunnelSession session) {
        // Opened even when the exchange ended meanwhile (a malformed body came with the head):
        // adopt() then resets it, so the app sees an aborted request rather than none.
        int attempt = ++attempts;
        if (forwarded == null) {
            forwarded = ClientRequests.forwarded(request, clientAddress(), scheme, px.config().trustForwardedFor());
            // Not carried yet (see upgraded()): a tunnel stream cannot turn into a byte pipe today.
            forwarded.headers().remove(HttpHeaderNames.UPGRADE);
        }
        ExchangeEvents events = new ExchangeEvents(this, attempt, ctx());
        session.open(new RequestHead(forwarded, scheme), 3, !requestHasBody, events)
                .whenComplete((s, e) -> events.deliver(() -> opened(attempt, session, s, e)));
    }

    private String clientAddress() {
        SocketAddress remote = ctx().channel().remoteAddress();
        return remote instanceof InetSocketAddress a ? a.getAddress().getHostAddress() : String.valueOf(remote);
    }

    private void opened(int attempt, TunnelSession session, TunnelStream s, Throwable e) {
        if (attempt != attempts) {
            if (s != null) {
                s.reset(StreamError.CANCEL); // an attempt already given up on
            }
            return;
        }
        if (e != null) {
            tried.add(session);
            if (!state.isOver() && e instanceof StreamClosedException se && se.isRetryable() && attempts < MAX_ATTEMPTS) {
                open();
            } else if (!state.isOver()) {
                fail(HttpResponseStatus.BAD_GATEWAY, "tunnel refused the request: " + e.getMessage(), StreamError.CANCEL);
            }
            return;
        }
        adopt(attempt, s);
    }

    /**
     * Takes {@code s} as this exchange's stream, unless the events are of an attempt given up on.
     * The stream's events may overtake the open future's callback (they come from another loop),
     * so whichever arrives first adopts it.
     */
    boolean adopt(int attempt, TunnelStream s) {
        if (attempt != attempts) {
            return false;
        }
        if (stream == s) {
            return true;
        }
        if (state.isOver()) {
            s.reset(StreamError.CANCEL);
            return false;
        }
        if (stream != null) {
            return false;
        }
        stream = s;
        state = State.WAITING;
        HttpContent c;
        while (stream == s && (c = early.poll()) != null) {
            send(c);
        }
        if (stream != s) {
            return true; // failed while sending, and retried: that attempt is the exchange's now
        }
        if (requestDone) {
            armTimeout();
        } else if (!state.isOver()) {
            readBodyOrWait();
        }
        return true;
    }

    // ---- the request side ----------------------------------------------------------------------

    /** A chunk of the request body from the client (ownership passes). */
    void requestContent(HttpContent c) {
        if (c.decoderResult().isFailure()) {
            // A malformed chunk: what came so far must never look like a whole request.
            Throwable cause = c.decoderResult().cause();
            c.release();
            malformedBody(cause);
            return;
        }
        if (state.isOver() || requestDone && stream != null) {
            // The answer already went out (an error, or the origin answered early): drain.
            boolean last = c instanceof LastHttpContent;
            c.release();
            if (last) {
                requestComplete();
                if (state == State.DONE) {
                    handBack();
                }
            } else {
                conn.read();
            }
            return;
        }
        if (stream == null) {
            early.add(c);
            return;
        }
        send(c);
        if (!requestDone && !state.isOver()) {
            readBodyOrWait();
        }
    }

    private void malformedBody(Throwable cause) {
        String why = "malformed request body: " + (cause == null ? "decoding failed" : cause.getMessage());
        log.debug("client {}: {}", ctx().channel().remoteAddress(), why);
        conn.noMoreRequests();
        keepAlive = false;
        // The app sees an aborted request (CANCEL) either way.
        if (state == State.RELAYING || state.isOver()) {
            abort(why, StreamError.CANCEL);
        } else {
            fail(HttpResponseStatus.BAD_REQUEST, why, StreamError.CANCEL);
        }
    }

    private void send(HttpContent c) {
        boolean last = c instanceof LastHttpContent;
        ByteBuf data = c.content();
        if (data.isReadable()) {
            bodySent = true;
        }
        if (last) {
            requestComplete();
        }
        stream.sendData(data, last);
        if (last) {
            armTimeout();
        }
    }

    /** The stream can take more of the request body. */
    void writable(int attempt, TunnelStream s) {
        if (attempt == attempts && !requestDone && !state.isOver() && stream == s && s.isWritable()) {
            readBodyOrWait();
        }
    }

    // ---- the response side ---------------------------------------------------------------------

    void head(ResponseHead head, boolean fin) {
        if (state != State.WAITING) {
            return; // over, or a second head (a head arrives once per stream)
        }
        if (upgraded(head, fin)) {
            return;
        }
        HttpResponse r;
        try {
            r = OriginResponses.head(head);
        } catch (IllegalArgumentException e) {
            log.info("origin stream {} sent an invalid response: {}", stream.id(), e.getMessage());
            fail(HttpResponseStatus.BAD_GATEWAY, "origin sent an invalid response: " + e.getMessage(),
                    StreamError.PROTOCOL_ERROR);
            return;
        }
        String refusal = framing.refusal(r, fin);
        if (refusal != null) {
            fail(HttpResponseStatus.BAD_GATEWAY, refusal, StreamError.CANCEL);
            return;
        }
        cancelTimeout();
        state = State.RELAYING;
        if (!requestDone) {
            keepAlive = false; // answered before the body ended: the rest must not be mistaken for a request
        }
        keepAlive &= framing.frame(r, fin);
        HttpUtil.setKeepAlive(r, keepAlive);
        ctx().write(r);
        if (fin) {
            end();
        } else {
            conn.flushLater();
        }
    }

    /**
     * The hand-over point for an HTTP upgrade (RFC 9110 sections 7.8 and 15.2.2): a {@code 101}
     * answering a request that asked to switch protocols turns the stream into a raw byte pipe, and
     * the client channel is handed to the relay that pumps it (the lead's {@code UpgradeRelay}),
     * after which this exchange is over and the connection reads no more HTTP. Not wired yet:
     * {@link #openOn} strips the {@code Upgrade} header ("not carried yet"), so no origin answers
     * 101, and one that does anyway is refused by {@link OriginResponses#head} (no 1xx over a
     * tunnel) with a 502. Returns true once it took the exchange over.
     */
    private boolean upgraded(ResponseHead head, boolean fin) {
        return false;
    }

    /** A chunk of the response body (ownership passes). */
    void data(TunnelStream s, ByteBuf data, boolean fin) {
        int n = data.readableBytes();
        if (state == State.WAITING) {
            data.release();
            s.consume(n);
            fail(HttpResponseStatus.BAD_GATEWAY, "origin sent body data before its response head",
                    StreamError.PROTOCOL_ERROR);
            return;
        }
        if (state != State.RELAYING || framing.bodyless()) {
            data.release();
            s.consume(n);
            if (fin && state == State.RELAYING) {
                end();
            }
            return;
        }
        String excess = framing.received(n);
        if (excess != null) {
            data.release();
            s.consume(n);
            abort(excess, StreamError.PROTOCOL_ERROR);
            return;
        }
        if (n > 0) {
            ctx().write(new DefaultHttpContent(data)).addListener(f -> {
                if (f.isSuccess()) {
                    s.consume(n);
                }
            });
            px.stats().bytesToClients(n);
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
        if (state.isOver()) {
            return;
        }
        if (state != State.RELAYING) {
            abort("origin sent trailers before its response head", StreamError.PROTOCOL_ERROR);
            return;
        }
        try {
            framing.trailers(OriginResponses.trailers(headers));
        } catch (IllegalArgumentException e) {
            abort("origin sent invalid trailers: " + e.getMessage(), StreamError.PROTOCOL_ERROR);
            return;
        }
        if (fin) {
            end();
        }
    }

    private void end() {
        if (state != State.RELAYING) {
            return;
        }
        String shortBody = framing.shortBody();
        if (shortBody != null) {
            abort(shortBody, StreamError.PROTOCOL_ERROR);
            return;
        }
        state = State.DONE;
        if (!requestDone && stream != null) {
            stream.reset(StreamError.CANCEL); // answered early: the rest of the body is not wanted
        }
        HttpHeaders trailers = framing.trailers();
        LastHttpContent last = trailers == null ? LastHttpContent.EMPTY_LAST_CONTENT
                : new DefaultLastHttpContent(Unpooled.EMPTY_BUFFER, trailers);
        ctx().write(last).addListener(f -> {
            if (!f.isSuccess() || !keepAlive) {
                ended();
                ctx().close();
            } else if (requestDone) {
                handBack();
            } else {
                conn.read(); // drain what is left of the request body, then hand back
            }
        });
        conn.flushLater();
    }

    private void handBack() {
        if (!handedBack) {
            handedBack = true;
            ended();
            conn.exchangeDone(this, keepAlive);
        }
    }

    // ---- failures ------------------------------------------------------------------------------

    void streamFailed(int attempt, TunnelStream s, StreamClosedException cause) {
        if (attempt != attempts || !(stream == s || stream == null) || state.isOver()) {
            return;
        }
        stream = s;
        if (state != State.RELAYING) {
            if (cause.isRetryable() && !bodySent && attempts < MAX_ATTEMPTS) {
                tried.add(s.session());
                stream = null;
                state = State.ROUTING;
                log.debug("stream refused ({}); retrying on another tunnel", cause.getMessage());
                open();
                return;
            }
            fail(HttpResponseStatus.BAD_GATEWAY, "origin failed: " + cause.getMessage(), StreamError.CANCEL);
            return;
        }
        // Mid-response: abort the connection, so a truncated body never looks complete.
        abort("origin stream failed mid-response: " + cause.getMessage(), StreamError.PROTOCOL_ERROR);
    }

    /**
     * Ends the exchange after its head went out: the stream is reset and the client connection
     * closed, never reused, so that a short, long or broken body cannot be taken for a whole answer
     * or bleed into the next one.
     */
    private void abort(String why, StreamError reset) {
        log.info("stream {}: {}; aborting the client connection", stream == null ? 0 : stream.id(), why);
        state = State.CLOSED;
        keepAlive = false;
        if (stream != null) {
            stream.reset(reset); // a no-op on a stream that already ended
        }
        cancelTimeout();
        releaseEarly();
        ended();
        ctx().flush(); // what was valid goes out; the close then tells the client the rest is missing
        ctx().close();
    }

    private void timedOut() {
        timeout = null;
        if (state == State.ROUTING || state == State.WAITING) {
            fail(HttpResponseStatus.GATEWAY_TIMEOUT, "origin did not answer within "
                    + ErrorAnswer.human(px.config().responseTimeout()), StreamError.CANCEL);
        }
    }

    /** Answers with an error page before any response went out; resets the stream, if any. */
    private void fail(HttpResponseStatus status, String message, StreamError reset) {
        if (state.isOver()) {
            return;
        }
        state = State.DONE;
        cancelTimeout();
        releaseEarly();
        if (stream != null) { // a no-op on a stream that already ended
            stream.reset(reset);
        }
        if (!requestDone) {
            keepAlive = false;
        }
        px.stats().error(status.code());
        ctx().writeAndFlush(ErrorAnswer.of(status, message, headRequest, keepAlive)).addListener(f -> {
            if (!f.isSuccess() || !keepAlive) {
                ended();
                ctx().close();
            } else {
                handBack();
            }
        });
    }

    /** The client connection closed. */
    void clientGone() {
        state = State.CLOSED;
        cancelTimeout();
        releaseEarly();
        if (stream != null) { // a no-op on a stream that already ended
            // The origin stops reading the file; also ends a stream whose response is done but
            // whose request body will now never finish.
            stream.reset(StreamError.CANCEL);
        }
        ended();
    }

    private void releaseEarly() {
        HttpContent c;
        while ((c = early.poll()) != null) {
            c.release();
        }
    }
}
