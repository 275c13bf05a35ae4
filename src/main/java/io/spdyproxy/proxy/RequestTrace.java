package io.spdyproxy.proxy;

import io.netty.channel.Channel;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpRequest;
import io.spdyproxy.observe.RequestListener;
import io.spdyproxy.observe.RequestRecord;
import io.spdyproxy.observe.RequestRecord.Outcome;
import java.net.InetSocketAddress;
import java.net.SocketAddress;

/**
 * What one {@link Exchange} did, gathered as it goes (status, bytes each way, time to the first
 * byte, how it ended) and handed to the proxy's {@link RequestListener} once, as a
 * {@link RequestRecord}, when the exchange ends. Counting is a few field writes; the record is
 * made only when somebody listens.
 *
 * <p>Threading: confined to the client channel's event loop, like its exchange.
 */
final class RequestTrace {
    private final long startNanos = System.nanoTime();
    private final long startMillis = System.currentTimeMillis();
    private String tunnel;
    private String user;
    private int status;
    private long bytesIn;
    private long bytesOut;
    private long firstByteNanos = -1;
    private Outcome outcome;
    private boolean reported;

    /** The tunnel name the request routed to. */
    void tunnel(String name) {
        tunnel = name;
    }

    /** The visitor the proxy authenticated. */
    void user(String name) {
        user = name;
    }

    /** The response head (the origin's or the proxy's own answer) goes out with {@code code}. */
    void responseStarted(int code) {
        if (firstByteNanos < 0) {
            status = code;
            firstByteNanos = System.nanoTime() - startNanos;
        }
    }

    void bytesIn(long n) {
        bytesIn += n;
    }

    void bytesOut(long n) {
        bytesOut += n;
    }

    /** How the request ended; the first word given stands. */
    void outcome(Outcome o) {
        if (outcome == null) {
            outcome = o;
        }
    }

    /**
     * Reports a request the front end answered itself before any exchange began (malformed, a
     * refused expectation): nothing was routed, nothing relayed.
     */
    static void refused(ProxyContext px, ExchangeConnection conn, HttpRequest request, String scheme, int status) {
        RequestListener listener = px.listeners().current();
        if (listener != RequestListener.NONE) {
            RequestTrace t = new RequestTrace();
            t.responseStarted(status);
            t.report(listener, request, clientOf(conn.ctx().channel()), conn.protocol(request), scheme, true);
        }
    }

    /** The client's address as records show it: the TCP peer's IP. */
    static String clientOf(Channel ch) {
        SocketAddress remote = ch.remoteAddress();
        return remote instanceof InetSocketAddress a ? a.getAddress().getHostAddress() : String.valueOf(remote);
    }

    /** Reports the request once; {@code completed} says whether the whole answer went out. */
    void report(RequestListener listener, HttpRequest request, String client, String protocol, String scheme,
            boolean completed) {
        if (reported) {
            return;
        }
        reported = true;
        outcome(completed ? Outcome.COMPLETE : Outcome.CLIENT_ABORTED);
        if (listener == RequestListener.NONE) {
            return;
        }
        var h = request.headers();
        listener.requestEnded(new RequestRecord(startMillis, client, tunnel, protocol, scheme,
                request.method().name(), h.get(HttpHeaderNames.HOST), request.uri(), h.get(HttpHeaderNames.REFERER),
                h.get(HttpHeaderNames.USER_AGENT), user, status, bytesIn, bytesOut, firstByteNanos,
                System.nanoTime() - startNanos, outcome));
    }
}
