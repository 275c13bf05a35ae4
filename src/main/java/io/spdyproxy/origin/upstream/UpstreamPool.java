package io.spdyproxy.origin.upstream;

import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.util.ArrayDeque;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Keep-alive HTTP/1.1 connections to the app, one idle list per event loop: a request borrows a
 * connection of the loop its SPDY stream lives on, so no bytes cross threads.
 *
 * <p>Threading: each idle list is touched only on its own loop.
 */
final class UpstreamPool {
    static final String CODEC = "http-codec";
    private static final io.netty.util.AttributeKey<Boolean> WATCHED =
            io.netty.util.AttributeKey.valueOf(UpstreamPool.class, "watched");

    private final UpstreamConfig config;
    private final UpstreamDialer dialer;
    private final Map<EventLoop, ArrayDeque<Channel>> idle = new ConcurrentHashMap<>();

    UpstreamPool(UpstreamConfig config, UpstreamDialer dialer) {
        this.config = config;
        this.dialer = dialer;
    }

    /**
     * An idle connection of {@code loop}, or a new one being connected (for https: offering only
     * {@code http/1.1} by ALPN, so that the app cannot pick HTTP/2 on it).
     */
    Future<Channel> acquire(EventLoop loop) {
        ArrayDeque<Channel> list = idle.get(loop);
        if (list != null) {
            Channel ch;
            while ((ch = list.pollFirst()) != null) {
                if (ch.isActive()) {
                    if (ch.pipeline().get(IdleWatch.class) != null) {
                        ch.pipeline().remove(IdleWatch.class);
                    }
                    return loop.newSucceededFuture(ch);
                }
            }
        }
        Promise<Channel> p = loop.newPromise();
        dialer.dial(loop, false).addListener((Future<Channel> f) -> {
            if (f.isSuccess()) {
                p.setSuccess(adopt(f.getNow()));
            } else {
                p.setFailure(f.cause());
            }
        });
        return p;
    }

    /** Makes a freshly dialled connection an HTTP/1.1 one of this pool (its codec). */
    Channel adopt(Channel ch) {
        ch.pipeline().addLast(CODEC, new HttpClientCodec(4096, 64 * 1024, 64 * 1024));
        return ch;
    }

    /** Returns a connection that finished a whole exchange and may be reused. */
    void release(Channel ch) {
        if (!ch.isActive()) {
            return;
        }
        ArrayDeque<Channel> list = idle.computeIfAbsent(ch.eventLoop(), l -> new ArrayDeque<>());
        if (list.size() >= config.maxIdlePerLoop()) {
            ch.close();
            return;
        }
        list.addFirst(ch);
        if (ch.attr(WATCHED).setIfAbsent(Boolean.TRUE) == null) {
            ch.closeFuture().addListener(f -> ch.eventLoop().execute(() -> list.remove(ch)));
        }
        // While idle, keep a read pending so the app's FIN (its keep-alive timeout) closes the
        // channel here instead of failing the next request that borrows it.
        ch.pipeline().addLast(new IdleWatch());
        ch.read();
    }

    /** Watches an idle connection: anything it receives, or its end, retires it. */
    private static final class IdleWatch extends io.netty.channel.ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(io.netty.channel.ChannelHandlerContext ctx, Object msg) {
            io.netty.util.ReferenceCountUtil.release(msg);
            ctx.close(); // an unsolicited response on an idle connection: not reusable
        }

        @Override
        public void exceptionCaught(io.netty.channel.ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }

    void close() {
        idle.forEach((loop, list) -> loop.execute(() -> {
            for (Channel ch : list.toArray(Channel[]::new)) {
                ch.close();
            }
            list.clear();
        }));
    }
}
