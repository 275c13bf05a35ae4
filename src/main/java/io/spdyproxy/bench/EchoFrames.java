package io.spdyproxy.bench;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PingWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PongWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketServerHandshaker;
import io.netty.util.ReferenceCountUtil;

/**
 * The app's {@code /echo} mode (and {@code /die}): each data frame goes back as it came. Reading
 * stops while the channel is not writable and resumes when it drains, so a client that sends
 * faster than it reads is slowed down instead of filling the app's memory. A ping is answered
 * with a pong carrying its payload (RFC 6455 section 5.5.3); a close frame is answered with the
 * same code, then the connection closes (section 5.5.1).
 *
 * <p>With {@code dieAfterFirst}, the TCP connection is closed without a close frame as soon as
 * the first data frame arrives: the app "dies" mid-connection.
 *
 * <p>Threading: one instance per connection, confined to its event loop.
 */
final class EchoFrames extends ChannelInboundHandlerAdapter {
    private final WebSocketServerHandshaker handshaker;
    private final boolean dieAfterFirst;

    EchoFrames(WebSocketServerHandshaker handshaker, boolean dieAfterFirst) {
        this.handshaker = handshaker;
        this.dieAfterFirst = dieAfterFirst;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof WebSocketFrame frame)) {
            ReferenceCountUtil.release(msg);
            return;
        }
        if (dieAfterFirst) {
            frame.release();
            ctx.channel().close();
            return;
        }
        if (frame instanceof CloseWebSocketFrame close) {
            handshaker.close(ctx.channel(), close);
        } else if (frame instanceof PingWebSocketFrame ping) {
            ctx.writeAndFlush(new PongWebSocketFrame(ping.content()));
        } else if (frame instanceof PongWebSocketFrame) {
            frame.release();
        } else {
            ctx.write(frame);
            if (!ctx.channel().isWritable()) {
                ctx.channel().config().setAutoRead(false);
                ctx.flush();
            }
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        ctx.flush();
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (ctx.channel().isWritable()) {
            ctx.channel().config().setAutoRead(true);
        }
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        // A protocol error the decoder found (it already answered with a close frame) or a reset.
        ctx.close();
    }
}
