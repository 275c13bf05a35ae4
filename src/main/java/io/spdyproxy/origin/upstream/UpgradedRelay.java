package io.spdyproxy.origin.upstream;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.DuplexChannel;
import io.netty.handler.codec.http.HttpContent;
import io.netty.util.ReferenceCountUtil;
import io.spdyproxy.tunnel.BodyListener;
import io.spdyproxy.tunnel.StreamClosedException;
import io.spdyproxy.tunnel.StreamError;
import io.spdyproxy.tunnel.TunnelExchange;
import java.util.ArrayDeque;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The app's connection after it answered {@code 101 Switching Protocols}: a raw byte pipe between
 * it and the tunnel stream, both ways, with the backpressure of a body (HexDumpProxy's shape).
 * The app is read only while the stream is writable, so the origin holds at most the stream's
 * window plus one read; a client chunk is consumed (its window granted back) only once the app's
 * socket took it, so a slow app stops the client, not the tunnel. Nothing is re-framed: WebSocket
 * frames, pings and close codes pass as the bytes they are.
 *
 * <p>Each direction half-closes on its own (the upgraded connection is a TCP connection to both
 * ends): the client's end of stream shuts the app socket's output once the bytes before it were
 * written; the app's FIN ends the stream's send side. A failure of the app connection resets the
 * stream; a reset stream closes the app connection.
 *
 * <p>Threading: confined to the tunnel session's event loop, which also runs the app's channel.
 */
final class UpgradedRelay extends ChannelInboundHandlerAdapter implements BodyListener {
    private static final Logger log = LoggerFactory.getLogger(UpgradedRelay.class);

    /** Which directions are still open. */
    private enum State {
        OPEN,
        /** The app sent its FIN; the client may still send. */
        APP_ENDED,
        /** The client ended its direction; the app may still send. */
        CLIENT_ENDED,
        CLOSED
    }

    private final TunnelExchange ex;
    private final Channel app;
    private final UpstreamConfig config;
    private final EventLoop loop;
    private State state = State.OPEN;
    private boolean flushQueued;

    UpgradedRelay(TunnelExchange ex, Channel app, UpstreamConfig config) {
        this.ex = ex;
        this.app = app;
        this.config = config;
        this.loop = app.eventLoop();
    }

    /**
     * Lets the app's FIN end only its own direction: without it the socket would close and lose
     * the client's. Set before the codec goes, ahead of any read that could see the FIN.
     */
    static void allowHalfClosure(Channel app) {
        app.config().setOption(ChannelOption.ALLOW_HALF_CLOSURE, true);
    }

    /**
     * Takes over the exchange's callbacks and writes what the client sent before the 101
     * ({@code held}: {@code [ByteBuf, Boolean last]} pairs, not yet consumed).
     */
    void start(ArrayDeque<Object[]> held) {
        ex.onBody(this);
        ex.onWritable(this::readMore);
        ex.onClose(cause -> loop.execute(() -> streamClosed(cause)));
        Object[] e;
        while ((e = held.poll()) != null) {
            onChunk((ByteBuf) e[0], (Boolean) e[1]);
        }
        if (ex.stream().isClosed()) {
            // Reset while the 101 was on its way: its close callback went to the exchange before.
            streamClosed(new StreamClosedException(StreamError.CANCEL, false, false, "reset before the switch"));
            return;
        }
        readMore();
    }

    // ------------------------------------------------------------------------------------------
    // App → client

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        ByteBuf data = msg instanceof ByteBuf b ? b : msg instanceof HttpContent c ? c.content() : null;
        if (data == null || !data.isReadable() || state == State.CLOSED || state == State.APP_ENDED) {
            // An empty end marker the removed codec still handed on, or bytes nobody can take.
            ReferenceCountUtil.release(msg);
            return;
        }
        ex.write(data, false);
        readMore();
    }

    /** Reads the app's next bytes once the stream has room for them. */
    private void readMore() {
        if ((state == State.OPEN || state == State.CLIENT_ENDED) && ex.isWritable()) {
            app.read();
        }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof ChannelInputShutdownEvent) {
            appEnded();
        }
        ReferenceCountUtil.release(evt);
    }

    private void appEnded() {
        switch (state) {
            case OPEN -> {
                state = State.APP_ENDED;
                ex.write(Unpooled.EMPTY_BUFFER, true);
            }
            case CLIENT_ENDED -> {
                state = State.CLOSED;
                ex.write(Unpooled.EMPTY_BUFFER, true);
                app.close();
            }
            default -> { }
        }
    }

    // ------------------------------------------------------------------------------------------
    // Client → app

    @Override
    public void onChunk(ByteBuf chunk, boolean last) {
        if (state == State.CLOSED || state == State.CLIENT_ENDED) {
            int n = chunk.readableBytes();
            chunk.release();
            ex.consume(n);
            return;
        }
        int n = chunk.readableBytes();
        if (n > 0) {
            app.write(chunk).addListener(w -> {
                if (w.isSuccess()) {
                    ex.consume(n);
                } else {
                    failed(w.cause());
                }
            });
        } else {
            chunk.release();
        }
        if (last) {
            clientEnded();
        }
        flushSoon();
    }

    /**
     * One flush for the chunks of one round of loop tasks: the tunnel hands over the DATA frames
     * of a read in turn (32 KiB each), and a flush per frame made a 1 GiB upload one send() per
     * frame (33,000) where this makes about 2,800 writes. The proxy's {@code UpgradeRelay} does the same.
     */
    private void flushSoon() {
        if (!flushQueued) {
            flushQueued = true;
            loop.execute(() -> {
                flushQueued = false;
                app.flush();
            });
        }
    }

    /**
     * The client's half-close. The output is shut only once every byte before it was written:
     * a shutdown (or close) fails what is still queued in the channel.
     */
    private void clientEnded() {
        boolean both = state == State.APP_ENDED;
        state = both ? State.CLOSED : State.CLIENT_ENDED;
        app.write(Unpooled.EMPTY_BUFFER).addListener(w -> {
            if (!w.isSuccess()) {
                failed(w.cause());
            } else if (both || !(app instanceof DuplexChannel)) {
                app.close();
            } else {
                ((DuplexChannel) app).shutdownOutput();
            }
        });
    }

    // ------------------------------------------------------------------------------------------
    // Ends

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (state == State.CLOSED) {
            return;
        }
        // Not closed by us, and no FIN first (half-closure is allowed): the connection broke.
        // After the app's FIN, its direction was whole and only the client's is lost.
        StreamError error = state == State.APP_ENDED ? StreamError.CANCEL : StreamError.INTERNAL_ERROR;
        state = State.CLOSED;
        ex.reset(error);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        failed(cause);
    }

    private void failed(Throwable cause) {
        if (state == State.CLOSED) {
            return;
        }
        log.debug("upgraded connection to {} failed: {}", config.url(), cause.toString());
        state = State.CLOSED;
        ex.reset(StreamError.INTERNAL_ERROR);
        app.close();
    }

    private void streamClosed(StreamClosedException cause) {
        if (cause == null) {
            // Both directions ended cleanly; the last bytes to the app may still be on their way.
            if (state != State.CLOSED) {
                state = State.CLOSED;
            }
            app.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
            return;
        }
        // Reset (the client went away, or the tunnel dropped): the app's side ends too.
        state = State.CLOSED;
        app.close();
    }
}
