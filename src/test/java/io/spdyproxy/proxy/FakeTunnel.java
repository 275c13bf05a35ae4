package io.spdyproxy.proxy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponse;
import io.spdyproxy.tunnel.RequestHead;
import io.spdyproxy.tunnel.SessionStats;
import io.spdyproxy.tunnel.StreamClosedException;
import io.spdyproxy.tunnel.StreamError;
import io.spdyproxy.tunnel.StreamHandler;
import io.spdyproxy.tunnel.Tunnel;
import io.spdyproxy.tunnel.TunnelSession;
import io.spdyproxy.tunnel.TunnelStream;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * A tunnel session scripted by a test, on the test's own event loop: what the proxy opens is
 * recorded as {@link Opened} streams, which the test answers through their handler. No network:
 * this is what the tunnel seam is for. Not thread-safe; one test thread drives it.
 */
final class FakeTunnel implements TunnelSession {
    private final String name;
    private final EventLoop loop;
    final List<Opened> opened = new ArrayList<>();
    private final CompletableFuture<Void> closed = new CompletableFuture<>();
    boolean accepting = true;
    /** False: request body bytes are released at once instead of kept in {@link Stream#sent}. */
    boolean keepSent = true;
    /** Called with each stream the proxy opens, on the thread that opened it. */
    java.util.function.Consumer<Opened> onOpen = o -> { };

    FakeTunnel(String name, EventLoop loop) {
        this.name = name;
        this.loop = loop;
    }

    Tunnel tunnel() {
        return new Tunnel(name, this, false, new InetSocketAddress("127.0.0.1", 1));
    }

    Opened last() {
        return opened.get(opened.size() - 1);
    }

    /** One stream the proxy asked for: its head, its handler and (once accepted) the stream. */
    final class Opened {
        final RequestHead head;
        final boolean endOfStream;
        final StreamHandler handler;
        final CompletableFuture<TunnelStream> future = new CompletableFuture<>();
        final Stream stream = new Stream(opened.size() + 1);

        Opened(RequestHead head, boolean endOfStream, StreamHandler handler) {
            this.head = head;
            this.endOfStream = endOfStream;
            this.handler = handler;
        }

        /** The session accepts the stream. */
        Opened accept() {
            future.complete(stream);
            return this;
        }

        /** The session refuses it before the peer saw it (a retry is safe). */
        void refuse() {
            future.completeExceptionally(new StreamClosedException(StreamError.REFUSED, true, false, "refused"));
        }

        void head(String status, boolean fin, String... headers) {
            HttpHeaders h = new io.netty.handler.codec.http.DefaultHttpHeaders();
            for (int i = 0; i < headers.length; i += 2) {
                h.add(headers[i], headers[i + 1]);
            }
            handler.onHead(stream, new io.spdyproxy.tunnel.ResponseHead(status, h), fin);
        }

        void data(String text, boolean fin) {
            handler.onData(stream, Unpooled.copiedBuffer(text, StandardCharsets.UTF_8), fin);
        }

        void trailers(boolean fin, String... headers) {
            HttpHeaders h = new io.netty.handler.codec.http.DefaultHttpHeaders();
            for (int i = 0; i < headers.length; i += 2) {
                h.add(headers[i], headers[i + 1]);
            }
            handler.onTrailers(stream, h, fin);
        }

        /** The peer resets the stream. */
        void closed(StreamError error, boolean retryable) {
            stream.closed = true;
            handler.onClosed(stream, new StreamClosedException(error, retryable, false, "peer: " + error));
        }
    }

    /** The proxy's side of one stream: what it sent, consumed, and how it ended. */
    final class Stream implements TunnelStream {
        private final int id;
        final CompositeByteBuf sent = Unpooled.compositeBuffer(1024);
        boolean sentLast;
        long consumed;
        StreamError reset;
        boolean writable = true;
        boolean closed;

        Stream(int id) {
            this.id = id;
        }

        String sentText() {
            return sent.toString(StandardCharsets.UTF_8);
        }

        @Override
        public int id() {
            return id;
        }

        @Override
        public TunnelSession session() {
            return FakeTunnel.this;
        }

        @Override
        public void sendResponse(HttpResponse head, boolean endOfStream) {
            throw new UnsupportedOperationException("the proxy never answers");
        }

        @Override
        public void sendData(ByteBuf data, boolean endOfStream) {
            if (keepSent) {
                sent.addComponent(true, data);
            } else {
                data.release();
            }
            sentLast |= endOfStream;
        }

        @Override
        public void sendTrailers(HttpHeaders trailers) {
            sentLast = true;
        }

        @Override
        public void consume(int bytes) {
            consumed += bytes;
        }

        @Override
        public void reset(StreamError error) {
            if (!closed) {
                closed = true;
                reset = error;
                // As a real session does: a local reset reports the close at once on its loop.
                opened.stream().filter(o -> o.stream == this).findFirst().ifPresent(o ->
                        o.handler.onClosed(this, new StreamClosedException(error, false, true, "reset: " + error)));
            }
        }

        @Override
        public boolean isWritable() {
            return writable;
        }

        @Override
        public long queuedBytes() {
            return 0;
        }

        @Override
        public long maxQueuedBytes() {
            return 0;
        }

        @Override
        public long bytesSent() {
            return sent.readableBytes();
        }

        @Override
        public long bytesReceived() {
            return 0;
        }

        @Override
        public boolean isClosed() {
            return closed;
        }
    }

    /** Releases what the streams kept. */
    void release() {
        opened.forEach(o -> o.stream.sent.release());
    }

    @Override
    public CompletableFuture<TunnelStream> open(RequestHead head, int priority, boolean endOfStream,
            StreamHandler handler) {
        Opened o = new Opened(head, endOfStream, handler);
        opened.add(o);
        onOpen.accept(o);
        return o.future;
    }

    @Override
    public String protocol() {
        return "fake";
    }

    @Override
    public ByteBufAllocator alloc() {
        return ByteBufAllocator.DEFAULT;
    }

    @Override
    public EventLoop eventLoop() {
        return loop;
    }

    @Override
    public State state() {
        return accepting ? State.ACTIVE : State.DRAINING;
    }

    @Override
    public boolean isAcceptingStreams() {
        return accepting;
    }

    @Override
    public boolean supportsUpgrade() {
        return false;
    }

    @Override
    public SessionStats stats() {
        return new SessionStats(0, 0, opened.size(), (int) opened.stream().filter(o -> !o.stream.closed).count(), 0);
    }

    @Override
    public SocketAddress remoteAddress() {
        return new InetSocketAddress("127.0.0.1", 1);
    }

    @Override
    public CompletableFuture<Duration> ping() {
        return CompletableFuture.completedFuture(Duration.ZERO);
    }

    @Override
    public CompletableFuture<Void> shutdownGracefully(Duration deadline) {
        return close();
    }

    @Override
    public CompletableFuture<Void> close() {
        closed.complete(null);
        return closed;
    }

    @Override
    public CompletableFuture<Void> closeFuture() {
        return closed;
    }
}
