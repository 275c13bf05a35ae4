package io.spdyproxy.bench;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.ContinuationWebSocketFrame;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketServerHandshaker;
import io.netty.util.ReferenceCountUtil;

/**
 * The app's {@code /sink} mode, for upload throughput: binary payload is counted and dropped; a
 * text message is answered with the count so far (as text), so the client knows the app has read
 * everything it sent before it.
 *
 * <p>Threading: one instance per connection, confined to its event loop.
 */
final class SinkFrames extends ChannelInboundHandlerAdapter {
    private final WebSocketServerHandshaker handshaker;
    private long received;

    SinkFrames(WebSocketServerHandshaker handshaker) {
        this.handshaker = handshaker;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof BinaryWebSocketFrame || msg instanceof ContinuationWebSocketFrame) {
            received += ((io.netty.buffer.ByteBufHolder) msg).content().readableBytes();
            ReferenceCountUtil.release(msg);
        } else if (msg instanceof TextWebSocketFrame text) {
            text.release();
            ctx.writeAndFlush(new TextWebSocketFrame(Long.toString(received)));
        } else if (msg instanceof CloseWebSocketFrame close) {
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
