package io.spdyproxy.origin.upstream;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.local.LocalAddress;
import io.netty.channel.local.LocalChannel;
import io.netty.channel.local.LocalIoHandler;
import io.netty.channel.local.LocalServerChannel;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponse;
import io.spdyproxy.testing.LeakCheckExtension;
import io.spdyproxy.tunnel.StreamError;
import io.spdyproxy.tunnel.TunnelExchange;
import io.spdyproxy.tunnel.TunnelSession;
import io.spdyproxy.tunnel.TunnelStream;
import java.net.URI;
import java.util.ArrayDeque;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * {@link UpgradedRelay} on an in-memory (local transport) connection standing for the app's, with
 * a recording stream standing for the tunnel: what reaches the app, when it is flushed, and when
 * the client's window is granted back.
 */
@ExtendWith(LeakCheckExtension.class)
class UpgradedRelayTest {

    @Test
    @Timeout(30)
    void theClientsChunksOfOneRoundLeaveInOneFlushAndAreConsumedOnceWritten() throws Exception {
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, LocalIoHandler.newFactory());
        LocalAddress address = new LocalAddress("upgraded-relay-test");
        StringBuffer received = new StringBuffer();
        CountDownLatch all = new CountDownLatch(1);
        Channel server = new ServerBootstrap().group(group).channel(LocalServerChannel.class)
                .childHandler(new ChannelInboundHandlerAdapter() {
                    @Override
                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                        received.append(((ByteBuf) msg).toString(UTF_8));
                        ((ByteBuf) msg).release();
                        if (received.length() == 13) {
                            all.countDown();
                        }
                    }
                }).bind(address).sync().channel();
        FlushCounter flushes = new FlushCounter();
        Channel app = new Bootstrap().group(group).channel(LocalChannel.class).handler(flushes)
                .connect(address).sync().channel();
        try {
            RecordingStream stream = new RecordingStream();
            TunnelExchange ex = new TunnelExchange(stream, null, "http", true);
            UpgradedRelay relay = new UpgradedRelay(ex, app, UpstreamConfig.of(URI.create("http://127.0.0.1:1")));
            int before = app.eventLoop().submit(() -> {
                app.pipeline().addLast(relay);
                relay.start(new ArrayDeque<>());
                // Three DATA frames of one tunnel read, handed over in turn within one loop task.
                ex.onData(stream, Unpooled.copiedBuffer("one ", UTF_8), false);
                ex.onData(stream, Unpooled.copiedBuffer("two ", UTF_8), false);
                ex.onData(stream, Unpooled.copiedBuffer("three", UTF_8), false);
                return flushes.count;
            }).get(10, TimeUnit.SECONDS);
            assertThat(before).as("flushes within the round").isZero();
            assertThat(all.await(10, TimeUnit.SECONDS)).isTrue();
            assertThat(received.toString()).isEqualTo("one two three");
            assertThat(app.eventLoop().submit(() -> flushes.count).get(10, TimeUnit.SECONDS)).isEqualTo(1);
            // Granted back only once the app's socket took the bytes.
            assertThat(app.eventLoop().submit(() -> stream.consumed).get(10, TimeUnit.SECONDS)).isEqualTo(13);
        } finally {
            app.close().sync();
            server.close().sync();
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
    }

    /** Counts the app connection's flushes; read on its loop. */
    @io.netty.channel.ChannelHandler.Sharable
    private static final class FlushCounter extends ChannelOutboundHandlerAdapter {
        int count;

        @Override
        public void flush(ChannelHandlerContext ctx) {
            count++;
            ctx.flush();
        }
    }

    /** A stream that is always writable and records the credit granted back. */
    private static final class RecordingStream implements TunnelStream {
        int consumed;

        @Override
        public int id() {
            return 1;
        }

        @Override
        public TunnelSession session() {
            throw new UnsupportedOperationException();
        }

        @Override
        public void sendResponse(HttpResponse head, boolean endOfStream) {}

        @Override
        public void sendData(ByteBuf data, boolean endOfStream) {
            data.release();
        }

        @Override
        public void sendTrailers(HttpHeaders trailers) {}

        @Override
        public void consume(int bytes) {
            consumed += bytes;
        }

        @Override
        public void reset(StreamError error) {}

        @Override
        public boolean isWritable() {
            return true;
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
            return 0;
        }

        @Override
        public long bytesReceived() {
            return 0;
        }

        @Override
        public boolean isClosed() {
            return false;
        }
    }
}
