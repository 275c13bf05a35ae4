package io.spdyproxy.observe.metrics;

import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * Answers {@code GET /metrics} with a registry's Prometheus text exposition. The scrape runs on a
 * thread of its own, never on the event loop (a thousand tunnels make a long document), with at
 * most a few scrapes waiting; more get {@code 503}.
 *
 * <p>Threading: {@link #serve} on any thread; the answer is written from the scrape thread.
 */
final class MetricsHttp implements AutoCloseable {
    /** The Prometheus text format, version 0.0.4. */
    static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

    private final PrometheusMeterRegistry registry;
    private final ThreadPoolExecutor scraper;

    MetricsHttp(PrometheusMeterRegistry registry, String threadName) {
        this.registry = registry;
        this.scraper = new ThreadPoolExecutor(1, 1, 0, TimeUnit.SECONDS, new ArrayBlockingQueue<>(4), r -> {
            Thread t = new Thread(r, threadName);
            t.setDaemon(true);
            return t;
        });
    }

    String scrape() {
        return registry.scrape();
    }

    /** Answers {@code req} (already known to be for {@code /metrics}); the caller keeps ownership of it. */
    void serve(ChannelHandlerContext ctx, FullHttpRequest req) {
        boolean keepAlive = HttpUtil.isKeepAlive(req);
        boolean head = HttpMethod.HEAD.equals(req.method());
        if (!HttpMethod.GET.equals(req.method()) && !head) {
            write(ctx, text(HttpResponseStatus.METHOD_NOT_ALLOWED, "GET only\n", false), keepAlive);
            return;
        }
        try {
            scraper.execute(() -> {
                FullHttpResponse r;
                try {
                    r = text(HttpResponseStatus.OK, scrape(), head);
                } catch (RuntimeException e) {
                    r = text(HttpResponseStatus.INTERNAL_SERVER_ERROR, "scrape failed: " + e + "\n", head);
                }
                write(ctx, r, keepAlive);
            });
        } catch (RejectedExecutionException e) {
            write(ctx, text(HttpResponseStatus.SERVICE_UNAVAILABLE, "too many scrapes waiting\n", false), false);
        }
    }

    private static FullHttpResponse text(HttpResponseStatus status, String body, boolean head) {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        ByteBuf content = head ? Unpooled.EMPTY_BUFFER : Unpooled.wrappedBuffer(bytes);
        FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, content);
        r.headers().set(HttpHeaderNames.CONTENT_TYPE, CONTENT_TYPE);
        r.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, bytes.length);
        return r;
    }

    private static void write(ChannelHandlerContext ctx, FullHttpResponse r, boolean keepAlive) {
        HttpUtil.setKeepAlive(r, keepAlive);
        var f = ctx.writeAndFlush(r);
        if (!keepAlive) {
            f.addListener(ChannelFutureListener.CLOSE);
        }
    }

    @Override
    public void close() {
        scraper.shutdownNow();
    }
}
