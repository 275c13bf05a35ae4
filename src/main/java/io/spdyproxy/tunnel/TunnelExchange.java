package io.spdyproxy.tunnel;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.channel.EventLoop;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The server side of one request a tunnel carries (the origin's view): the request head, its
 * streamed body, and the response to send with backpressure. Protocol adapters create it and
 * feed it the stream's events.
 *
 * <p>Threading: events arrive on the session's event loop; the send methods may be called from any
 * thread. The callbacks registered here run on the loop.
 */
public final class TunnelExchange implements StreamEvents {
    private final TunnelStream stream;
    private final HttpRequest request;
    private final String scheme;
    private final boolean requestHasBody;
    private volatile BodyListener bodyListener;
    private volatile Runnable onWritable;
    private volatile Consumer<StreamClosedException> onClose;

    public TunnelExchange(TunnelStream stream, HttpRequest request, String scheme, boolean requestHasBody) {
        this.stream = stream;
        this.request = request;
        this.scheme = scheme;
        this.requestHasBody = requestHasBody;
    }

    public TunnelStream stream() {
        return stream;
    }

    public HttpRequest request() {
        return request;
    }

    /** The scheme the client used ("https" when the proxy did not say). */
    public String scheme() {
        return scheme;
    }

    /** The protocol the request asks to switch to, or null (see {@link RequestHead#upgradeOf}). */
    public String upgrade() {
        return RequestHead.upgradeOf(request);
    }

    /** False when the request ended with its head (no body will follow). */
    public boolean requestHasBody() {
        return requestHasBody;
    }

    /** The loop this exchange's events run on. */
    public EventLoop eventLoop() {
        return stream.session().eventLoop();
    }

    /** Sends the response head; {@code last} when no body follows (HEAD, 304, empty). */
    public void respond(HttpResponse head, boolean last) {
        stream.sendResponse(head, last);
    }

    /** A complete small response: status, content type and a text body. */
    public void respond(HttpResponseStatus status, String contentType, String body) {
        ByteBuf content = Unpooled.copiedBuffer(body, StandardCharsets.UTF_8);
        HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, status);
        head.headers().set(HttpHeaderNames.CONTENT_TYPE, contentType);
        head.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, content.readableBytes());
        boolean headOnly = request != null && HttpMethod.HEAD.equals(request.method());
        respond(head, headOnly);
        if (headOnly) {
            content.release();
        } else {
            write(content, true);
        }
    }

    /** Sends a body chunk (ownership passes); see {@link #isWritable()}. */
    public void write(ByteBuf chunk, boolean last) {
        stream.sendData(chunk, last);
    }

    /** Ends the body with trailers. */
    public void end(HttpHeaders trailers) {
        stream.sendTrailers(trailers);
    }

    /** False once the stream's send queue holds a window's worth: stop reading the source. */
    public boolean isWritable() {
        return stream.isWritable();
    }

    /**
     * Called on the event loop each time the stream becomes writable again. When {@link #write}
     * is itself called on the event loop, the callback may run inside that call (the chunk went out
     * at once and the stream drained): update the producer's position before writing.
     */
    public void onWritable(Runnable task) {
        this.onWritable = task;
    }

    /** Called once when the stream ends: null cause after a clean end in both directions. */
    public void onClose(Consumer<StreamClosedException> callback) {
        this.onClose = callback;
    }

    /** Where body chunks go; without one, the body is discarded (and still consumed). */
    public void onBody(BodyListener listener) {
        this.bodyListener = listener;
    }

    /** Grants the peer window for {@code bytes} of body the application is done with. */
    public void consume(int bytes) {
        stream.consume(bytes);
    }

    public void reset(StreamError error) {
        stream.reset(error);
    }

    @Override
    public void onData(TunnelStream s, ByteBuf data, boolean endOfStream) {
        BodyListener l = bodyListener;
        if (l == null) {
            int n = data.readableBytes();
            data.release();
            s.consume(n);
            return;
        }
        l.onChunk(data, endOfStream);
    }

    @Override
    public void onTrailers(TunnelStream s, HttpHeaders raw, boolean endOfStream) {
        BodyListener l = bodyListener;
        if (l != null) {
            HttpHeaders trailers;
            try {
                trailers = checked(raw);
            } catch (IllegalArgumentException e) {
                s.reset(StreamError.PROTOCOL_ERROR);
                return;
            }
            l.onTrailers(trailers);
            if (endOfStream) {
                l.onChunk(Unpooled.EMPTY_BUFFER, true);
            }
        }
    }

    /** Trailers as valid HTTP fields; pseudo-fields are dropped. Throws on an invalid one. */
    private static HttpHeaders checked(HttpHeaders raw) {
        HttpHeaders out = new DefaultHttpHeaders();
        for (Map.Entry<String, String> e : raw) {
            if (!e.getKey().startsWith(":")) {
                out.add(e.getKey(), e.getValue());
            }
        }
        return out;
    }

    @Override
    public void onWritabilityChanged(TunnelStream s) {
        Runnable r = onWritable;
        if (r != null && s.isWritable()) {
            r.run();
        }
    }

    @Override
    public void onClosed(TunnelStream s, StreamClosedException cause) {
        Consumer<StreamClosedException> c = onClose;
        if (c != null) {
            c.accept(cause);
        }
    }
}
