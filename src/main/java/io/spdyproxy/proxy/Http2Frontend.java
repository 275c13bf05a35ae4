package io.spdyproxy.proxy;

import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamFrameToHttpObjectCodec;

/**
 * The front end's HTTP/2 pipeline (RFC 9113), installed on a client connection once it chose
 * HTTP/2 (ALPN {@code h2} on the HTTPS port, the prior-knowledge preface on the plain port): Netty's
 * frame codec with the attack limits on, its multiplexer, and per stream a child channel that
 * turns frames into HTTP/1-style objects for one {@link Exchange} ({@link Http2StreamExchange}).
 *
 * <p>Limits, each a connection error (GOAWAY, then close) for the offender only:
 * <ul>
 * <li>Rapid Reset (CVE-2023-44487): more than {@value #MAX_RST_PER_WINDOW} RST_STREAM frames from the
 * client within {@value #RST_WINDOW_SECONDS} s.
 * <li>Header list size {@value #MAX_HEADER_LIST_SIZE} bytes (like the HTTP/1 head limit), counted
 * across CONTINUATION frames, so a CONTINUATION flood hits it; plus Netty's cap on small
 * CONTINUATION frames.
 * <li>SETTINGS/PING floods: at most {@value #MAX_QUEUED_CONTROL_FRAMES} answers (ACKs) queued for a
 * client that does not read them.
 * <li>Empty DATA floods: at most {@value #MAX_EMPTY_DATA_FRAMES} empty DATA frames in a row.
 * <li>{@value #MAX_CONCURRENT_STREAMS} concurrent streams; more are refused (REFUSED_STREAM).
 * </ul>
 *
 * <p>Flow control: a stream's window is {@value #STREAM_WINDOW} bytes and is credited as its child
 * channel reads, which it does only while the tunnel stream can take more; the connection window
 * is {@value #CONNECTION_WINDOW} bytes, so a few stalled uploads cannot hold every sibling.
 *
 * <p>Stateless.
 */
final class Http2Frontend {
    static final int MAX_CONCURRENT_STREAMS = 128;
    static final int MAX_HEADER_LIST_SIZE = 16 * 1024;
    static final int STREAM_WINDOW = 256 * 1024;
    static final int CONNECTION_WINDOW = 4 * 1024 * 1024;
    static final int MAX_RST_PER_WINDOW = 200;
    static final int RST_WINDOW_SECONDS = 30;
    static final int MAX_QUEUED_CONTROL_FRAMES = 1000;
    static final int MAX_EMPTY_DATA_FRAMES = 2;
    static final int MAX_SMALL_CONTINUATION_FRAMES = 16;

    private Http2Frontend() {}

    static Http2FrameCodec codec() {
        Http2Settings settings = Http2Settings.defaultSettings()
                .maxConcurrentStreams(MAX_CONCURRENT_STREAMS)
                .maxHeaderListSize(MAX_HEADER_LIST_SIZE)
                .initialWindowSize(STREAM_WINDOW); // no ENABLE_PUSH: a server must not send it (RFC 9113 6.5.2)
        return Http2FrameCodecBuilder.forServer()
                .initialSettings(settings)
                .validateHeaders(true)
                .decoderEnforceMaxRstFramesPerWindow(MAX_RST_PER_WINDOW, RST_WINDOW_SECONDS)
                .encoderEnforceMaxQueuedControlFrames(MAX_QUEUED_CONTROL_FRAMES)
                .decoderEnforceMaxConsecutiveEmptyDataFrames(MAX_EMPTY_DATA_FRAMES)
                .decoderEnforceMaxSmallContinuationFrames(MAX_SMALL_CONTINUATION_FRAMES)
                // Closing the channel closes it now; a graceful GOAWAY is Http2ClientConnection's.
                .decoupleCloseAndGoAway(true)
                .build();
    }

    /**
     * Adds the HTTP/2 handlers at the end of {@code p} (whose HTTP/1 handlers the caller removed).
     * {@code counted}: the connection was already counted as open by the HTTP/1 front end.
     */
    static void install(ChannelPipeline p, ProxyContext px, String scheme, boolean counted) {
        Http2ClientConnection connection = new Http2ClientConnection(px, counted);
        p.addLast("h2", codec());
        p.addLast("h2-connection", connection);
        p.addLast("h2-streams", new Http2MultiplexHandler(streamInitializer(px, scheme, connection)));
        // Backpressure on an HTTP/2 connection is flow control per stream: the connection itself
        // reads on (what a client may send is bounded by its windows and the limits above).
        p.channel().config().setAutoRead(true);
    }

    private static ChannelHandler streamInitializer(ProxyContext px, String scheme, Http2ClientConnection connection) {
        return new ChannelInitializer<Http2StreamChannel>() {
            @Override
            protected void initChannel(Http2StreamChannel ch) {
                ch.config().setAutoRead(false);
                connection.streamOpened(ch);
                ClientTimeouts timeouts = new ClientTimeouts(px.config().idleTimeout(),
                        px.config().requestHeadTimeout());
                ch.pipeline().addLast("timeouts", timeouts);
                ch.pipeline().addLast("http", new Http2StreamFrameToHttpObjectCodec(true));
                ch.pipeline().addLast("exchange", new Http2StreamExchange(px, scheme, timeouts));
            }
        };
    }
}
