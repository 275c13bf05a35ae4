package io.spdyproxy.proxy;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.ChannelOutputShutdownEvent;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import io.spdyproxy.tunnel.TunnelSession;
import java.util.ArrayDeque;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One HTTP/1.1 client connection of the front end: reads requests one after the other, answers
 * what cannot go anywhere (a malformed head, a refused target, an unsupported expectation) itself,
 * and hands each other request to an {@link Exchange}, one at a time, in order. Auto-read is off:
 * bytes are read only when the exchange can take its body or the connection can take the next
 * request. Once a request is complete the next one is read ahead; a pipelined request waits for the
 * answers before it and stops further reading until then (RFC 9112 section 9.3.2).
 *
 * <p>Threading: confined to the client channel's event loop. That loop may change once, before the
 * first stream opens, to the loop of the tunnel the first request goes to ({@link LoopAffinity}).
 */
final class FrontendHandler extends ChannelInboundHandlerAdapter implements ExchangeConnection {
    private static final Logger log = LoggerFactory.getLogger(FrontendHandler.class);
    /**
     * Decoded messages of pipelined requests held while an earlier answer goes out (a GET is two:
     * head and end). More are not read; what came in one read beyond this is not answered and the
     * connection closes once the held ones are, which clients retry.
     */
    private static final int MAX_PIPELINED = 4096;

    private final ProxyContext px;
    private final String scheme;
    private final ClientTimeouts timeouts;
    private final LoopAffinity affinity;
    private ChannelHandlerContext ctx;
    private Exchange current;
    private boolean flushPending;
    /** Messages of requests that came while {@link #current} was still being answered. */
    private final ArrayDeque<Object> pipelined = new ArrayDeque<>();
    /** The client half-closed, or pipelined past the limit: close once what is held is answered. */
    private boolean noMoreRequests;

    FrontendHandler(ProxyContext px, String scheme, ClientTimeouts timeouts) {
        this(px, scheme, timeouts, px.config().loopAffinity());
    }

    FrontendHandler(ProxyContext px, String scheme, ClientTimeouts timeouts, boolean affinity) {
        this.px = px;
        this.scheme = scheme;
        this.timeouts = timeouts;
        this.affinity = new LoopAffinity(affinity);
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        affinity.init(ctx);
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
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
        if (msg instanceof LastHttpContent && current != null && current.requestDone() && pipelined.isEmpty()
                && !noMoreRequests) {
            // Read ahead while the answer is on its way: the channel stays registered for reading
            // instead of being switched off and on again (two syscalls) for every request.
            read();
        }
    }

    private void dispatch(Object msg) {
        if (msg instanceof HttpRequest req) {
            timeouts.headReceived();
            boolean head = req.method().equals(HttpMethod.HEAD);
            if (req.decoderResult().isFailure()) {
                ReferenceCountUtil.release(msg);
                badRequest(req, req.decoderResult().cause(), head);
                return;
            }
            ClientRequests.Refusal refusal = ClientRequests.check(req);
            if (refusal != null) {
                ReferenceCountUtil.release(msg);
                refuse(req, refusal.status(), refusal.message(), head);
                return;
            }
            String unmet = ClientRequests.unmetExpectation(req);
            if (unmet != null) {
                ReferenceCountUtil.release(msg);
                refuse(req, HttpResponseStatus.EXPECTATION_FAILED, "unsupported expectation: " + unmet, head);
                return;
            }
            if (HttpUtil.is100ContinueExpected(req)) {
                // Here rather than in a handler ahead of us: a pipelined request gets its 100 only
                // when its turn comes, never in the middle of the answer before it.
                req.headers().remove(HttpHeaderNames.EXPECT);
                ctx.writeAndFlush(new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.CONTINUE,
                        Unpooled.EMPTY_BUFFER));
            }
            current = new Exchange(this, px, timeouts, scheme, req);
            current.start();
            if (msg instanceof HttpContent c) {
                current.request().content(c);
            }
            return;
        }
        if (msg instanceof HttpContent c) {
            if (current == null) {
                c.release();
                read();
                return;
            }
            current.request().content(c);
            return;
        }
        ReferenceCountUtil.release(msg);
    }

    private void badRequest(HttpRequest req, Throwable cause, boolean head) {
        String why = cause == null ? "malformed request" : cause.getMessage();
        HttpResponseStatus status = why != null && why.contains("header is larger")
                ? HttpResponseStatus.REQUEST_HEADER_FIELDS_TOO_LARGE
                : why != null && why.contains("line is larger") ? HttpResponseStatus.REQUEST_URI_TOO_LONG
                : HttpResponseStatus.BAD_REQUEST;
        refuse(req, status, "bad request: " + why, head);
    }

    /**
     * Answers a request that goes nowhere and closes: what follows its head (a body, pipelined
     * requests) cannot be trusted to be framed as the client meant.
     */
    private void refuse(HttpRequest req, HttpResponseStatus status, String message, boolean head) {
        RequestTrace.refused(px, this, req, scheme, status.code());
        px.stats().error(status.code());
        noMoreRequests = true;
        ctx.writeAndFlush(ErrorAnswer.of(status, message, head, false)).addListener(ChannelFutureListener.CLOSE);
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof ChannelInputShutdownEvent) {
            // The client half-closed its side (it sent all its requests): answer what it asked,
            // then close. A request whose body was cut off is abandoned.
            noMoreRequests = true;
            if (current == null && pipelined.isEmpty() || current != null && !current.requestDone()) {
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

    // ---- ExchangeConnection -------------------------------------------------------------------

    @Override
    public ChannelHandlerContext ctx() {
        return ctx;
    }

    @Override
    public void read() {
        affinity.read();
    }

    /**
     * Flushes once after the tasks already queued on this loop: a small response's head, body and
     * end arrive together (one read of the tunnel, or consecutive tasks) and leave in one write.
     */
    @Override
    public void flushLater() {
        if (!flushPending) {
            flushPending = true;
            ctx.executor().execute(() -> {
                flushPending = false;
                ctx.flush();
            });
        }
    }

    @Override
    public void switchedProtocols() {
        noMoreRequests = true;
        current = null;
        Object held;
        while ((held = pipelined.poll()) != null) {
            ReferenceCountUtil.release(held); // bytes after an upgrade request belong to no request
        }
    }

    @Override
    public void noMoreRequests() {
        noMoreRequests = true;
    }

    @Override
    public void settleOn(TunnelSession session, Runnable then) {
        affinity.settleOn(session.eventLoop(), then);
    }

    @Override
    public void exchangeDone(Exchange e, boolean keepAlive) {
        if (current == e) {
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
            read(); // nothing to do when the read-ahead is still pending
        }
    }
}
