package io.spdyproxy.spdy.http;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.ssl.SslClientHelloHandler;
import io.netty.util.concurrent.Future;
import io.spdyproxy.spdy.SpdyProtocol;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sits in front of the TLS handler of a SPDY-only listener and reads the client's ALPN offer from
 * its ClientHello. A client that offers ALPN protocols but no SPDY one (an h2-only or
 * http/1.1-only client) gets the fatal {@code no_application_protocol} alert RFC 7301 section 3.2
 * prescribes and the connection closes, instead of SPDY frames it will never answer. The JDK
 * engine could send that alert itself, OpenSSL (Netty's {@code FATAL_ALERT}) cannot, so this
 * works the same on both. A client that offers no ALPN at all is let through, and gets SPDY/3.1.
 *
 * <p>Threading: confined to the channel's event loop; removes itself once the ClientHello is read.
 */
final class AlpnRefusal extends SslClientHelloHandler<List<String>> {
    private static final Logger log = LoggerFactory.getLogger(AlpnRefusal.class);
    private static final int ALPN_EXTENSION = 16; // RFC 7301 section 3.1
    /** A plaintext alert record: fatal (2), no_application_protocol (120); RFC 8446 section 6. */
    private static final byte[] NO_APPLICATION_PROTOCOL = {21, 3, 3, 0, 2, 2, 120};

    private boolean refused;

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) throws Exception {
        if (refused) {
            in.skipBytes(in.readableBytes()); // closing: whatever else the client sends is dropped
            return;
        }
        super.decode(ctx, in, out);
    }

    @Override
    protected Future<List<String>> lookup(ChannelHandlerContext ctx, ByteBuf clientHello) {
        return ctx.executor().newSucceededFuture(clientHello == null ? null : offeredProtocols(clientHello));
    }

    @Override
    protected void onLookupComplete(ChannelHandlerContext ctx, Future<List<String>> future) {
        List<String> offered = future.getNow();
        if (offered == null || offered.stream().anyMatch(AlpnRefusal::spoken)) {
            ctx.pipeline().remove(this); // the ClientHello goes on to the TLS handler
            return;
        }
        refused = true;
        log.debug("TLS client {} offers ALPN {} but this listener speaks only spdy/3.1 and spdy/3: refused",
                ctx.channel().remoteAddress(), offered);
        ctx.writeAndFlush(Unpooled.wrappedBuffer(NO_APPLICATION_PROTOCOL)).addListener(ChannelFutureListener.CLOSE);
    }

    static boolean spoken(String alpnId) {
        for (SpdyProtocol p : SpdyProtocol.values()) {
            if (p.alpnId().equals(alpnId)) {
                return true;
            }
        }
        return false;
    }

    /**
     * The protocol ids of the ALPN extension of a ClientHello body (RFC 8446 section 4.1.2), or
     * null when it has none or is malformed (then TLS itself deals with it).
     */
    static List<String> offeredProtocols(ByteBuf hello) {
        int i = hello.readerIndex();
        int end = hello.writerIndex();
        i += 2 + 32; // legacy_version, random
        if (i + 1 > end) {
            return null;
        }
        i += 1 + hello.getUnsignedByte(i); // legacy_session_id
        if (i + 2 > end) {
            return null;
        }
        i += 2 + hello.getUnsignedShort(i); // cipher_suites
        if (i + 1 > end) {
            return null;
        }
        i += 1 + hello.getUnsignedByte(i); // legacy_compression_methods
        if (i + 2 > end) {
            return null;
        }
        int extensionsEnd = Math.min(end, i + 2 + hello.getUnsignedShort(i));
        i += 2;
        while (i + 4 <= extensionsEnd) {
            int type = hello.getUnsignedShort(i);
            int length = hello.getUnsignedShort(i + 2);
            i += 4;
            if (i + length > extensionsEnd) {
                return null;
            }
            if (type == ALPN_EXTENSION) {
                return protocolNames(hello, i, length);
            }
            i += length;
        }
        return null;
    }

    private static List<String> protocolNames(ByteBuf hello, int start, int length) {
        if (length < 2) {
            return null;
        }
        int end = Math.min(start + length, start + 2 + hello.getUnsignedShort(start));
        List<String> names = new ArrayList<>();
        for (int i = start + 2; i < end; ) {
            int n = hello.getUnsignedByte(i);
            if (i + 1 + n > end) {
                return null;
            }
            names.add(hello.toString(i + 1, n, StandardCharsets.US_ASCII));
            i += 1 + n;
        }
        return names;
    }
}
