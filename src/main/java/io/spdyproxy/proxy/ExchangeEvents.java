package io.spdyproxy.proxy;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.HttpHeaders;
import io.spdyproxy.tunnel.ResponseHead;
import io.spdyproxy.tunnel.StreamClosedException;
import io.spdyproxy.tunnel.StreamHandler;
import io.spdyproxy.tunnel.TunnelStream;

/**
 * The stream events of one attempt of an {@link Exchange}, delivered on the client channel's loop.
 * When the tunnel runs on that same loop (the connection settled there, see
 * {@link LoopAffinity}) an event is handled at once; otherwise it is re-dispatched, a hop each
 * way per chunk. Events of an attempt given up on only release what they carry.
 *
 * <p>Threading: called on the tunnel session's loop; hands everything to the client's.
 */
final class ExchangeEvents implements StreamHandler {
    private final Exchange exchange;
    private final int attempt;
    private final ChannelHandlerContext ctx;

    ExchangeEvents(Exchange exchange, int attempt, ChannelHandlerContext ctx) {
        this.exchange = exchange;
        this.attempt = attempt;
        this.ctx = ctx;
    }

    /**
     * Runs {@code task} on the client's loop: now when already there, else as a task. Either way
     * is fixed for the whole attempt (the connection never moves while a stream is open), so the
     * events keep their order.
     */
    void deliver(Runnable task) {
        if (ctx.executor().inEventLoop()) {
            task.run();
        } else {
            ctx.executor().execute(task);
        }
    }

    @Override
    public void onHead(TunnelStream s, ResponseHead head, boolean endOfStream) {
        deliver(() -> {
            if (exchange.adopt(attempt, s)) {
                exchange.response().head(head, endOfStream);
            }
        });
    }

    @Override
    public void onTrailers(TunnelStream s, HttpHeaders trailers, boolean endOfStream) {
        deliver(() -> {
            if (exchange.adopt(attempt, s)) {
                exchange.response().trailers(trailers, endOfStream);
            }
        });
    }

    @Override
    public void onData(TunnelStream s, ByteBuf data, boolean endOfStream) {
        deliver(() -> {
            UpgradeRelay relay = exchange.upgraded();
            if (relay != null && exchange.stream() == s) {
                relay.data(data, endOfStream);
            } else if (exchange.adopt(attempt, s)) {
                exchange.response().data(s, data, endOfStream);
            } else {
                int n = data.readableBytes();
                data.release();
                s.consume(n);
            }
        });
    }

    @Override
    public void onWritabilityChanged(TunnelStream s) {
        deliver(() -> {
            UpgradeRelay relay = exchange.upgraded();
            if (relay != null && exchange.stream() == s) {
                relay.writable();
            } else {
                exchange.writable(attempt, s);
            }
        });
    }

    @Override
    public void onClosed(TunnelStream s, StreamClosedException cause) {
        if (cause == null) {
            // A clean end needs nothing: the response ended with its last chunk, and an upgraded
            // pipe closed itself once both halves ended. No task per stream on the hot path.
            return;
        }
        deliver(() -> {
            UpgradeRelay relay = exchange.upgraded();
            if (relay != null && exchange.stream() == s) {
                relay.closed(cause);
            } else {
                exchange.streamFailed(attempt, s, cause);
            }
        });
    }
}
