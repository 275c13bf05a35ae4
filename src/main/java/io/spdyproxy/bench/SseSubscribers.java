package io.spdyproxy.bench;

import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The app's {@code /events} streams (Server-Sent Events, text/event-stream): a response head with
 * no length (chunked), then one event per {@link #publish}, each flushed on its own so nothing in
 * the app batches them.
 *
 * <p>Threading: thread-safe; {@code subscribe} runs on the connection's loop, {@code publish} on
 * any thread (Netty's {@code writeAndFlush} hops onto each channel's loop, in call order).
 */
final class SseSubscribers {
    private record Waiter(int count, CompletableFuture<Void> future) {}

    private final Set<Channel> streams = ConcurrentHashMap.newKeySet();
    private final List<Waiter> waiters = new ArrayList<>();
    private int subscribed;
    private long nextId;

    /** Answers the request on {@code ch} with an event-stream head and keeps it for events. */
    void subscribe(Channel ch) {
        HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
        head.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/event-stream")
                .set(HttpHeaderNames.CACHE_CONTROL, HttpHeaderValues.NO_CACHE)
                .set(HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderValues.CHUNKED);
        ch.writeAndFlush(head).addListener(f -> {
            if (!f.isSuccess()) {
                ch.close();
                return;
            }
            streams.add(ch);
            ch.closeFuture().addListener(c -> streams.remove(ch));
            countSubscriber();
        });
    }

    CompletableFuture<Void> subscribed(int n) {
        synchronized (waiters) {
            if (subscribed >= n) {
                return CompletableFuture.completedFuture(null);
            }
            Waiter w = new Waiter(n, new CompletableFuture<>());
            waiters.add(w);
            return w.future();
        }
    }

    int publish(String data) {
        long id;
        synchronized (this) {
            id = nextId++;
        }
        String event = "id: " + id + "\ndata: " + data.replace("\n", "\ndata: ") + "\n\n";
        int sent = 0;
        for (Channel ch : streams) {
            ch.writeAndFlush(new DefaultHttpContent(Unpooled.copiedBuffer(event, StandardCharsets.UTF_8)));
            sent++;
        }
        return sent;
    }

    void closeAll() {
        for (Channel ch : streams) {
            ch.close();
        }
    }

    private void countSubscriber() {
        List<CompletableFuture<Void>> ready = new ArrayList<>();
        synchronized (waiters) {
            subscribed++;
            waiters.removeIf(w -> {
                if (w.count() <= subscribed) {
                    ready.add(w.future());
                    return true;
                }
                return false;
            });
        }
        ready.forEach(f -> f.complete(null));
    }
}
