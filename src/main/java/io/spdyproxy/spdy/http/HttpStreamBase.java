package io.spdyproxy.spdy.http;

import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.spdy.SpdyHeaders;
import io.spdyproxy.spdy.SpdyError;
import io.spdyproxy.spdy.SpdyStream;
import io.spdyproxy.spdy.SpdyStreamException;
import io.spdyproxy.spdy.SpdyStreamListener;
import java.util.function.Consumer;

/**
 * What the server and client sides of an HTTP exchange over one stream share: sending a streamed
 * body with backpressure, receiving one with explicit consumption, and the end of the stream.
 *
 * <p>Threading: callbacks run on the session's event loop; the send methods may be called from
 * any thread.
 */
public abstract class HttpStreamBase implements SpdyStreamListener {
    SpdyStream stream;
    private volatile BodyListener bodyListener;
    private volatile Runnable onWritable;
    private volatile Consumer<SpdyStreamException> onClose;
    private boolean headersSeen;

    public SpdyStream stream() {
        return stream;
    }

    /** Sends a body chunk (ownership passes); see {@link #isWritable()}. */
    public void write(ByteBuf chunk, boolean last) {
        stream.sendData(chunk, last);
    }

    /** Ends the body with trailers. */
    public void end(HttpHeaders trailers) {
        stream.sendHeaders(SpdyHttpHeaders.fromTrailers(trailers), true);
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
    public void onClose(Consumer<SpdyStreamException> callback) {
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

    public void reset(SpdyError error) {
        stream.reset(error);
    }

    /** The first header block of the peer (request or response head). */
    abstract void onHead(SpdyHeaders headers, boolean endOfStream);

    @Override
    public final void onHeaders(SpdyStream s, SpdyHeaders headers, boolean endOfStream) {
        this.stream = s;
        if (!headersSeen) {
            headersSeen = true;
            onHead(headers, endOfStream);
            return;
        }
        BodyListener l = bodyListener;
        if (l != null) {
            l.onTrailers(SpdyHttpHeaders.toTrailers(headers));
        }
        if (endOfStream) {
            endBody();
        }
    }

    /** Tells the body listener the body ended with no further bytes. */
    void endBody() {
        BodyListener l = bodyListener;
        if (l != null) {
            l.onChunk(io.netty.buffer.Unpooled.EMPTY_BUFFER, true);
        }
    }

    @Override
    public final void onData(SpdyStream s, ByteBuf data, boolean endOfStream) {
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
    public final void onWritabilityChanged(SpdyStream s) {
        Runnable r = onWritable;
        if (r != null && s.isWritable()) {
            r.run();
        }
    }

    @Override
    public void onClosed(SpdyStream s, SpdyStreamException cause) {
        Consumer<SpdyStreamException> c = onClose;
        if (c != null) {
            c.accept(cause);
        }
    }
}
