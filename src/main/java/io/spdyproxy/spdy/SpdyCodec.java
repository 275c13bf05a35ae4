package io.spdyproxy.spdy;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.spdy.SpdyFrameCodec;
import io.netty.handler.codec.spdy.SpdyVersion;

/**
 * Netty's frame codec, plus a pass-through for raw buffers: the session writes each DATA frame as
 * its own 8-byte header followed by the retained payload, where Netty's encoder would copy the
 * payload into a new buffer. Header blocks that arrive once the channel is closed are dropped.
 *
 * <p>Threading: confined to the channel's event loop.
 */
final class SpdyCodec extends SpdyFrameCodec {
    private Channel channel;

    SpdyCodec(SpdySessionConfig config) {
        super(SpdyVersion.SPDY_3_1, config.maxInboundChunk(), config.maxHeaderBlockSize(),
                // Level 0 emits stored blocks: valid zlib with the SPDY dictionary, but nothing in one
                // block refers back to another request's headers.
                config.compressHeaders() ? 6 : 0, 15, 8);
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) throws Exception {
        super.handlerAdded(ctx);
        channel = ctx.channel();
    }

    /**
     * Netty ends the header-block inflater when the channel closes, yet bytes can still arrive
     * after that (an SslHandler hands over the records it decodes in channelInactive). Inflating
     * them would allocate a buffer nothing releases and throw "Inflater has been closed" into the
     * pipeline; nobody is left to read them, so drop them.
     */
    @Override
    public void readHeaderBlock(ByteBuf headerBlock) {
        if (channel.closeFuture().isDone()) {
            headerBlock.release();
            return;
        }
        super.readHeaderBlock(headerBlock);
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) throws Exception {
        if (msg instanceof ByteBuf) {
            ctx.write(msg, promise);
        } else {
            super.write(ctx, msg, promise);
        }
    }
}
