package io.spdyproxy.spdy;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.spdy.SpdyFrameCodec;
import io.netty.handler.codec.spdy.SpdyVersion;

/**
 * Netty's frame codec, plus a pass-through for raw buffers: the session writes each DATA frame as
 * its own 8-byte header followed by the retained payload, where Netty's encoder would copy the
 * payload into a new buffer.
 *
 * <p>Once the channel is closed, what is left of the read is no longer interpreted: Netty ends the
 * header-block decompressor when the channel closes, and a header block decoded after that
 * allocates a buffer nothing releases (4 KiB per connection, e.g. a frame that makes the session
 * close followed by a SYN_STREAM in the same read, or records an SslHandler decodes in its
 * channelInactive) and throws "Inflater has been closed"; and framing errors are not reported to a
 * session that already closed.
 *
 * <p>Threading: Netty calls it on the channel's event loop only.
 */
final class SpdyCodec extends SpdyFrameCodec {
    private ChannelHandlerContext ctx;

    SpdyCodec(SpdySessionConfig config) {
        super(SpdyVersion.SPDY_3_1, config.maxInboundChunk(), config.maxHeaderBlockSize(),
                // Level 0 emits stored blocks: valid zlib with the SPDY dictionary, but nothing in one
                // block refers back to another request's headers.
                config.compressHeaders() ? 6 : 0, 15, 8);
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) throws Exception {
        super.handlerAdded(ctx);
        this.ctx = ctx;
    }

    @Override
    public void readHeaderBlock(ByteBuf headerBlock) {
        if (ctx.channel().isOpen()) {
            super.readHeaderBlock(headerBlock);
        } else {
            headerBlock.release();
        }
    }

    @Override
    public void readFrameError(String message) {
        if (ctx.channel().isOpen()) {
            super.readFrameError(message);
        }
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
