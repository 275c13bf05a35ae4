package io.spdyproxy.bench;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketServerHandshaker;
import io.netty.util.ReferenceCountUtil;
import java.util.concurrent.TimeUnit;

/**
 * The app's {@code /flood} mode: binary messages of {@link WebSocketApp#FLOOD_MESSAGE} bytes, each
 * starting with its sequence number (8 bytes, big-endian, from 0), written only while the channel
 * is writable. What the app holds is therefore bounded by the channel's high-water mark plus one
 * message, however slowly the client reads; the client can check that nothing was lost or
 * reordered. Incoming frames are dropped, except a close frame, which is answered.
 *
 * <p>When the channel stays unwritable with no write completing for {@link WebSocketApp#STALL},
 * the flood counts as stalled (the reader's back-pressure reached the app) and the future of
 * {@link WebSocketApp#nextFloodStall()} completes with the bytes this connection had written.
 *
 * <p>Threading: one instance per connection, confined to its event loop.
 */
final class FloodFrames extends ChannelInboundHandlerAdapter {
    private final WebSocketServerHandshaker handshaker;
    private final WebSocketApp.Counters counters;
    private Channel channel;
    private long sequence;
    private long written;
    private boolean checkScheduled;

    FloodFrames(WebSocketServerHandshaker handshaker, WebSocketApp.Counters counters) {
        this.handshaker = handshaker;
        this.counters = counters;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        channel = ctx.channel();
    }

    /** Starts sending; called on the loop once the 101 is written. */
    void start() {
        fill();
    }

    private void fill() {
        while (channel.isActive() && channel.isWritable()) {
            ByteBuf payload = channel.alloc().buffer(WebSocketApp.FLOOD_MESSAGE);
            payload.writeLong(sequence++).writeZero(WebSocketApp.FLOOD_MESSAGE - Long.BYTES);
            channel.write(new BinaryWebSocketFrame(payload)).addListener(f -> {
                if (f.isSuccess()) {
                    written += WebSocketApp.FLOOD_MESSAGE;
                    counters.floodWritten.addAndGet(WebSocketApp.FLOOD_MESSAGE);
                }
            });
        }
        channel.flush();
        if (channel.isActive() && !channel.isWritable()) {
            scheduleStallCheck();
        }
    }

    private void scheduleStallCheck() {
        if (checkScheduled) {
            return;
        }
        checkScheduled = true;
        long before = written;
        channel.eventLoop().schedule(() -> {
            checkScheduled = false;
            if (!channel.isActive() || channel.isWritable()) {
                return;
            }
            if (written == before) {
                counters.floodStall.get().complete(written);
            } else {
                scheduleStallCheck();
            }
        }, WebSocketApp.STALL.toMillis(), TimeUnit.MILLISECONDS);
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (ctx.channel().isWritable()) {
            fill();
        }
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof CloseWebSocketFrame close) {
            handshaker.close(ctx.channel(), close);
        } else {
            ReferenceCountUtil.release(msg);
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        ctx.close();
    }
}
