package io.spdyproxy.proxy;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.EventLoop;

/**
 * Moves a client connection, once, onto the event loop of the tunnel its first routed request
 * goes to, so that the exchange's stream events and the client's socket share one loop: a
 * response chunk is written and its window granted back without crossing threads (Armeria's
 * connection affinity). Netty 4.2 supports moving a registered channel for both NIO and epoll:
 * {@code deregister()}, then {@code register()} with the new loop; it keeps the socket, the
 * pipeline and any queued writes, drops the read and write interest (restored here: a read asked
 * for during the move is asked again, and queued writes are flushed), and handler contexts take
 * the new loop as their executor from then on.
 *
 * <p>The move happens before the first stream opens and never again: a later request routed to
 * another tunnel (a different host on a keep-alive connection, a retry after a refusal) runs its
 * stream on that tunnel's loop and re-dispatches its events, as before.
 *
 * <p>Trade-off, hence {@link ProxyConfig#loopAffinity()}: every client of one tunnel then shares
 * that tunnel's single loop (its HTTP/1 codec, its TLS), where without the move the clients spread
 * over all loops and only the stream events cross. Fewer hops per chunk; less parallelism for a
 * tunnel with many clients. Measured in the benchmark (see the closing note of issue 10).
 *
 * <p>Threading: confined to the channel's loop, whichever it is; the move's steps are chained by
 * the deregistration and registration futures, so no two loops touch this at once.
 */
final class LoopAffinity {
    private enum State {
        /** No request reached a tunnel yet. */
        UNSETTLED,
        /** Between deregistration and registration: reads asked for wait for the new loop. */
        MOVING,
        /** Where it stays. */
        SETTLED
    }

    private final boolean enabled;
    private ChannelHandlerContext ctx;
    private State state = State.UNSETTLED;
    private boolean readWanted;

    LoopAffinity(boolean enabled) {
        this.enabled = enabled;
    }

    void init(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    /**
     * Runs {@code then} on {@code loop} when this is the connection's first routed request and
     * moving is possible, else runs it at once where the connection is.
     */
    void settleOn(EventLoop loop, Runnable then) {
        Channel ch = ctx.channel();
        if (state != State.UNSETTLED || !enabled || loop == null || loop == ch.eventLoop() || !ch.isActive()) {
            if (state == State.UNSETTLED) {
                state = State.SETTLED;
            }
            then.run();
            return;
        }
        state = State.MOVING;
        ch.deregister().addListener(d -> {
            if (!d.isSuccess() || !ch.isOpen()) {
                // Closed meanwhile (an error answer went out before the move began): the exchange
                // still opens its stream, to reset it, so the app sees the request aborted.
                state = State.SETTLED;
                ch.close();
                then.run();
                return;
            }
            loop.register(ch).addListener(r -> {
                state = State.SETTLED;
                if (!r.isSuccess()) {
                    ch.close(); // the loop is shutting down
                    then.run();
                    return;
                }
                if (readWanted) {
                    readWanted = false;
                    ctx.read();
                }
                ctx.flush();
                then.run();
            });
        });
    }

    /** Asks for the client's next bytes, now or, during a move, once it is done. */
    void read() {
        if (state == State.MOVING) {
            readWanted = true;
        } else {
            ctx.read();
        }
    }

    boolean isMoving() {
        return state == State.MOVING;
    }
}
