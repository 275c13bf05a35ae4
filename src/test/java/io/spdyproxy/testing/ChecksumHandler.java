package io.spdyproxy.testing;

import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.spdyproxy.tunnel.BodyListener;
import io.spdyproxy.tunnel.TunnelExchange;
import io.spdyproxy.tunnel.RequestHandler;
import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.zip.CRC32C;

/**
 * An origin handler that answers {@code bytes=N crc32c=HEX} ({@link #summary}) for the request
 * body it received, consuming each chunk as it arrives (the body is never held whole).
 */
public final class ChecksumHandler implements RequestHandler {
    public final AtomicInteger requests = new AtomicInteger();

    @Override
    public void onRequest(TunnelExchange ex) {
        requests.incrementAndGet();
        CRC32C crc = new CRC32C();
        long[] count = new long[1];
        if (!ex.requestHasBody()) {
            answer(ex, 0, crc.getValue());
            return;
        }
        ex.onBody(new BodyListener() {
            @Override
            public void onChunk(ByteBuf chunk, boolean last) {
                int n = chunk.readableBytes();
                try {
                    for (ByteBuffer b : chunk.nioBuffers()) {
                        crc.update(b);
                    }
                    count[0] += n;
                } finally {
                    chunk.release();
                }
                ex.consume(n);
                if (last) {
                    answer(ex, count[0], crc.getValue());
                }
            }
        });
    }

    /** The answer for a body of {@code bytes} bytes with this CRC32C. */
    public static String summary(long bytes, long crc) {
        return "bytes=" + bytes + " crc32c=" + Long.toHexString(crc);
    }

    private static void answer(TunnelExchange ex, long n, long crc) {
        ex.respond(HttpResponseStatus.OK, "text/plain; charset=utf-8", summary(n, crc));
    }
}
