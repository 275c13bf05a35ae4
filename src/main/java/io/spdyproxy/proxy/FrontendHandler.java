package io.spdyproxy.proxy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.ChannelOutputShutdownEvent;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import io.spdyproxy.tunnel.RequestHead;
import io.spdyproxy.tunnel.ResponseHead;
import io.spdyproxy.tunnel.StreamClosedException;
import io.spdyproxy.tunnel.StreamError;
import io.spdyproxy.tunnel.StreamHandler;
import io.spdyproxy.tunnel.TunnelSession;
import io.spdyproxy.tunnel.TunnelStream;
import io.spdyproxy.tunnel.Tunnel;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One client connection of the front end: each HTTP/1.1 request becomes one SPDY stream on the
 * tunnel its host routes to, and the answer streams back. Auto-read is off: the request body is
 * read only while the stream can take it, and a response chunk is consumed (granting the origin
 * window) only once the client's socket took it, so a slow client slows its own origin stream
 * and nothing else. Once a request is complete the next one is read ahead; a pipelined request
 * waits for the answers before it and stops further reading until then.
 *
 * <p>Threading: confined to the client channel's event loop. Stream events arrive on the tunnel's
 * loop and are re-dispatched here; the stream's own methods are safe from any thread.
 */
final class FrontendHandler extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(FrontendHandler.class);
    private static final int MAX_ATTEMPTS = 3;
    /**
     * Decoded messages of pipelined requests held while an earlier answer goes out (a GET is two:
     * head and end). More are not read; what came in one read beyond this is not answered and the
     * connection closes once the held ones are, which clients retry.
     */
    private static final int MAX_PIPELINED = 4096;

    private final ProxyContext px;
    private final String scheme;
    private final ClientTimeouts timeouts;
    private ChannelHandlerContext ctx;
    private Exchange current;
    private boolean flushPending;
    /** Messages of requests that came while {@link #current} was still being answered. */
    private final ArrayDeque<Object> pipelined = new ArrayDeque<>();
    /** The client half-closed, or pipelined past the limit: close once what is held is answered. */
    private boolean noMoreRequests;

    /**
     * Flushes once after the tasks already queued on this loop: a small response's head, body
     * and end arrive as consecutive tasks and leave in one write.
     */
    private void flushLater() {
        if (!flushPending) {
            flushPending = true;
            ctx.executor().execute(() -> {
                flushPending = false;
                ctx.flush();
            });
        }
    }

    FrontendHandler(ProxyContext px, String scheme, ClientTimeouts timeouts) {
        this.px = px;
        this.scheme = scheme;
        this.timeouts = timeouts;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        px.stats().connectionOpened();
        ctx.read();
        ctx.fireChannelActive();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (current != null && (msg instanceof HttpRequest || !pipelined.isEmpty())) {
            // A pipelined request (HTTP/1.1 allows them): it waits, in order, until the answer
            // before it has gone out. Nothing more is read meanwhile, so what waits here is at
            // most what one read brought in.
            if (noMoreRequests) {
                ReferenceCountUtil.release(msg);
            } else if (pipelined.size() >= MAX_PIPELINED) {
                ReferenceCountUtil.release(msg);
                // Keep whole requests only: drop the one cut off at the limit.
                while (!pipelined.isEmpty() && !(pipelined.peekLast() instanceof LastHttpContent)) {
                    ReferenceCountUtil.release(pipelined.pollLast());
                }
                noMoreRequests = true;
            } else {
                pipelined.add(msg);
            }
            return;
        }
        dispatch(msg);
        if (msg instanceof LastHttpContent && current != null && current.requestDone && pipelined.isEmpty()
                && !noMoreRequests) {
            // Read ahead while the answer is on its way: the channel stays registered for reading
            // instead of being switched off and on again (two syscalls) for every request.
            ctx.read();
        }
    }

    private void dispatch(Object msg) {
        if (msg instanceof HttpRequest req) {
            timeouts.headReceived();
            if (req.decoderResult().isFailure()) {
                ReferenceCountUtil.release(msg);
                badRequest(req.decoderResult().cause(), req.method().equals(HttpMethod.HEAD));
                return;
            }
            ClientRequests.Refusal refusal = ClientRequests.check(req);
            if (refusal != null) {
                ReferenceCountUtil.release(msg);
                refuse(refusal.status(), refusal.message(), req.method().equals(HttpMethod.HEAD));
                return;
            }
            String expect = req.headers().get(HttpHeaderNames.EXPECT);
            if (expect != null && !HttpHeaderValues.CONTINUE.contentEqualsIgnoreCase(expect.trim())
                    && !req.protocolVersion().equals(HttpVersion.HTTP_1_0)) {
                ReferenceCountUtil.release(msg);
                refuse(HttpResponseStatus.EXPECTATION_FAILED, "unsupported expectation: " + expect,
                        req.method().equals(HttpMethod.HEAD));
                return;
            }
            if (HttpUtil.is100ContinueExpected(req)) {
                // Here rather than in a handler ahead of us: a pipelined request gets its 100 only
                // when its turn comes, never in the middle of the answer before it.
                req.headers().remove(HttpHeaderNames.EXPECT);
                ctx.writeAndFlush(new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.CONTINUE,
                        Unpooled.EMPTY_BUFFER));
            }
            current = new Exchange(req);
            current.start();
            if (msg instanceof HttpContent c) {
                current.requestContent(c);
            }
            return;
        }
        if (msg instanceof HttpContent c) {
            if (current == null) {
                c.release();
                ctx.read();
                return;
            }
            current.requestContent(c);
            return;
        }
        ReferenceCountUtil.release(msg);
    }

    private void badRequest(Throwable cause, boolean head) {
        String why = cause == null ? "malformed request" : cause.getMessage();
        HttpResponseStatus status = why != null && why.contains("header is larger")
                ? HttpResponseStatus.REQUEST_HEADER_FIELDS_TOO_LARGE
                : why != null && why.contains("line is larger") ? HttpResponseStatus.REQUEST_URI_TOO_LONG
                : HttpResponseStatus.BAD_REQUEST;
        refuse(status, "bad request: " + why, head);
    }

    /**
     * Answers a request that goes nowhere and closes: what follows its head (a body, pipelined
     * requests) cannot be trusted to be framed as the client meant.
     */
    private void refuse(HttpResponseStatus status, String message, boolean head) {
        px.stats().error(status.code());
        noMoreRequests = true;
        FullHttpResponse r = errorResponse(status, message, head);
        r.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        ctx.writeAndFlush(r).addListener(ChannelFutureListener.CLOSE);
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof ChannelInputShutdownEvent) {
            // The client half-closed its side (it sent all its requests): answer what it asked,
            // then close. A request whose body was cut off is abandoned.
            noMoreRequests = true;
            if (current == null && pipelined.isEmpty() || current != null && !current.requestDone) {
                ctx.close();
            }
        } else if (evt instanceof ChannelOutputShutdownEvent) {
            // Our output is gone (a failed write shut it): nothing more can reach the client, and
            // a failed write never grants the origin window, so the exchange would hang.
            ctx.close();
        }
        ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        px.stats().connectionClosed();
        Object held;
        while ((held = pipelined.poll()) != null) {
            ReferenceCountUtil.release(held);
        }
        if (current != null) {
            current.clientGone();
        }
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        log.debug("client connection {} failed: {}", ctx.channel().remoteAddress(), cause.toString());
        ctx.close();
    }

    static String human(java.time.Duration d) {
        return d.toMillis() % 1000 == 0 ? d.toSeconds() + " s" : d.toMillis() + " ms";
    }

    /** An error page; a HEAD request gets its head alone (RFC 9110 section 9.3.2). */
    static FullHttpResponse errorResponse(HttpResponseStatus status, String message, boolean head) {
        ByteBuf body = Unpooled.copiedBuffer(message + "\n", StandardCharsets.UTF_8);
        int length = body.readableBytes();
        if (head) {
            body.release();
            body = Unpooled.EMPTY_BUFFER;
        }
        FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, body);
        r.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain; charset=utf-8");
        r.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, length);
        r.headers().set(HttpHeaderNames.CACHE_CONTROL, "no-store");
        return r;
    }

    /** One request and its response. */
    private final class Exchange {
        private final HttpRequest request;
        /** The request as the origin gets it (with X-Forwarded-*), made once for every attempt. */
        private HttpRequest forwarded;
        private final boolean headRequest;
        private final boolean requestHasBody;
        private final ArrayDeque<HttpContent> early = new ArrayDeque<>();
        private final Set<TunnelSession> tried = new HashSet<>();
        private boolean keepAlive;
        private TunnelStream stream;
        private int attempts;
        private boolean bodySent;
        private boolean requestDone;
        private boolean responseStarted;
        private boolean responseBodyless;
        private boolean finished;
        private boolean gone;
        private ScheduledFuture<?> timeout;
        private HttpHeaders trailers;
        private boolean counted;
        /** The client asked to switch protocols (and sent no body): the stream stays open for its bytes. */
        private final boolean upgradeRequested;
        /** Set once the origin switched protocols: the connection is a byte pipe from then on. */
        private UpgradeRelay upgraded;
        /** The stream was opened without its end, for an upgrade the origin may decline. */
        private boolean openForUpgrade;
        /** The origin's declared body length, or -1 (none, or a bodyless answer); and what came. */
        private long declaredLength = -1;
        private long bodyReceived;

        Exchange(HttpRequest request) {
            this.request = request;
            this.headRequest = request.method().equals(HttpMethod.HEAD);
            this.requestHasBody = HttpUtil.isTransferEncodingChunked(request)
                    || HttpUtil.getContentLength(request, 0L) > 0;
            this.requestDone = !requestHasBody;
            this.upgradeRequested = !requestHasBody && RequestHead.upgradeOf(request) != null;
            this.keepAlive = HttpUtil.isKeepAlive(request);
            if (requestDone) {
                timeouts.requestComplete();
            }
        }

        private void requestComplete() {
            requestDone = true;
            timeouts.requestComplete();
        }

        void start() {
            px.stats().requestStarted();
            open();
        }

        /** The origin's time to answer runs from the end of the request, not from its start. */
        private void armTimeout() {
            if (timeout == null && !finished) {
                timeout = ctx.executor().schedule(this::timedOut, px.config().responseTimeout().toNanos(),
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
         * Reads more of the request body while the stream can take it; otherwise the origin is
         * the one holding things up (it grants no window, or its link is full), and the response
         * timeout runs so that an origin that never reads cannot hold the client forever.
         */
        private void readBodyOrWait() {
            if (stream.isWritable()) {
                if (!responseStarted) {
                    cancelTimeout();
                }
                ctx.read();
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

        private void open() {
            String host = request.headers().get(HttpHeaderNames.HOST);
            String name = px.router().route(host);
            Tunnel tunnel = px.registry().pick(name, tried);
            if (tunnel == null) {
                fail(HttpResponseStatus.SERVICE_UNAVAILABLE, tried.isEmpty()
                        ? "no tunnel connected for '" + name + "'"
                        : "no tunnel could take the request for '" + name + "'");
                return;
            }
            int attempt = ++attempts;
            TunnelSession session = tunnel.session();
            if (forwarded == null) {
                String client = ((InetSocketAddress) ctx.channel().remoteAddress()).getAddress().getHostAddress();
                forwarded = ClientRequests.forwarded(request, client, scheme, px.config().trustForwardedFor());
                if (!upgradeRequested) {
                    forwarded.headers().remove(HttpHeaderNames.UPGRADE); // with a body it is no upgrade
                }
            }
            // An upgrade travels only to an origin that said it carries one (a legacy one never
            // sees the Upgrade header); its stream stays open for the client's bytes.
            openForUpgrade = upgradeRequested && session.supportsUpgrade();
            session.open(new RequestHead(forwarded, scheme), 3, !requestHasBody && !openForUpgrade,
                    new Attempt(attempt)).whenComplete((s, e) ->
                    ctx.executor().execute(() -> opened(attempt, session, s, e)));
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
                if (!gone && !finished && e instanceof StreamClosedException se && se.isRetryable()
                        && attempts < MAX_ATTEMPTS) {
                    open();
                } else if (!finished) {
                    fail(HttpResponseStatus.BAD_GATEWAY, "tunnel refused the request: " + e.getMessage());
                }
                return;
            }
            adopt(s, true);
        }

        /**
         * Takes {@code s} as this exchange's stream. Its events may overtake the newStream
         * future's callback (they come from another loop), so whichever arrives first adopts it.
         */
        private boolean adopt(TunnelStream s, boolean sendBody) {
            if (stream == s) {
                return true;
            }
            if (gone || finished) {
                s.reset(StreamError.CANCEL);
                return false;
            }
            if (stream != null) {
                return false;
            }
            stream = s;
            if (!sendBody) {
                return true;
            }
            HttpContent c;
            while ((c = early.poll()) != null) {
                send(c);
            }
            if (requestDone) {
                armTimeout();
            } else if (!finished) {
                readBodyOrWait();
            }
            return true;
        }

        void requestContent(HttpContent c) {
            if (c.decoderResult().isFailure()) {
                // A malformed chunk: what came so far must never look like a whole request.
                Throwable cause = c.decoderResult().cause();
                c.release();
                malformedBody(cause);
                return;
            }
            if (finished || gone || requestDone && stream != null) {
                // The answer already went out (an error, or the origin answered early): drain.
                boolean last = c instanceof LastHttpContent;
                c.release();
                if (last) {
                    requestComplete();
                    if (finished) {
                        next();
                    }
                } else {
                    ctx.read();
                }
                return;
            }
            if (stream == null) {
                early.add(c);
                return;
            }
            send(c);
            if (!requestDone) {
                readBodyOrWait();
            }
        }

        private void malformedBody(Throwable cause) {
            String why = "malformed request body: " + (cause == null ? "decoding failed" : cause.getMessage());
            log.debug("client {}: {}", ctx.channel().remoteAddress(), why);
            noMoreRequests = true;
            keepAlive = false;
            if (stream != null) {
                stream.reset(StreamError.CANCEL); // the app sees an aborted request
            }
            if (responseStarted || finished) {
                abort(why);
            } else {
                fail(HttpResponseStatus.BAD_REQUEST, why);
            }
        }

        private void send(HttpContent c) {
            if (openForUpgrade) {
                // An upgrade request has no body: its end is not the stream's, which stays open
                // for the client's bytes after a 101 (or is ended when the origin declines).
                c.release();
                return;
            }
            boolean last = c instanceof LastHttpContent;
            ByteBuf data = c.content();
            if (data.isReadable()) {
                bodySent = true;
            }
            stream.sendData(data, last);
            if (last) {
                requestComplete();
                armTimeout();
            }
        }

        /** The stream events of one attempt, re-dispatched from the tunnel's loop to ours. */
        private final class Attempt implements StreamHandler {
            private final int attempt;

            Attempt(int attempt) {
                this.attempt = attempt;
            }

            @Override
            public void onHead(TunnelStream s, ResponseHead head, boolean endOfStream) {
                ctx.executor().execute(() -> {
                    if (attempt == attempts && adopt(s, true)) {
                        head(head, endOfStream);
                    }
                });
            }

            @Override
            public void onTrailers(TunnelStream s, HttpHeaders trailers, boolean endOfStream) {
                ctx.executor().execute(() -> {
                    if (attempt == attempts && adopt(s, true)) {
                        trailers(trailers, endOfStream);
                    }
                });
            }

            @Override
            public void onData(TunnelStream s, ByteBuf data, boolean endOfStream) {
                ctx.executor().execute(() -> {
                    if (attempt == attempts && upgraded != null && stream == s) {
                        upgraded.data(data, endOfStream);
                    } else if (attempt == attempts && adopt(s, true)) {
                        data(s, data, endOfStream);
                    } else {
                        int n = data.readableBytes();
                        data.release();
                        s.consume(n);
                    }
                });
            }

            @Override
            public void onWritabilityChanged(TunnelStream s) {
                ctx.executor().execute(() -> {
                    if (attempt == attempts && upgraded != null && stream == s) {
                        upgraded.writable();
                    } else if (attempt == attempts && !requestDone && !finished && stream == s && s.isWritable()) {
                        readBodyOrWait();
                    }
                });
            }

            @Override
            public void onClosed(TunnelStream s, StreamClosedException cause) {
                if (cause != null || upgraded != null) {
                    ctx.executor().execute(() -> {
                        if (attempt == attempts && upgraded != null && stream == s) {
                            upgraded.closed(cause);
                        } else if (cause != null && attempt == attempts
                                && (stream == s || stream == null && !finished && !gone)) {
                            stream = s;
                            streamFailed(s, cause);
                        }
                    });
                }
            }
        }

        private void trailers(HttpHeaders headers, boolean fin) {
            if (finished || gone) {
                return;
            }
            if (!responseStarted) {
                abort("origin sent trailers before its response head");
                return;
            }
            try {
                trailers = OriginResponses.trailers(headers);
            } catch (IllegalArgumentException e) {
                abort("origin sent invalid trailers: " + e.getMessage());
                return;
            }
            if (fin) {
                end();
            }
        }

        private void head(ResponseHead head, boolean fin) {
            if (finished || gone) {
                return;
            }
            if (responseStarted) {
                return; // a head arrives once per stream
            }
            HttpResponse r;
            try {
                r = OriginResponses.head(head, openForUpgrade);
            } catch (IllegalArgumentException e) {
                stream.reset(StreamError.PROTOCOL_ERROR);
                log.info("origin stream {} sent an invalid response: {}", stream.id(), e.getMessage());
                fail(HttpResponseStatus.BAD_GATEWAY, "origin sent an invalid response: " + e.getMessage());
                return;
            }
            int code = r.status().code();
            if (code == 101) {
                switchProtocols(r, fin);
                return;
            }
            if (openForUpgrade) {
                openForUpgrade = false;
                stream.sendData(Unpooled.EMPTY_BUFFER, true); // the upgrade was declined: the request ends here
            }
            responseBodyless = headRequest || code == 204 || code == 304;
            if (fin && !responseBodyless && OriginResponses.declaredLength(r) > 0) {
                fail(HttpResponseStatus.BAD_GATEWAY, "origin declared a body of "
                        + OriginResponses.declaredLength(r) + " bytes and sent none");
                return;
            }
            cancelTimeout();
            responseStarted = true;
            if (!requestDone) {
                keepAlive = false; // answered before the body ended: the rest must not be mistaken for a request
            }
            if (!responseBodyless) {
                declaredLength = OriginResponses.declaredLength(r);
                if (declaredLength < 0) {
                    if (fin) {
                        declaredLength = 0;
                        HttpUtil.setContentLength(r, 0);
                    } else if (request.protocolVersion().equals(HttpVersion.HTTP_1_0)) {
                        keepAlive = false; // no chunked coding in HTTP/1.0: the close ends the body
                    } else {
                        HttpUtil.setTransferEncodingChunked(r, true);
                    }
                }
            }
            HttpUtil.setKeepAlive(r, keepAlive);
            ctx.write(r);
            if (fin) {
                end();
            } else {
                flushLater();
            }
        }

        /**
         * The origin switched protocols: the 101 goes to the client and the connection becomes a
         * byte pipe through this stream ({@link UpgradeRelay}); no further request is read on it.
         */
        private void switchProtocols(HttpResponse r, boolean fin) {
            if (fin) {
                fail(HttpResponseStatus.BAD_GATEWAY, "origin switched protocols and closed the stream at once");
                return;
            }
            cancelTimeout();
            responseStarted = true;
            finished = true;
            noMoreRequests = true;
            ended(); // not a request in flight any more: graceful shutdown does not wait for it
            if (current == this) {
                current = null;
            }
            Object held;
            while ((held = pipelined.poll()) != null) {
                ReferenceCountUtil.release(held); // bytes after an upgrade request belong to no request
            }
            upgraded = UpgradeRelay.takeOver(ctx.channel(), stream, r, px.stats()::connectionClosed);
        }

        private void data(TunnelStream s, ByteBuf data, boolean fin) {
            int n = data.readableBytes();
            if (finished || gone || responseBodyless) {
                data.release();
                s.consume(n);
                if (fin && !finished && !gone) {
                    end();
                }
                return;
            }
            bodyReceived += n;
            if (declaredLength >= 0 && bodyReceived > declaredLength) {
                data.release();
                s.consume(n);
                abort("origin sent more than its Content-Length of " + declaredLength);
                return;
            }
            if (n > 0) {
                ctx.write(new DefaultHttpContent(data)).addListener(f -> {
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
                flushLater();
            }
        }

        private void end() {
            if (finished) {
                return;
            }
            if (declaredLength >= 0 && bodyReceived < declaredLength) {
                abort("origin ended the body after " + bodyReceived + " of its Content-Length of " + declaredLength);
                return;
            }
            finished = true;
            if (!requestDone && stream != null) {
                stream.reset(StreamError.CANCEL); // answered early: the rest of the body is not wanted
            }
            LastHttpContent last = trailers == null ? LastHttpContent.EMPTY_LAST_CONTENT
                    : new DefaultLastHttpContent(Unpooled.EMPTY_BUFFER, trailers);
            ctx.write(last).addListener(f -> {
                if (!f.isSuccess() || !keepAlive) {
                    ended();
                    ctx.close();
                } else if (requestDone) {
                    next();
                } else {
                    ctx.read(); // drain what is left of the request body, then next()
                }
            });
            flushLater();
        }

        private void next() {
            ended();
            if (current == this) {
                current = null;
            }
            if (!keepAlive || !ctx.channel().isActive()) {
                ctx.close();
                return;
            }
            timeouts.exchangeDone();
            Object m;
            while ((m = pipelined.peek()) != null && !(m instanceof HttpRequest && current != null)) {
                dispatch(pipelined.poll());
            }
            if (noMoreRequests && current == null && pipelined.isEmpty()) {
                ctx.close();
            } else if (pipelined.isEmpty() && !noMoreRequests) {
                ctx.read(); // nothing to do when the read-ahead is still pending
            }
        }

        private void streamFailed(TunnelStream s, StreamClosedException cause) {
            if (finished || gone) {
                return;
            }
            if (!responseStarted) {
                if (cause.isRetryable() && !bodySent && attempts < MAX_ATTEMPTS) {
                    tried.add(s.session());
                    stream = null;
                    log.debug("stream refused ({}); retrying on another tunnel", cause.getMessage());
                    open();
                    return;
                }
                fail(HttpResponseStatus.BAD_GATEWAY, "origin failed: " + cause.getMessage());
                return;
            }
            // Mid-response: abort the connection, so a truncated body never looks complete.
            abort("origin stream failed mid-response: " + cause.getMessage());
        }

        /**
         * Ends the exchange after its head went out: the stream is reset and the client connection
         * closed, never reused, so that a short, long or broken body cannot be taken for a whole
         * answer or bleed into the next one.
         */
        private void abort(String why) {
            log.info("stream {}: {}; aborting the client connection", stream == null ? 0 : stream.id(), why);
            if (stream != null) {
                stream.reset(StreamError.PROTOCOL_ERROR); // a no-op on a stream that already ended
            }
            finished = true;
            keepAlive = false;
            cancelTimeout();
            releaseEarly();
            ended();
            ctx.flush(); // what was valid goes out; the close then tells the client the rest is missing
            ctx.close();
        }

        private void timedOut() {
            if (!responseStarted && !finished && !gone) {
                if (stream != null) {
                    stream.reset(StreamError.CANCEL);
                }
                fail(HttpResponseStatus.GATEWAY_TIMEOUT, "origin did not answer within "
                        + human(px.config().responseTimeout()));
            }
        }

        /** Answers with an error before any response went out. */
        private void fail(HttpResponseStatus status, String message) {
            if (finished) {
                return;
            }
            finished = true;
            cancelTimeout();
            releaseEarly();
            if (stream != null) { // a no-op on a stream that already ended
                stream.reset(StreamError.CANCEL);
            }
            FullHttpResponse r = errorResponse(status, message, headRequest);
            if (!requestDone) {
                keepAlive = false;
            }
            HttpUtil.setKeepAlive(r, keepAlive);
            px.stats().error(status.code());
            ctx.writeAndFlush(r).addListener(f -> {
                if (!f.isSuccess() || !keepAlive) {
                    ended();
                    ctx.close();
                } else {
                    next();
                }
            });
        }

        void clientGone() {
            gone = true;
            cancelTimeout();
            releaseEarly();
            if (stream != null) { // a no-op on a stream that already ended
                // The origin stops reading the file; also ends a stream whose response is done but
                // whose request body will now never finish.
                stream.reset(StreamError.CANCEL);
            }
            finished = true;
            ended();
        }

        private void releaseEarly() {
            HttpContent c;
            while ((c = early.poll()) != null) {
                c.release();
            }
        }
    }
}
