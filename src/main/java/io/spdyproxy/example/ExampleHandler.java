package io.spdyproxy.example;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.spdyproxy.tunnel.BodyListener;
import io.spdyproxy.tunnel.TunnelExchange;
import io.spdyproxy.tunnel.RequestHandler;
import java.nio.ByteBuffer;
import java.util.List;

/**
 * The library's example service: {@code GET /} greets, {@code GET /bytes?n=N} streams N zero bytes
 * paced by the stream's window, {@code POST /echo} streams the request body back as it arrives.
 * It shows the backpressure idiom: produce while writable, resume on the writability callback.
 */
public final class ExampleHandler implements RequestHandler {
    private static final int CHUNK = 32 * 1024;
    /**
     * What {@code /bytes} sends: zeros, shared by every response. Read-only and never released,
     * each chunk is a view of it, so no copy or fill is paid per chunk. A pooled buffer merely
     * advanced past its unwritten bytes would send whatever an earlier request left in that
     * memory (another client's upload, say).
     */
    private static final ByteBuf ZEROS = Unpooled.unreleasableBuffer(
            Unpooled.wrappedBuffer(ByteBuffer.allocateDirect(CHUNK).asReadOnlyBuffer()));

    @Override
    public void onRequest(TunnelExchange ex) {
        QueryStringDecoder uri = new QueryStringDecoder(ex.request().uri());
        switch (uri.path()) {
            case "/" -> ex.respond(HttpResponseStatus.OK, "text/plain; charset=utf-8",
                    "Hello from spdy-proxy over " + ex.stream().session().protocol() + "\n");
            case "/bytes" -> {
                long n = count(uri.parameters().getOrDefault("n", List.of("1024")).get(0));
                if (n < 0) {
                    ex.respond(HttpResponseStatus.BAD_REQUEST, "text/plain; charset=utf-8",
                            "n: expected a number of bytes >= 0\n");
                } else {
                    streamBytes(ex, n);
                }
            }
            case "/echo" -> echo(ex);
            default -> ex.respond(HttpResponseStatus.NOT_FOUND, "text/plain; charset=utf-8", "not found\n");
        }
    }

    /** The byte count {@code n} asks for, or -1 when it is not one. */
    private static long count(String n) {
        try {
            return Math.max(-1, Long.parseLong(n));
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    private static void streamBytes(TunnelExchange ex, long total) {
        HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
        head.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/octet-stream");
        head.headers().set(HttpHeaderNames.CONTENT_LENGTH, total);
        boolean headOnly = ex.request().method().equals(HttpMethod.HEAD);
        ex.respond(head, headOnly || total == 0);
        if (headOnly || total == 0) {
            return;
        }
        long[] left = {total};
        Runnable produce = () -> {
            while (left[0] > 0 && ex.isWritable() && !ex.stream().isClosed()) {
                int n = (int) Math.min(CHUNK, left[0]);
                left[0] -= n;
                ex.write(ZEROS.slice(0, n), left[0] == 0);
            }
        };
        ex.onWritable(produce);
        produce.run();
    }

    private static void echo(TunnelExchange ex) {
        HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
        head.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/octet-stream");
        if (!ex.requestHasBody()) {
            ex.respond(head, true);
            return;
        }
        ex.respond(head, false);
        // Each request chunk is written back; it is consumed (window granted) only once the
        // response side has sent it, so a slow reader slows the uploader, never our memory.
        ex.onBody(new BodyListener() {
            @Override
            public void onChunk(ByteBuf chunk, boolean last) {
                int n = chunk.readableBytes();
                ex.write(chunk, last);
                if (ex.isWritable()) {
                    ex.consume(n);
                } else {
                    pending += n;
                }
            }

            private int pending;

            {
                ex.onWritable(() -> {
                    ex.consume(pending);
                    pending = 0;
                });
            }
        });
    }
}
