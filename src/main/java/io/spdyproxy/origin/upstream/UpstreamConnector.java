package io.spdyproxy.origin.upstream;

import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.util.concurrent.Future;
import io.spdyproxy.origin.upstream.UpstreamConfig.UpstreamProtocol;

/**
 * Picks the connection a request travels on, by the upstream's protocol: a pooled HTTP/1.1
 * connection for {@code http://}, a stream of a pooled HTTP/2 connection for {@code h2c://} and
 * for an {@code https://} app that chose {@code h2} by ALPN. Either way the exchange gets a channel
 * whose pipeline speaks HTTP/1 objects under {@link UpstreamPool#CODEC}.
 *
 * <p>An upgrade request (WebSocket) always takes an HTTP/1.1 connection (for https, offering only
 * {@code http/1.1} by ALPN): over HTTP/2 it would need extended CONNECT (RFC 8441), which apps
 * rarely offer, while HTTP/1.1 upgrade is what every WebSocket server speaks.
 *
 * <p>Threading: state lives in the pools (per loop); this class only dispatches.
 */
final class UpstreamConnector {
    private final UpstreamProtocol protocol;
    private final UpstreamPool http1;
    private final Http2Pool http2;

    UpstreamConnector(UpstreamConfig config) {
        UpstreamDialer dialer = new UpstreamDialer(config);
        this.protocol = config.protocol();
        this.http1 = new UpstreamPool(config, dialer);
        this.http2 = protocol == UpstreamProtocol.HTTP1 ? null : new Http2Pool(config, dialer, http1);
    }

    /** A channel for one request on {@code loop}; {@code upgrade} when it asks to switch protocols. */
    Future<Channel> acquire(EventLoop loop, boolean upgrade) {
        if (http2 == null || upgrade || http2.appRefusedH2()) {
            return http1.acquire(loop);
        }
        return http2.acquire(loop);
    }

    /**
     * Gives back a channel whose exchange ended cleanly: an HTTP/1.1 connection returns to the
     * idle list; an HTTP/2 stream is closed (a no-op once both sides ended it; otherwise
     * RST_STREAM CANCEL, RFC 9113 section 8.1, when the app answered before the request ended).
     */
    void release(Channel ch) {
        if (ch instanceof Http2StreamChannel) {
            ch.close();
        } else {
            http1.release(ch);
        }
    }

    static boolean isHttp2(Channel ch) {
        return ch instanceof Http2StreamChannel;
    }

    void close() {
        http1.close();
        if (http2 != null) {
            http2.close();
        }
    }
}
