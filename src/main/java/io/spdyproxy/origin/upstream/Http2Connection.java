package io.spdyproxy.origin.upstream;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.handler.codec.http2.DefaultHttp2WindowUpdateFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2GoAwayFrame;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.codec.http2.Http2SettingsFrame;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamChannelBootstrap;
import io.netty.handler.codec.http2.Http2StreamFrameToHttpObjectCodec;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ScheduledFuture;
import io.spdyproxy.tunnel.StreamError;
import java.io.IOException;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * One HTTP/2 connection to the app, carrying many requests at once: each is a stream channel of
 * Netty's {@link Http2MultiplexHandler} whose pipeline turns frames into HTTP/1 objects ({@link
 * Http2StreamFrameToHttpObjectCodec}), so that {@link UpstreamExchange} relays them as it relays
 * an HTTP/1.1 response. The connection respects the app's SETTINGS_MAX_CONCURRENT_STREAMS (RFC
 * 9113 section 6.5.2) and takes no new stream after the app's GOAWAY (section 6.8).
 *
 * <p>Flow control: every stream's receive window is {@link #STREAM_WINDOW}, credited back only as
 * the exchange reads the stream (auto-read off), so a stalled stream holds at most that much; the
 * connection window is enlarged to cover {@link #MAX_STREAMS} stalled streams, so that one stalled
 * stream never stops its siblings.
 *
 * <p>Threading: confined to the connection's event loop (which runs its stream channels too).
 */
final class Http2Connection {
    static final int STREAM_WINDOW = 128 * 1024;
    /** Our own cap on streams per connection, below whatever larger limit the app announces. */
    static final int MAX_STREAMS = 100;
    private static final int CONNECTION_WINDOW = STREAM_WINDOW * MAX_STREAMS;

    /** Lifecycle of the connection. */
    enum State {
        /** Connected, waiting for the app's SETTINGS (its first frame, RFC 9113 section 3.4). */
        STARTING,
        ACTIVE,
        /** GOAWAY received or too old: streams in flight finish, no new ones. */
        DRAINING,
        CLOSED
    }

    private final Channel channel;
    private final Http2FrameCodec codec;
    private final Consumer<Http2Connection> changed;
    private State state = State.STARTING;
    private boolean wasActive;
    private int open;

    /**
     * Installs the HTTP/2 codec on a connected channel. {@code changed} runs on the loop whenever
     * the connection may take more streams, or stops taking any (ready, stream closed, GOAWAY, closed).
     */
    Http2Connection(Channel channel, long settingsTimeoutMillis, Consumer<Http2Connection> changed) {
        this.channel = channel;
        this.changed = changed;
        this.codec = Http2FrameCodecBuilder.forClient()
                // The same 64 KiB of response head the HTTP/1.1 pool's codec accepts.
                .initialSettings(Http2Settings.defaultSettings().pushEnabled(false).initialWindowSize(STREAM_WINDOW)
                        .maxHeaderListSize(64 * 1024))
                .validateHeaders(true)
                .build();
        channel.pipeline().addLast("h2-codec", codec);
        // No pushes are enabled, so the app cannot open streams towards us: none to handle.
        channel.pipeline().addLast("h2-multiplex", new Http2MultiplexHandler(new ChannelInboundHandlerAdapter()));
        channel.pipeline().addLast("h2-watch", new Watch());
        channel.writeAndFlush(new DefaultHttp2WindowUpdateFrame(CONNECTION_WINDOW - STREAM_WINDOW));
        ScheduledFuture<?> timer = channel.eventLoop().schedule(() -> {
            if (state == State.STARTING) {
                channel.close();
            }
        }, settingsTimeoutMillis, TimeUnit.MILLISECONDS);
        channel.closeFuture().addListener(f -> {
            timer.cancel(false);
            state = State.CLOSED;
            changed.accept(this);
        });
        // The connection reads all the time: control frames (SETTINGS, PING, GOAWAY) must be
        // answered; the streams' data is bounded by their windows, not by the socket.
        channel.config().setAutoRead(true);
    }

    State state() {
        return state;
    }

    /** True when a new stream may be opened now. */
    boolean hasCapacity() {
        return state == State.ACTIVE && open < Math.min(MAX_STREAMS, codec.connection().local().maxActiveStreams())
                && codec.connection().local().canOpenStream();
    }

    /** True once the app's SETTINGS arrived (the connection carried or could carry requests). */
    boolean wasActive() {
        return wasActive;
    }

    int openStreams() {
        return open;
    }

    /**
     * Opens a stream channel (auto-read off, its pipeline speaking HTTP/1 objects under {@link
     * UpstreamPool#CODEC}). Call only when {@link #hasCapacity()}.
     */
    Future<Http2StreamChannel> openStream() {
        open++;
        Future<Http2StreamChannel> f = new Http2StreamChannelBootstrap(channel)
                .option(ChannelOption.AUTO_READ, false)
                .handler(new ChannelInitializer<Http2StreamChannel>() {
                    @Override
                    protected void initChannel(Http2StreamChannel ch) {
                        ch.pipeline().addLast(UpstreamPool.CODEC, new Http2StreamFrameToHttpObjectCodec(false));
                    }
                })
                .open();
        f.addListener(done -> {
            if (!done.isSuccess()) {
                streamEnded();
                return;
            }
            // Counted as ended only after the codec is done with the stream: a stream channel
            // closes while the frame that ends it is still being read, before the codec moved the
            // stream out of its active ones (a new stream opened then would exceed the app's limit).
            ((Http2StreamChannel) done.getNow()).closeFuture()
                    .addListener(c -> channel.eventLoop().execute(this::streamEnded));
        });
        return f;
    }

    private void streamEnded() {
        open--;
        if (state == State.DRAINING && open == 0) {
            channel.close();
        }
        changed.accept(this);
    }

    void close() {
        channel.close();
    }

    /**
     * The tunnel reset for the app's RST_STREAM: a refusal before any answer stays a refusal
     * (RFC 9113 section 8.7: the request was not processed), a cancel a cancel, anything else
     * an internal error.
     */
    static StreamError tunnelError(Http2Error appReset, boolean answered) {
        if (appReset == Http2Error.REFUSED_STREAM && !answered) {
            return StreamError.REFUSED;
        }
        return appReset == Http2Error.CANCEL ? StreamError.CANCEL : StreamError.INTERNAL_ERROR;
    }

    /** Why the connection could not start, for the requests that waited on it. */
    IOException notStarted() {
        return new IOException("the app at the other end did not start an HTTP/2 connection (no SETTINGS"
                + " frame); does it speak HTTP/2?");
    }

    /** Sees the connection-level frames the multiplexer passes up (RFC 9113 sections 6.5 and 6.8). */
    private final class Watch extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            try {
                if (msg instanceof Http2SettingsFrame && state == State.STARTING) {
                    state = State.ACTIVE;
                    wasActive = true;
                    changed.accept(Http2Connection.this);
                } else if (msg instanceof Http2GoAwayFrame) {
                    // Streams above its last stream id are closed by the codec (and fail visibly);
                    // the others finish; no new stream starts here.
                    if (state == State.STARTING || state == State.ACTIVE) {
                        state = State.DRAINING;
                        if (open == 0) {
                            ctx.close();
                        }
                        changed.accept(Http2Connection.this);
                    }
                }
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }
}
