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
 */
final class SpdyCodec extends SpdyFrameCodec {

    SpdyCodec(SpdySessionConfig config) {
        super(SpdyVersion.SPDY_3_1, config.maxInboundChunk(), config.maxHeaderBlockSize(),
                // Level 0 emits stored blocks: valid zlib with the SPDY dictionary, but nothing in one
                // block refers back to another request's headers.
                config.compressHeaders() ? 6 : 0, 15, 8);
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
