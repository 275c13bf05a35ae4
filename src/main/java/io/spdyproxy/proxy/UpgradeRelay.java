package io.spdyproxy.proxy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.DuplexChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpServerCodec;
import java.util.ArrayList;
import java.util.List;
import io.netty.util.ReferenceCountUtil;
import io.spdyproxy.proxy.access.Admission;
import io.spdyproxy.tunnel.StreamClosedException;
import io.spdyproxy.tunnel.StreamError;
import io.spdyproxy.tunnel.TunnelStream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A client connection after a {@code 101 Switching Protocols}: the HTTP handlers leave its
 * pipeline and its bytes flow both ways, untouched, through one tunnel stream (a WebSocket's
 * frames, pings and close codes included: nothing is re-framed). Flow control is end to end, as
 * for bodies: the client's socket is read only while the stream is writable, and a chunk from
 * the origin is consumed (granting it window) only once the client's socket took it, so a client
 * that stops reading stops the app's writes, not the tunnel. Each direction half-closes on its own
 * (a FIN becomes the stream's end of stream and back); a reset or a lost tunnel closes the client
 * connection at once.
 *
 * <p>Threading: confined to the client channel's event loop; the stream events ({@link #data},
 * {@link #writable}, {@link #closed}) must be delivered on it.
 */
final class UpgradeRelay extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(UpgradeRelay.class);
    static final String NAME = "upgrade-relay";

    private final TunnelStream stream;
    private ChannelHandlerContext ctx;
    private boolean clientEnded;
    private boolean originEnded;
    private boolean done;
    private boolean flushQueued;

    private final Runnable onInactive;
    /** The tunnel's bandwidth limit (proxy.access), which holds reads and credit back, never bytes. */
    private final Admission limits;
    private boolean paced;

    private UpgradeRelay(TunnelStream stream, Runnable onInactive, Admission limits) {
        this.stream = stream;
        this.onInactive = onInactive;
        this.limits = limits;
    }

    /**
     * Writes {@code head} (a 101) through the HTTP codec, then takes the connection over: every
     * handler after the TLS layer leaves, so the next byte either way is the new protocol's.
     */
    static UpgradeRelay takeOver(Channel ch, TunnelStream stream, HttpResponse head, Runnable onInactive) {
        return takeOver(ch, stream, head, onInactive, Admission.OPEN);
    }

    /** The same, with the tunnel's bandwidth limit applied to both directions of the pipe. */
    static UpgradeRelay takeOver(Channel ch, TunnelStream stream, HttpResponse head, Runnable onInactive,
            Admission limits) {
        ChannelPipeline p = ch.pipeline();
        FullHttpResponse full = new DefaultFullHttpResponse(head.protocolVersion(), head.status(),
                Unpooled.EMPTY_BUFFER, head.headers(), io.netty.handler.codec.http.EmptyHttpHeaders.INSTANCE);
        p.writeAndFlush(full); // encoded now, on this loop, before the codec leaves
        UpgradeRelay relay = new UpgradeRelay(stream, onInactive, limits);
        ChannelHandlerContext codec = p.context(HttpServerCodec.class);
        // The codec and everything after it leave, and the idle timeouts (an upgraded connection
        // lives as long as both ends keep it). Handlers after the codec go first, so that bytes
        // the codec still holds (a decoder hands its buffer on when removed) reach the relay.
        boolean afterCodec = false;
        List<String> leaving = new ArrayList<>();
        for (String name : p.names()) {
            ChannelHandlerContext c = p.context(name);
            if (c == null) {
                continue;
            }
            if (c == codec) {
                afterCodec = true;
            } else if (afterCodec || c.handler() instanceof ClientTimeouts) {
                leaving.add(name);
            }
        }
        leaving.forEach(p::remove);
        p.addLast(NAME, relay);
        if (codec != null) {
            p.remove(codec.handler());
        }
        return relay;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        readIfWritable();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof ByteBuf buf) || done || clientEnded) {
            ReferenceCountUtil.release(msg);
            return;
        }
        if (!buf.isReadable()) {
            buf.release();
            return;
        }
        int n = buf.readableBytes();
        stream.sendData(buf, false);
        if (limits.upload().limited()) {
            paced = true;
            limits.upload().after(n, ctx.executor(), () -> {
                paced = false;
                readIfWritable();
            });
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        readIfWritable();
    }

    private void readIfWritable() {
        if (!done && !clientEnded && !paced && stream.isWritable()) {
            ctx.read();
        }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof ChannelInputShutdownEvent) {
            clientEnded = true;
            if (!done) {
                stream.sendData(Unpooled.EMPTY_BUFFER, true); // the client's FIN, passed on
            }
            closeIfBothEnded();
            return;
        }
        ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        onInactive.run();
        if (!done) {
            done = true;
            stream.reset(StreamError.CANCEL); // a no-op once the stream ended cleanly
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        log.debug("upgraded client {}: {}", ctx.channel().remoteAddress(), cause.toString());
        ctx.close();
    }

    /** Bytes from the origin (owned by this call); {@code fin} is the origin's half-close. */
    void data(ByteBuf data, boolean fin) {
        int n = data.readableBytes();
        if (done || originEnded) {
            data.release();
            stream.consume(n);
            return;
        }
        if (n > 0) {
            ctx.write(data).addListener(f -> {
                if (f.isSuccess()) {
                    limits.download().after(n, ctx.executor(), () -> stream.consume(n));
                }
            });
            flushSoon();
        } else {
            data.release();
        }
        if (fin) {
            originEnded = true;
            if (ctx.channel() instanceof DuplexChannel d && !clientEnded) {
                ctx.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(f -> d.shutdownOutput());
            }
            closeIfBothEnded();
        }
    }

    /**
     * One flush for the chunks of one round of loop tasks (the tunnel delivers a DATA frame per
     * task): a syscall per frame halved a bulk transfer's rate.
     */
    private void flushSoon() {
        if (!flushQueued) {
            flushQueued = true;
            ctx.executor().execute(() -> {
                flushQueued = false;
                ctx.flush();
            });
        }
    }

    /** The stream can take more of the client's bytes. */
    void writable() {
        readIfWritable();
    }

    /** The stream ended: with a cause, abnormally (reset, tunnel lost), so the client is cut off. */
    void closed(StreamClosedException cause) {
        if (cause != null && !done) {
            done = true;
            log.debug("upgraded stream {} ended: {}", stream.id(), cause.getMessage());
            ctx.close();
        } else {
            closeIfBothEnded();
        }
    }

    private void closeIfBothEnded() {
        if (clientEnded && originEnded && !done) {
            done = true;
            ctx.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
        }
    }
}
