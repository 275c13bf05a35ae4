package io.spdyproxy.proxy;

import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.util.concurrent.ScheduledFuture;
import io.spdyproxy.observe.RequestRecord.Outcome;
import io.spdyproxy.proxy.access.Admission;
import io.spdyproxy.tunnel.RequestHead;
import io.spdyproxy.tunnel.StreamClosedException;
import io.spdyproxy.tunnel.StreamError;
import io.spdyproxy.tunnel.Tunnel;
import io.spdyproxy.tunnel.TunnelSession;
import io.spdyproxy.tunnel.TunnelStream;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One request and its response, as a state machine: routes the request to a tunnel, opens a stream
 * there (again on another tunnel when one refused it unprocessed), and answers failures itself (503
 * no tunnel, 502 origin failed, 504 no answer in time; an abort once the head went out). The body
 * travels each way in its own class, {@link RequestRelay} and {@link ResponseRelay}, with
 * backpressure; they change the {@link State} only through the transitions here.
 *
 * <p>Threading: confined to the client channel's event loop. Stream events reach it through
 * {@link ExchangeEvents}, on that loop; the stream's own methods are safe from any thread and run
 * inline when the tunnel shares the loop, so every state change precedes the call that may report
 * back (a reset reports the stream's close at once).
 */
final class Exchange {
    private static final Logger log = LoggerFactory.getLogger(Exchange.class);
    private static final int MAX_ATTEMPTS = 3;

    /** The exchange's lifecycle (the request body's progress is {@link RequestRelay}'s). */
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

    private final ExchangeConnection conn;
    private final ProxyContext px;
    private final ClientTimeouts timeouts;
    private final String scheme;
    private final HttpRequest request;
    /** The request as the origin gets it (with X-Forwarded-*), made once for every attempt. */
    private HttpRequest forwarded;
    private final boolean headRequest;
    private final boolean requestHasBody;
    /** Sessions that refused this request: a retry goes elsewhere. */
    private final Set<TunnelSession> tried = new HashSet<>();
    private final ResponseRelay response;
    private final RequestRelay body;
    private State state = State.ROUTING;
    private boolean keepAlive;
    private TunnelStream stream;
    private int attempts;
    private ScheduledFuture<?> timeout;
    private boolean counted;
    private boolean handedBack;
    /** The whole answer was written: a client leaving afterwards (mid request body) aborted nothing. */
    private boolean answered;
    /** The client asked to switch protocols (and sent no body): the stream stays open for its bytes. */
    private final boolean upgradeRequested;
    /** This attempt's stream was opened without its end, for an upgrade the origin may decline. */
    private boolean openForUpgrade;
    /** Set once the origin switched protocols: the connection is a byte pipe from then on. */
    private UpgradeRelay upgraded;
    /** What the access log, metrics and dashboard hear of this request when it ends. */
    private final RequestTrace trace = new RequestTrace();
    private String client;
    /** The tunnel name the request's host routes to. */
    private String tunnelName;
    /** The visitor gate's answer (proxy.access): the tunnel's paces, and a concurrency slot to give back. */
    private Admission admission = Admission.OPEN;

    Exchange(ExchangeConnection conn, ProxyContext px, ClientTimeouts timeouts, String scheme, HttpRequest request) {
        this.conn = conn;
        this.px = px;
        this.timeouts = timeouts;
        this.scheme = scheme;
        this.request = request;
        this.headRequest = request.method().equals(HttpMethod.HEAD);
        this.requestHasBody = HttpUtil.isTransferEncodingChunked(request) || HttpUtil.getContentLength(request, 0L) > 0;
        this.keepAlive = HttpUtil.isKeepAlive(request);
        this.upgradeRequested = !requestHasBody && RequestHead.upgradeOf(request) != null;
        this.response = new ResponseRelay(this, conn, px.stats(), request, headRequest);
        this.body = new RequestRelay(this, conn, timeouts, requestHasBody);
    }

    RequestTrace trace() {
        return trace;
    }

    State state() {
        return state;
    }

    boolean requestDone() {
        return body.done();
    }

    RequestRelay request() {
        return body;
    }

    /** The stream of the current attempt, or null while routing. */
    TunnelStream stream() {
        return stream;
    }

    private ChannelHandlerContext ctx() {
        return conn.ctx();
    }

    void start() {
        px.stats().requestStarted();
        // The visitor gate, once per request, before any stream opens (it may answer later: bcrypt).
        String name = px.router().route(request.headers().get(HttpHeaderNames.HOST));
        tunnelName = name;
        trace.tunnel(name); // a refusal is logged with its tunnel too
        px.access().admit(name, request, ctx().channel().remoteAddress(), px.config().trustForwardedFor(),
                ctx().executor(), a -> {
                    admission = a;
                    trace.user(a.user());
                    if (state.isOver()) {
                        a.release(); // the client left while it was decided
                    } else if (!a.allowed()) {
                        fail(a.status(), a.reason(), StreamError.CANCEL, a.headers());
                    } else {
                        open();
                    }
                });
    }

    Admission admission() {
        return admission;
    }

    /** The origin's time to answer runs from the end of the request, not from its start. */
    void armTimeout() {
        if (timeout == null && !state.isOver()) {
            timeout = ctx().executor().schedule(this::timedOut, px.config().responseTimeout().toNanos(),
                    TimeUnit.NANOSECONDS);
        }
    }

    void cancelTimeout() {
        if (timeout != null) {
            timeout.cancel(false);
            timeout = null;
        }
    }

    /** The exchange is over: {@code completed} says whether its whole answer went out. */
    private void ended(boolean completed) {
        if (!counted) {
            counted = true;
            admission.release();
            px.stats().requestEnded();
            trace.report(px.listeners().current(), request, clientAddress(), conn.protocol(request), scheme, completed);
        }
    }

    // ---- routing and opening -------------------------------------------------------------------

    private void open() {
        String name = tunnelName; // routed once, in start(); a retry goes to the same name
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
            if (!upgradeRequested) {
                forwarded.headers().remove(HttpHeaderNames.UPGRADE); // with a body it is no upgrade
            }
        }
        // An upgrade travels only to an origin that said it carries one (a legacy one never sees
        // the Upgrade header); its stream stays open for the client's bytes.
        openForUpgrade = upgradeRequested && session.supportsUpgrade();
        ExchangeEvents events = new ExchangeEvents(this, attempt, ctx());
        session.open(new RequestHead(forwarded, scheme), 3, !requestHasBody && !openForUpgrade, events)
                .whenComplete((s, e) -> events.deliver(() -> opened(attempt, session, s, e)));
    }

    private String clientAddress() {
        if (client == null) {
            client = RequestTrace.clientOf(ctx().channel()); // once: X-Forwarded-For and the record
        }
        return client;
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
        body.streamOpened(s);
        return true;
    }

    /** The stream of {@code attempt} can take more of the request body. */
    void writable(int attempt, TunnelStream s) {
        if (attempt == attempts && stream == s && s.isWritable()) {
            body.writable();
        }
    }

    // ---- transitions the request and response sides ask for ---------------------------------

    ResponseRelay response() {
        return response;
    }

    int streamId() {
        return stream == null ? 0 : stream.id();
    }

    boolean keepAlive() {
        return keepAlive;
    }

    /** The answer's framing cannot survive keep-alive (its body ends with the connection). */
    void noKeepAlive() {
        keepAlive = false;
    }

    /** The response head goes to the client: WAITING → RELAYING. */
    void responseStarted(int status) {
        cancelTimeout();
        trace.responseStarted(status);
        state = State.RELAYING;
        if (!body.done()) {
            keepAlive = false; // answered before the body ended: the rest must not be mistaken for a request
        }
    }

    /** The response's end goes to the client: RELAYING → DONE. */
    void responseEnded() {
        state = State.DONE;
        if (!body.done() && stream != null) {
            stream.reset(StreamError.CANCEL); // answered early: the rest of the body is not wanted
        }
    }

    /** The response's end was written (or failed to be). */
    void lastWritten(boolean success) {
        answered = success;
        if (!success || !keepAlive) {
            ended(success);
            ctx().close();
        } else if (body.done()) {
            handBack();
        } else {
            conn.read(); // drain what is left of the request body, then hand back
        }
    }

    /** The whole exchange is over: the connection may go on with the next request. */
    void handBack() {
        if (!handedBack) {
            handedBack = true;
            ended(true);
            conn.exchangeDone(this, keepAlive);
        }
    }

    // ---- upgrades ------------------------------------------------------------------------------

    /** True while this attempt's stream was left open for an upgrade (none declined it yet). */
    boolean openForUpgrade() {
        return openForUpgrade;
    }

    /** The relay of an upgraded connection, or null. */
    UpgradeRelay upgraded() {
        return upgraded;
    }

    /** The origin answered the upgrade request with something else: the request ends here. */
    void upgradeDeclined() {
        openForUpgrade = false;
        stream.sendData(io.netty.buffer.Unpooled.EMPTY_BUFFER, true);
    }

    /**
     * The origin switched protocols: WAITING → DONE, the 101 goes to the client and the connection
     * becomes a byte pipe through this stream ({@link UpgradeRelay}); no request is read after it.
     */
    void switchProtocols(io.netty.handler.codec.http.HttpResponse head) {
        cancelTimeout();
        state = State.DONE;
        handedBack = true;
        trace.responseStarted(head.status().code());
        ended(true); // not a request in flight any more: a graceful shutdown does not wait for it
        conn.switchedProtocols();
        upgraded = UpgradeRelay.takeOver(ctx().channel(), stream, head, px.stats()::connectionClosed, admission);
    }

    // ---- failures ------------------------------------------------------------------------------

    void streamFailed(int attempt, TunnelStream s, StreamClosedException cause) {
        if (attempt != attempts || !(stream == s || stream == null) || state.isOver()) {
            return;
        }
        stream = s;
        if (state != State.RELAYING) {
            if (cause.isRetryable() && !body.sentAny() && attempts < MAX_ATTEMPTS) {
                tried.add(s.session());
                stream = null;
                state = State.ROUTING;
                log.debug("stream refused ({}); retrying on another tunnel", cause.getMessage());
                open();
                return;
            }
            trace.outcome(Outcome.ORIGIN_RESET);
            fail(HttpResponseStatus.BAD_GATEWAY, "origin failed: " + cause.getMessage(), StreamError.CANCEL);
            return;
        }
        // Mid-response: abort the connection, so a truncated body never looks complete.
        trace.outcome(Outcome.ORIGIN_RESET);
        abort("origin stream failed mid-response: " + cause.getMessage(), StreamError.PROTOCOL_ERROR);
    }

    /**
     * Ends the exchange after its head went out: the stream is reset and the client connection
     * closed, never reused, so that a short, long or broken body cannot be taken for a whole answer
     * or bleed into the next one.
     */
    void abort(String why, StreamError reset) {
        log.info("stream {}: {}; aborting the client connection", stream == null ? 0 : stream.id(), why);
        state = State.CLOSED;
        keepAlive = false;
        if (stream != null) {
            stream.reset(reset); // a no-op on a stream that already ended
        }
        cancelTimeout();
        body.releaseHeld();
        ended(false);
        ctx().flush(); // what was valid goes out; the close then tells the client the rest is missing
        ctx().close();
    }

    private void timedOut() {
        timeout = null;
        if (state == State.ROUTING || state == State.WAITING) {
            trace.outcome(Outcome.TIMEOUT);
            fail(HttpResponseStatus.GATEWAY_TIMEOUT, "origin did not answer within "
                    + ErrorAnswer.human(px.config().responseTimeout()), StreamError.CANCEL);
        }
    }

    /** Answers with an error page before any response went out; resets the stream, if any. */
    void fail(HttpResponseStatus status, String message, StreamError reset) {
        fail(status, message, reset, io.netty.handler.codec.http.EmptyHttpHeaders.INSTANCE);
    }

    /** The same, with headers of the answer's own (a refusal's WWW-Authenticate or Retry-After). */
    void fail(HttpResponseStatus status, String message, StreamError reset, io.netty.handler.codec.http.HttpHeaders extra) {
        if (state.isOver()) {
            return;
        }
        state = State.DONE;
        cancelTimeout();
        body.releaseHeld();
        if (stream != null) { // a no-op on a stream that already ended
            stream.reset(reset);
        }
        if (!body.done()) {
            keepAlive = false;
        }
        px.stats().error(status.code());
        trace.responseStarted(status.code());
        io.netty.handler.codec.http.FullHttpResponse answer = ErrorAnswer.of(status, message, headRequest, keepAlive);
        answer.headers().add(extra);
        ctx().writeAndFlush(answer).addListener(f -> {
            if (!f.isSuccess() || !keepAlive) {
                ended(f.isSuccess());
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
        body.releaseHeld();
        if (stream != null) { // a no-op on a stream that already ended
            // The origin stops reading the file; also ends a stream whose response is done but
            // whose request body will now never finish.
            stream.reset(StreamError.CANCEL);
        }
        ended(answered);
    }
}
