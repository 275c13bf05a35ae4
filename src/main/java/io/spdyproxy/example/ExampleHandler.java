package io.spdyproxy.example;

import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.spdyproxy.spdy.http.BodyListener;
import io.spdyproxy.spdy.http.HttpExchange;
import io.spdyproxy.spdy.http.HttpRequestHandler;

/**
 * The library's example service: {@code GET /} greets, {@code GET /bytes?n=N} streams N bytes
 * paced by the stream's window, {@code POST /echo} streams the request body back as it arrives.
 * It shows the backpressure idiom: produce while writable, resume on the writability callback.
 */
public final class ExampleHandler implements HttpRequestHandler {
    private static final int CHUNK = 32 * 1024;

    @Override
    public void onRequest(HttpExchange ex) {
        QueryStringDecoder uri = new QueryStringDecoder(ex.request().uri());
        switch (uri.path()) {
            case "/" -> ex.respond(HttpResponseStatus.OK, "text/plain; charset=utf-8",
                    "Hello from spdy-proxy over " + ex.stream().session().config().protocol().alpnId() + "\n");
            case "/bytes" -> streamBytes(ex, Long.parseLong(uri.parameters()
                    .getOrDefault("n", java.util.List.of("1024")).get(0)));
            case "/echo" -> echo(ex);
            default -> ex.respond(HttpResponseStatus.NOT_FOUND, "text/plain; charset=utf-8", "not found\n");
        }
    }

    private static void streamBytes(HttpExchange ex, long total) {
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
                ByteBuf chunk = ex.stream().session().channel().alloc().buffer(n);
                chunk.writerIndex(n); // content is irrelevant; pooled memory as is
                left[0] -= n;
                ex.write(chunk, left[0] == 0);
            }
        };
        ex.onWritable(produce);
        produce.run();
    }

    private static void echo(HttpExchange ex) {
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
