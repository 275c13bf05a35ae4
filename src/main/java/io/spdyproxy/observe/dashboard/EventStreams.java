package io.spdyproxy.observe.dashboard;

import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.AttributeKey;
import io.netty.util.ReferenceCountUtil;
import io.spdyproxy.transport.Transport;
import java.nio.charset.StandardCharsets;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The server-sent event streams of {@code /api/events} (HTML Living Standard, "Server-sent
 * events"): one {@code data:} line of JSON per event, one event a second to every subscriber.
 *
 * <p>Bounded: at most {@value #MAX_SUBSCRIBERS} streams, and each may hold at most its write
 * buffer's high-water mark ({@value #HIGH_WATER} bytes) plus one event: a subscriber whose buffer
 * is still above the mark when the next event is due is not reading, and loses its connection.
 *
 * <p>Threading: {@link #subscribe} runs on the channel's loop, {@link #broadcast} on the ticker;
 * the set of streams is concurrent, and channel writes from the ticker hop onto each loop.
 */
final class EventStreams {
    static final int MAX_SUBSCRIBERS = 16;
    static final int HIGH_WATER = 64 * 1024;
    private static final AttributeKey<Boolean> STREAMING = AttributeKey.valueOf(EventStreams.class, "streaming");

    private final Set<Channel> streams = ConcurrentHashMap.newKeySet();

    /** True once {@code ch} carries an event stream: its later requests get no answer. */
    static boolean isStreaming(Channel ch) {
        return ch.hasAttr(STREAMING);
    }

    /** Starts an event stream on {@code ctx}'s connection, whose first event is {@code first}. */
    void subscribe(ChannelHandlerContext ctx, HttpRequest req, String first) {
        Channel ch = ctx.channel();
        if (streams.size() >= MAX_SUBSCRIBERS) {
            Responses.text(ctx, req, HttpResponseStatus.SERVICE_UNAVAILABLE,
                    "too many event streams open (" + MAX_SUBSCRIBERS + "): close a dashboard tab");
            return;
        }
        ch.attr(STREAMING).set(Boolean.TRUE);
        // The connection is the stream's from now on: whatever else the client sends is dropped
        // unread, so nothing can be answered into the middle of the stream.
        ch.pipeline().addFirst("sse-discard", new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext c, Object msg) {
                ReferenceCountUtil.release(msg);
            }
        });
        ch.config().setWriteBufferWaterMark(new WriteBufferWaterMark(HIGH_WATER / 2, HIGH_WATER));
        // Unsent bytes wait in our buffer, where the mark sees them, not in a large kernel buffer.
        Transport.limitUnsent(ch, 16 * 1024);
        HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
        head.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/event-stream; charset=utf-8");
        Responses.secure(head.headers());
        HttpUtil.setTransferEncodingChunked(head, true);
        ctx.write(head);
        ctx.writeAndFlush(event(first));
        streams.add(ch);
        ch.closeFuture().addListener(f -> streams.remove(ch));
    }

    /** Sends {@code json} to every stream; closes a stream that has not read the last one. */
    void broadcast(String json) {
        byte[] bytes = frame(json);
        for (Channel ch : streams) {
            if (!ch.isWritable()) {
                ch.close();
                continue;
            }
            ch.writeAndFlush(new DefaultHttpContent(Unpooled.wrappedBuffer(bytes)));
        }
    }

    void closeAll() {
        for (Channel ch : streams) {
            ch.close();
        }
    }

    private static DefaultHttpContent event(String json) {
        return new DefaultHttpContent(Unpooled.wrappedBuffer(frame(json)));
    }

    /** One event: the JSON is ASCII without line breaks (see {@link Json}), so one data line. */
    private static byte[] frame(String json) {
        return ("data: " + json + "\n\n").getBytes(StandardCharsets.US_ASCII);
    }
}
