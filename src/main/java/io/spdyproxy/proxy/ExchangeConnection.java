package io.spdyproxy.proxy;

import io.netty.channel.ChannelHandlerContext;
import io.spdyproxy.tunnel.TunnelSession;

/** What the exchange needs of its client connection ({@link FrontendHandler}). */
interface ExchangeConnection {
    ChannelHandlerContext ctx();

    /** The protocol {@code request} came in, as logs show it ({@code HTTP/1.1}, {@code HTTP/2.0}). */
    default String protocol(io.netty.handler.codec.http.HttpRequest request) {
        return request.protocolVersion().text();
    }

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

    /**
     * The origin switched protocols: nothing more of HTTP is read on this connection (what was
     * held is dropped), and it counts as closed for the front end's statistics when it closes.
     */
    void switchedProtocols();
}
