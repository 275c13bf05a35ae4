package io.spdyproxy.proxy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;

/**
 * On the plain HTTP port, a connection whose first byte starts a TLS record (0x16, a ClientHello:
 * a browser told https://, or an origin pointed here instead of at the tunnel port) is answered
 * at once with a plain-text 400 that says so, instead of waiting for a line end that never comes.
 * An origin reads that answer and names the flag to fix. Removes itself after the first byte.
 *
 * <p>Threading: confined to the channel's event loop.
 */
final class TlsOnPlainPort extends ChannelInboundHandlerAdapter {
    private static final String BODY = "this is the proxy's plain HTTP port: HTTPS clients use its --https-port,"
            + " origins its --tunnel-port\n";
    private static final byte[] ANSWER = ("HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n"
            + "Connection: close\r\nContent-Length: " + BODY.length() + "\r\n\r\n" + BODY)
            .getBytes(StandardCharsets.US_ASCII);

    private boolean refused;

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (refused) {
            ReferenceCountUtil.release(msg); // the rest of the hello: we are closing
            return;
        }
        if (msg instanceof ByteBuf b && b.isReadable()) {
            if (b.getByte(b.readerIndex()) == 0x16) {
                refused = true;
                b.release();
                ctx.writeAndFlush(Unpooled.wrappedBuffer(ANSWER)).addListener(ChannelFutureListener.CLOSE);
                return;
            }
            ctx.pipeline().remove(this);
        }
        ctx.fireChannelRead(msg);
    }
}
