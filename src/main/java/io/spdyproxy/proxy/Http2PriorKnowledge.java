package io.spdyproxy.proxy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.util.ReferenceCountUtil;

/**
 * On the plain HTTP port, tells HTTP/2 with prior knowledge (RFC 9113 section 3.3: the client
 * opens with the preface {@code PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n}) from HTTP/1.1 by the first bytes.
 * As soon as a byte differs from the preface (an HTTP/1.1 method never starts with "PRI " ) the
 * connection stays exactly as it was and this handler leaves; once the whole preface is in, the
 * HTTP/1.1 handlers give way to {@link Http2Frontend}'s, which read the preface again themselves.
 * Holds at most the preface's 24 bytes meanwhile. Sits after {@link TlsOnPlainPort} and before the
 * client timeouts, which keep running for a client that sends part of a preface and stops.
 *
 * <p>Threading: confined to the channel's event loop.
 */
final class Http2PriorKnowledge extends ChannelInboundHandlerAdapter {
    private static final ByteBuf PREFACE = Http2CodecUtil.connectionPrefaceBuf();

    private final ProxyContext px;
    private ByteBuf held;

    Http2PriorKnowledge(ProxyContext px) {
        this.px = px;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof ByteBuf b)) {
            ctx.fireChannelRead(msg);
            return;
        }
        ByteBuf in = held == null ? b : ctx.alloc().compositeBuffer().addComponents(true, held, b);
        held = null;
        int n = Math.min(in.readableBytes(), PREFACE.readableBytes());
        if (!ByteBufUtil.equals(in, in.readerIndex(), PREFACE, PREFACE.readerIndex(), n)) {
            ctx.pipeline().remove(this);
            ctx.fireChannelRead(in); // HTTP/1.1 (or garbage for its decoder to refuse), as before
            return;
        }
        if (n < PREFACE.readableBytes()) {
            held = in;
            return; // channelReadComplete asks for the rest
        }
        // HTTP/1's front end already counted the connection as open when it became active.
        ctx.pipeline().remove("frontend");
        ctx.pipeline().remove("http");
        ctx.pipeline().remove("timeouts");
        Http2Frontend.install(ctx.pipeline(), px, "http", true);
        ctx.pipeline().remove(this);
        ctx.fireChannelRead(in);
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        if (held != null) {
            ctx.read(); // part of what may be a preface: wait for the rest (the head timeout runs)
        }
        ctx.fireChannelReadComplete();
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        if (held != null) {
            ReferenceCountUtil.release(held);
            held = null;
        }
    }
}
