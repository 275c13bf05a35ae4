package io.spdyproxy.testing;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;

/**
 * Makes an {@code EmbeddedChannel} behave as a socket where it does not, for a SPDY session that
 * fuzz targets drive with many frames per read. {@code EmbeddedChannel.close()} runs the queued
 * tasks at once, so a second {@code close()} within one read runs the first one's
 * {@code channelInactive}, which frees the frame decoder's buffer while the decoder is still
 * reading it (IllegalReferenceCountException). A socket defers that until the read is over, and a
 * second close is a no-op. The session closes a second time only from {@code exceptionCaught}
 * (a framing error further on in a read during which it already closed, e.g. a graceful shutdown
 * that completed mid-read), so once the channel is closed, errors stop here.
 *
 * <p>Add it just before the session: {@code pipeline.addBefore("spdy-session", "as-on-a-socket",
 * new AsOnASocket())}.
 */
public final class AsOnASocket extends ChannelInboundHandlerAdapter {
    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (ctx.channel().isOpen()) {
            ctx.fireExceptionCaught(cause);
        }
    }
}
