package io.spdyproxy.proxy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.util.concurrent.ScheduledFuture;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The front end's deadlines for what a client owes us, so that a silent or trickling client
 * (slowloris, slow POST) cannot hold a connection: a request's head must arrive within the head
 * timeout of the connection's start or of its first byte; a keep-alive connection may sit idle
 * between requests for the idle timeout; and while the front end waits for more of a request body,
 * the client must send something within the idle timeout. Nothing runs while the proxy is the one
 * that owes (waiting on the origin, writing the answer): the response timeout covers the origin.
 *
 * <p>Sits below the HTTP codec, so it sees raw bytes (a head's first byte) and the front end's
 * {@code read()} calls (a wish for body bytes); the front end tells it where a request starts and
 * ends. Threading: confined to the channel's event loop.
 */
final class ClientTimeouts extends ChannelDuplexHandler {
    private static final Logger log = LoggerFactory.getLogger(ClientTimeouts.class);
    private static final String TIMEOUT_BODY = "request head not received in time; closing\n";
    private static final byte[] REQUEST_TIMEOUT = ("HTTP/1.1 408 Request Timeout\r\nContent-Type: text/plain\r\n"
            + "Connection: close\r\nContent-Length: " + TIMEOUT_BODY.length() + "\r\n\r\n" + TIMEOUT_BODY)
            .getBytes(StandardCharsets.US_ASCII);

    private enum Phase {
        /** Between requests: the idle timeout runs until the next head's first byte. */
        IDLE,
        /** Part of a head is here (or the connection is new): the head timeout runs. */
        HEAD,
        /** A request's head is in; its body is read as the front end asks. */
        REQUEST,
        /** The request is complete; its answer is on its way. Bytes now start the next head. */
        ANSWERING
    }

    private final long idleNanos;
    private final long headNanos;
    private ChannelHandlerContext ctx;
    private Phase phase = Phase.HEAD;
    private ScheduledFuture<?> timer;
    /** When the next head's first byte came in while an answer was still going out; 0: none. */
    private long nextHeadSince;
    /** Bytes of the awaited head arrived (so a TLS handshake, if any, is done: a 408 can go out). */
    private boolean headStarted;
    /** When the armed timer fires ({@link System#nanoTime()}). */
    private long deadline;
    /**
     * A read was asked for after the last bytes came: the front end waits for the client. It may
     * ask within the read batch itself (its stream answered inline, on the same loop), so the end
     * of that batch must not cancel the wait.
     */
    private boolean readPending;
    /** What was left of the timer when the channel left its loop; -1: none. */
    private long pausedNanos = -1;

    ClientTimeouts(Duration idle, Duration head) {
        this.idleNanos = idle.toNanos();
        this.headNanos = head.toNanos();
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        arm(headNanos); // a new connection owes us a head (a TLS handshake included)
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        cancel();
    }

    /** The front end decoded a request head. */
    void headReceived() {
        phase = Phase.REQUEST;
        nextHeadSince = 0;
        headStarted = false;
        cancel();
    }

    /** The front end has the whole request: further bytes belong to the next one. */
    void requestComplete() {
        if (phase == Phase.REQUEST) {
            phase = Phase.ANSWERING;
            cancel();
        }
    }

    /** The answer went out and the connection stays open for the next request. */
    void exchangeDone() {
        if (phase == Phase.ANSWERING || phase == Phase.REQUEST) {
            if (nextHeadSince != 0) {
                phase = Phase.HEAD;
                headStarted = true;
                arm(Math.max(0, headNanos - (System.nanoTime() - nextHeadSince)));
            } else {
                phase = Phase.IDLE;
                arm(idleNanos);
            }
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        readPending = false;
        if (msg instanceof ByteBuf b && b.isReadable()) {
            switch (phase) {
                case IDLE -> {
                    phase = Phase.HEAD;
                    headStarted = true;
                    arm(headNanos);
                }
                case HEAD -> headStarted = true;
                case ANSWERING -> {
                    if (nextHeadSince == 0) {
                        nextHeadSince = System.nanoTime();
                    }
                }
                default -> { }
            }
        }
        ctx.fireChannelRead(msg);
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        if (phase == Phase.REQUEST && !readPending) {
            cancel(); // the read we waited for happened; the next read() waits anew
        }
        ctx.fireChannelReadComplete();
    }

    @Override
    public void read(ChannelHandlerContext ctx) {
        if (phase == Phase.REQUEST && timer == null) {
            arm(idleNanos); // the front end waits for body bytes: the client must send them
        }
        readPending = true;
        ctx.read();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        cancel();
        ctx.fireChannelInactive();
    }

    private void arm(long nanos) {
        cancel();
        deadline = System.nanoTime() + nanos;
        timer = ctx.executor().schedule(this::expired, nanos, TimeUnit.NANOSECONDS);
    }

    /**
     * The channel leaves its loop ({@link LoopAffinity}): a timer scheduled there would fire on the
     * wrong thread, so it is cancelled and {@link #channelRegistered} arms what is left of it on
     * the new loop.
     */
    @Override
    public void channelUnregistered(ChannelHandlerContext ctx) {
        if (timer != null) {
            cancel();
            pausedNanos = Math.max(0, deadline - System.nanoTime());
        }
        ctx.fireChannelUnregistered();
    }

    @Override
    public void channelRegistered(ChannelHandlerContext ctx) {
        if (pausedNanos >= 0) {
            long left = pausedNanos;
            pausedNanos = -1;
            arm(left);
        }
        ctx.fireChannelRegistered();
    }

    private void cancel() {
        if (timer != null) {
            timer.cancel(false);
            timer = null;
        }
    }

    private void expired() {
        timer = null;
        if (!ctx.channel().isActive()) {
            return;
        }
        switch (phase) {
            case HEAD -> {
                log.debug("client {}: no complete request head in time", ctx.channel().remoteAddress());
                if (headStarted) {
                    // Written at once if the socket takes it; the close does not wait for a client
                    // that does not read.
                    ctx.writeAndFlush(Unpooled.wrappedBuffer(REQUEST_TIMEOUT));
                }
                ctx.close(); // silent, or still in its TLS handshake: nothing to answer
            }
            case IDLE -> ctx.close();
            case REQUEST -> {
                log.debug("client {}: request body stalled; closing", ctx.channel().remoteAddress());
                ctx.close();
            }
            default -> { }
        }
    }
}
