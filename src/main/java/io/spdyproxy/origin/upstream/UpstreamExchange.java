package io.spdyproxy.origin.upstream;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ConnectTimeoutException;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ScheduledFuture;
import io.spdyproxy.tunnel.StreamError;
import io.spdyproxy.tunnel.BodyListener;
import io.spdyproxy.tunnel.TunnelExchange;
import java.util.ArrayDeque;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One request relayed to the app and its response relayed back, in the shape of Netty's
 * HexDumpProxy: the upstream connection reads only when the SPDY stream can take more, and each
 * request-body chunk is consumed (window granted to the peer) only once the app's socket took it.
 *
 * <p>The upstream channel is an HTTP/1.1 connection or an HTTP/2 stream channel ({@link
 * UpstreamConnector}); both speak HTTP/1 objects here. What differs is explicit: the request head
 * ({@link UpstreamHeads#request}), reuse after the response (a keep-alive connection goes back to
 * the pool, a stream just ends), and an HTTP/2 stream's RST_STREAM, relayed as a tunnel reset.
 * On HTTP/2 a body chunk is written out (and so consumed) only as the app's stream window allows.
 *
 * <p>Threading: confined to the SPDY session's event loop, which also runs the upstream channel.
 */
final class UpstreamExchange extends ChannelInboundHandlerAdapter implements BodyListener {
    private static final Logger log = LoggerFactory.getLogger(UpstreamExchange.class);
    private static final String TEXT = "text/plain; charset=utf-8";

    /** Lifecycle of one exchange. */
    private enum State {
        CONNECTING,
        SENDING,
        AWAITING_RESPONSE,
        STREAMING_RESPONSE,
        /** Answered, failed, or (after a 101) handed over to {@link UpgradedRelay}. */
        DONE
    }

    private final TunnelExchange ex;
    private final UpstreamConfig config;
    private final UpstreamConnector pool;
    private final EventLoop loop;
    /** Body chunks that arrived before the connection was ready; bounded by the stream window. */
    private final ArrayDeque<Object[]> early = new ArrayDeque<>();
    private State state = State.CONNECTING;
    /** The protocol the app is asked to switch to, or null for a plain request. */
    private String upgrade;
    private Channel upstream;
    private boolean requestComplete;
    private boolean responseComplete;
    private boolean keepAlive = true;
    private ScheduledFuture<?> responseTimer;
    /** The request's trailers, sent with its last chunk (null: none). */
    private HttpHeaders requestTrailers;
    /** The app's RST_STREAM on an HTTP/2 stream (null: none). */
    private Http2Error appReset;

    UpstreamExchange(TunnelExchange ex, UpstreamConfig config, UpstreamConnector pool, EventLoop loop) {
        this.ex = ex;
        this.config = config;
        this.pool = pool;
        this.loop = loop;
    }

    void start() {
        upgrade = UpstreamHeads.upgradeOf(ex);
        // An upgrade request is bodiless to the app; what the client sends after it waits in
        // early (unconsumed, so bounded by the stream window) for the app's 101.
        requestComplete = upgrade != null || !ex.requestHasBody();
        if (ex.requestHasBody()) {
            ex.onBody(this);
        }
        ex.onWritable(this::readMore);
        ex.onClose(cause -> loop.execute(() -> streamClosed(cause)));
        Future<Channel> f = pool.acquire(loop, upgrade != null);
        if (f.isDone()) {
            connected(f);
        } else {
            f.addListener((Future<Channel> done) -> connected(done));
        }
    }

    private void connected(Future<Channel> f) {
        if (state == State.DONE) {
            if (f.isSuccess()) {
                pool.release(f.getNow());
            }
            return;
        }
        if (!f.isSuccess()) {
            Throwable cause = f.cause();
            boolean timeout = cause instanceof ConnectTimeoutException;
            log.warn("upstream {} unreachable: {}", config.url(), cause.toString());
            if (cause instanceof UpstreamDialer.UpstreamTlsException) {
                fail(HttpResponseStatus.BAD_GATEWAY, cause.getMessage() + "\n");
                return;
            }
            fail(timeout ? HttpResponseStatus.GATEWAY_TIMEOUT : HttpResponseStatus.BAD_GATEWAY,
                    "upstream " + (timeout ? "connect timed out" : "unreachable") + ": " + config.url()
                            + (cause.getMessage() != null ? " (" + cause.getMessage() + ")" : "") + "\n");
            return;
        }
        HttpRequest request;
        try {
            request = UpstreamHeads.request(ex, config, upgrade, UpstreamConnector.isHttp2(f.getNow()));
        } catch (IllegalArgumentException e) { // not expected: the request target was checked on arrival
            pool.release(f.getNow());
            fail(HttpResponseStatus.BAD_REQUEST, "invalid request: " + e.getMessage() + "\n");
            return;
        }
        upstream = f.getNow();
        upstream.pipeline().addLast("exchange", this);
        state = State.SENDING;
        upstream.write(request).addListener(w -> {
            if (!w.isSuccess()) {
                keepAlive = false;
                fail(HttpResponseStatus.BAD_GATEWAY, "cannot send the request upstream: " + w.cause() + "\n");
            }
        });
        if ((upgrade != null || !ex.requestHasBody()) && !(request instanceof LastHttpContent)) {
            // Ends the message in HttpClientCodec's encoder, or the next request on this connection fails.
            upstream.write(LastHttpContent.EMPTY_LAST_CONTENT);
        }
        Object[] e;
        while (upgrade == null && (e = early.poll()) != null) {
            writeBody((ByteBuf) e[0], (Boolean) e[1]);
        }
        upstream.flush();
        if (requestComplete) {
            requestSent();
        }
        upstream.read();
    }

    @Override
    public void onChunk(ByteBuf chunk, boolean last) {
        if (state == State.DONE || upgrade != null && responseStarted()) {
            // Done, or the app refused the upgrade: the client's bytes have nowhere to go.
            int n = chunk.readableBytes();
            chunk.release();
            ex.consume(n);
            return;
        }
        if (upstream == null || upgrade != null) {
            early.add(new Object[] {chunk, last});
            return;
        }
        writeBody(chunk, last);
        upstream.flush();
        if (last) {
            requestSent();
        }
    }

    @Override
    public void onTrailers(HttpHeaders trailers) {
        if (!trailers.isEmpty()) {
            requestTrailers = trailers;
        }
    }

    private void writeBody(ByteBuf chunk, boolean last) {
        int n = chunk.readableBytes();
        HttpContent content = last ? new DefaultLastHttpContent(chunk) : new DefaultHttpContent(chunk);
        if (last && requestTrailers != null) {
            // Sent as a trailer section: HEADERS with END_STREAM on HTTP/2 (RFC 9113 section
            // 8.1), the chunked trailer on HTTP/1.1 (RFC 9112 section 7.1.2; a request framed by
            // Content-Length has no room for them, so they are dropped there).
            ((LastHttpContent) content).trailingHeaders().set(requestTrailers);
        }
        upstream.write(content).addListener(w -> {
            if (w.isSuccess()) {
                ex.consume(n);
            }
        });
        if (last) {
            requestComplete = true;
        }
    }

    private void requestSent() {
        if (state == State.SENDING) {
            state = State.AWAITING_RESPONSE;
        }
        if (responseTimer == null && !responseStarted()) {
            responseTimer = loop.schedule(this::responseTimedOut, config.responseTimeout().toNanos(),
                    TimeUnit.NANOSECONDS);
        }
    }

    private void cancelTimer() {
        if (responseTimer != null) {
            responseTimer.cancel(false);
        }
    }

    private boolean responseStarted() {
        return state == State.STREAMING_RESPONSE || state == State.DONE;
    }

    private void responseTimedOut() {
        if (!responseStarted()) {
            keepAlive = false;
            fail(HttpResponseStatus.GATEWAY_TIMEOUT, "upstream did not answer within "
                    + config.responseTimeout().toMillis() + " ms\n");
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (state == State.DONE) {
            ReferenceCountUtil.release(msg);
            return;
        }
        if (msg instanceof HttpObject o && o.decoderResult().isFailure()) {
            Throwable cause = o.decoderResult().cause();
            ReferenceCountUtil.release(msg);
            keepAlive = false;
            // Before the head: 502; after it, fail() resets the stream so the body cannot look whole.
            fail(HttpResponseStatus.BAD_GATEWAY, "invalid response from upstream: " + cause + "\n");
            return;
        }
        if (msg instanceof HttpResponse r) {
            int code = r.status().code();
            if (code == HttpResponseStatus.SWITCHING_PROTOCOLS.code()) {
                ReferenceCountUtil.release(msg);
                if (upgrade == null) {
                    // RFC 9110 section 15.2.2: a server switches only when asked; what follows
                    // on this connection is no HTTP response we could relay.
                    keepAlive = false;
                    fail(HttpResponseStatus.BAD_GATEWAY, "upstream switched protocols unasked\n");
                } else {
                    switchProtocols(r);
                }
                return;
            }
            if (r.status().codeClass() == io.netty.handler.codec.http.HttpStatusClass.INFORMATIONAL) {
                ReferenceCountUtil.release(msg); // 100 Continue and friends stay between us and the app
                upstream.read();
                return;
            }
            cancelTimer();
            state = State.STREAMING_RESPONSE;
            keepAlive = HttpUtil.isKeepAlive(r);
            if (upgrade != null) {
                // Refused (RFC 9110 section 7.8: any other status is an answer to the request as
                // plain HTTP). The client's early bytes are dropped, and the connection, which
                // the app may still consider mid-negotiation, is not reused.
                keepAlive = false;
                discardEarly();
            }
            if (msg instanceof FullHttpResponse full) {
                // A whole response in one HEADERS frame with END_STREAM (HTTP/2 only): a head
                // without a body, or with one only when it is not empty.
                boolean empty = !full.content().isReadable() && full.trailingHeaders().isEmpty();
                ex.respond(UpstreamHeads.response(r, UpstreamConnector.isHttp2(upstream)), empty);
                if (empty) {
                    full.release();
                    responseComplete = true;
                    finish();
                } else {
                    relay(full);
                }
                return;
            }
            ex.respond(UpstreamHeads.response(r, UpstreamConnector.isHttp2(upstream)), false);
            if (msg instanceof HttpContent c) {
                relay(c);
            } else {
                readMore();
            }
            return;
        }
        if (msg instanceof HttpContent c) {
            relay(c);
            return;
        }
        ReferenceCountUtil.release(msg);
    }

    /**
     * The app accepted the upgrade: the 101 goes to the client, and the connection leaves HTTP
     * for good. The codec is removed the way Netty's own {@code HttpClientCodec.upgradeFrom}
     * does, inside the read of the 101: bytes it had already read past the head are handed on
     * as a raw buffer (ByteToMessageDecoder.handlerRemoved), so none are lost. The connection is
     * never pooled again; {@link UpgradedRelay} owns it from here.
     */
    private void switchProtocols(HttpResponse r) {
        cancelTimer();
        state = State.DONE;
        ArrayDeque<Object[]> held = new ArrayDeque<>(early);
        early.clear();
        ex.respond(UpstreamHeads.response(r, false), false);
        UpgradedRelay relay = new UpgradedRelay(ex, upstream, config);
        UpgradedRelay.allowHalfClosure(upstream);
        upstream.pipeline().replace(this, "upgraded", relay);
        upstream.pipeline().remove(UpstreamPool.CODEC);
        relay.start(held);
    }

    private void discardEarly() {
        Object[] e;
        while ((e = early.poll()) != null) {
            ByteBuf b = (ByteBuf) e[0];
            int n = b.readableBytes();
            b.release();
            ex.consume(n);
        }
    }

    private void relay(HttpContent c) {
        boolean last = c instanceof LastHttpContent;
        ByteBuf data = c.content();
        if (last) {
            LastHttpContent lc = (LastHttpContent) c;
            responseComplete = true;
            if (!lc.trailingHeaders().isEmpty()) {
                if (data.isReadable()) {
                    ex.write(data, false);
                } else {
                    data.release();
                }
                ex.end(lc.trailingHeaders());
            } else {
                ex.write(data, true);
            }
            finish();
            return;
        }
        if (data.isReadable()) {
            ex.write(data, false);
        } else {
            data.release();
        }
        readMore();
    }

    /** Reads the next piece of the response once the stream has room for it. */
    private void readMore() {
        if (upstream != null && state == State.STREAMING_RESPONSE && ex.isWritable()) {
            upstream.read();
        }
    }

    private void finish() {
        if (state == State.DONE) {
            return;
        }
        state = State.DONE;
        Channel ch = upstream;
        if (ch != null) {
            ch.pipeline().remove(this);
            if (keepAlive && requestComplete && responseComplete) {
                pool.release(ch);
            } else {
                ch.close();
            }
        }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof Http2ResetFrame rst) {
            // The stream closes right after this event (channelInactive), which relays it.
            appReset = Http2Error.valueOf(rst.errorCode());
            if (appReset == null) {
                appReset = Http2Error.INTERNAL_ERROR;
            }
        }
        ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (state == State.DONE) {
            return;
        }
        if (appReset != null) {
            // The app reset its HTTP/2 stream: the tunnel stream is reset too, so the client sees
            // the request fail, never a made-up response.
            log.debug("upstream {} reset a stream: {}", config.url(), appReset);
            StreamError error = Http2Connection.tunnelError(appReset, responseStarted());
            state = State.DONE;
            cancelTimer();
            discardEarly();
            ex.reset(error);
            return;
        }
        if (responseStarted()) {
            // Mid-response: reset, so the client never takes a truncated body for a whole one.
            state = State.DONE;
            ex.reset(StreamError.INTERNAL_ERROR);
        } else {
            fail(HttpResponseStatus.BAD_GATEWAY, "upstream closed the connection without answering\n");
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        log.warn("upstream {} failed: {}", config.url(), cause.toString());
        keepAlive = false;
        ctx.close();
    }

    private void fail(HttpResponseStatus status, String message) {
        if (state == State.DONE) {
            return;
        }
        boolean answered = responseStarted();
        state = State.DONE;
        cancelTimer();
        discardEarly();
        if (upstream != null) {
            upstream.pipeline().remove(this);
            upstream.close();
        }
        if (answered) {
            ex.reset(StreamError.INTERNAL_ERROR);
        } else {
            ex.respond(status, TEXT, message);
        }
    }

    private void streamClosed(Throwable cause) {
        if (cause == null || state == State.DONE) {
            return;
        }
        // The client went away (RST_STREAM CANCEL): stop the app's work, never reuse the connection.
        state = State.DONE;
        cancelTimer();
        Object[] e;
        while ((e = early.poll()) != null) {
            ((ByteBuf) e[0]).release();
        }
        if (upstream != null) {
            upstream.pipeline().remove(this);
            upstream.close();
        }
    }
}
