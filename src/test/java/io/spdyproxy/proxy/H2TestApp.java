package io.spdyproxy.proxy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.spdyproxy.testing.ChecksumHandler;
import io.spdyproxy.tunnel.BodyListener;
import io.spdyproxy.tunnel.RequestHandler;
import io.spdyproxy.tunnel.StreamClosedException;
import io.spdyproxy.tunnel.StreamError;
import io.spdyproxy.tunnel.TunnelExchange;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.zip.CRC32C;

/**
 * The in-process app behind the tunnel in the HTTP/2 front-end tests: {@code /headers} answers
 * the request's headers as lines; {@code /upload} a checksum of the body; {@code /big?n=N}
 * streams N patterned bytes with backpressure ({@code &chunked} without a length;
 * {@code &reset=K} resets the stream after K bytes); {@code /trailers} echoes the request's
 * trailers as response trailers; anything else answers the tunnel's name.
 *
 * <p>Threading: called on the origin's loop; the queues are safe from the test thread.
 */
final class H2TestApp implements RequestHandler {
    final String name;
    final ChecksumHandler upload = new ChecksumHandler();
    /** How each {@code /big} stream ended at the origin (null cause: clean). */
    final BlockingQueue<String> bigClosed = new LinkedBlockingQueue<>();
    final CompletableFuture<Void> bigStarted = new CompletableFuture<>();

    H2TestApp(String name) {
        this.name = name;
    }

    static byte pattern(long i) {
        return (byte) (i % 251);
    }

    static long patternCrc(long n) {
        CRC32C crc = new CRC32C();
        byte[] b = new byte[8192];
        for (long i = 0; i < n; i += b.length) {
            int k = (int) Math.min(b.length, n - i);
            for (int j = 0; j < k; j++) {
                b[j] = pattern(i + j);
            }
            crc.update(b, 0, k);
        }
        return crc.getValue();
    }

    @Override
    public void onRequest(TunnelExchange ex) {
        QueryStringDecoder q = new QueryStringDecoder(ex.request().uri());
        switch (q.path()) {
            case "/headers" -> headers(ex);
            case "/upload" -> upload.onRequest(ex);
            case "/big" -> big(ex, Long.parseLong(param(q, "n", "0")), q.parameters().containsKey("chunked"),
                    Long.parseLong(param(q, "reset", "-1")));
            case "/trailers" -> trailers(ex);
            default -> ex.respond(HttpResponseStatus.OK, "text/plain; charset=utf-8", name);
        }
    }

    private static String param(QueryStringDecoder q, String name, String dflt) {
        var v = q.parameters().get(name);
        return v == null || v.isEmpty() ? dflt : v.get(0);
    }

    private static void headers(TunnelExchange ex) {
        StringBuilder b = new StringBuilder();
        for (Map.Entry<String, String> e : ex.request().headers()) {
            b.append(e.getKey().toLowerCase(Locale.ROOT)).append(": ").append(e.getValue()).append('\n');
        }
        ex.respond(HttpResponseStatus.OK, "text/plain; charset=utf-8", b.toString());
    }

    private void big(TunnelExchange ex, long n, boolean chunked, long resetAt) {
        HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
        head.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/octet-stream");
        if (!chunked) {
            head.headers().set(HttpHeaderNames.CONTENT_LENGTH, n);
        }
        ex.onClose(cause -> bigClosed.add(describe(cause)));
        ex.respond(head, n == 0);
        bigStarted.complete(null);
        long[] sent = {0};
        Runnable pump = new Runnable() {
            @Override
            public void run() {
                while (sent[0] < n && ex.isWritable()) {
                    if (resetAt >= 0 && sent[0] >= resetAt) {
                        sent[0] = n;
                        ex.reset(StreamError.INTERNAL_ERROR);
                        return;
                    }
                    int k = (int) Math.min(16 * 1024, n - sent[0]);
                    ByteBuf b = Unpooled.buffer(k);
                    for (int j = 0; j < k; j++) {
                        b.writeByte(pattern(sent[0] + j));
                    }
                    sent[0] += k;
                    ex.write(b, sent[0] == n);
                }
            }
        };
        ex.onWritable(pump);
        pump.run();
    }

    private static String describe(StreamClosedException cause) {
        return cause == null ? "clean" : cause.error().name();
    }

    private static void trailers(TunnelExchange ex) {
        HttpHeaders got = new DefaultHttpHeaders();
        StringBuilder body = new StringBuilder();
        ex.onBody(new BodyListener() {
            @Override
            public void onChunk(ByteBuf chunk, boolean last) {
                int n = chunk.readableBytes();
                body.append(chunk.toString(StandardCharsets.UTF_8));
                chunk.release();
                ex.consume(n);
                if (last) {
                    HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
                    head.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain");
                    ex.respond(head, false);
                    ex.write(Unpooled.copiedBuffer("got " + body + " trailer " + got.get("x-checksum"),
                            StandardCharsets.UTF_8), false);
                    HttpHeaders t = new DefaultHttpHeaders();
                    t.set("x-origin-trailer", "done");
                    t.set("grpc-status", "0");
                    ex.end(t);
                }
            }

            @Override
            public void onTrailers(HttpHeaders trailers) {
                got.add(trailers);
            }
        });
        if (!ex.requestHasBody()) {
            ex.respond(HttpResponseStatus.OK, "text/plain", "no body");
        }
    }
}
