package io.spdyproxy.spdy;

import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;

/**
 * The Netty side of a {@link SpdySession}: forwards decoded frames and channel events to its parts.
 *
 * <p>Threading: Netty calls it on the channel's event loop only.
 */
final class SessionHandler extends ChannelDuplexHandler {
    private final SpdySession session;

    SessionHandler(SpdySession session) {
        this.session = session;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        session.handlerAdded(ctx);
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        session.lifecycle.start();
        ctx.fireChannelActive();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        session.writer.readStarted();
        session.inbound.frameRead(msg);
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        session.writer.readComplete();
        ctx.fireChannelReadComplete();
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        session.send.writabilityChanged();
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        session.lifecycle.exceptionCaught(cause);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        session.lifecycle.channelInactive();
        ctx.fireChannelInactive();
    }
}
