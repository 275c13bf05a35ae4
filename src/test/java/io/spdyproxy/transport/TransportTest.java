package io.spdyproxy.transport;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.util.ReferenceCountUtil;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

class TransportTest {

    /**
     * A peer that half-closed still gets everything written to it afterwards, even when the
     * socket buffer fills and the channel has to wait for writability. With Netty 4.2.18's epoll
     * transport the channel's fd had left the epoll set by then, and the write failed (see
     * {@link EpollEmptyInterestFix}).
     */
    @Test
    @Timeout(30)
    void aHalfClosedPeerGetsAWriteLargerThanTheSocketBuffers() throws Exception {
        int total = 4 << 20;
        byte[] chunk = new byte[64 * 1024];
        CompletableFuture<Void> written = new CompletableFuture<>();
        EventLoopGroup group = Transport.newGroup(1, "half-close-test");
        try {
            Channel server = new ServerBootstrap().group(group).channel(Transport.serverChannel())
                    .childOption(ChannelOption.AUTO_READ, false)
                    .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
                    .childOption(ChannelOption.SO_SNDBUF, 32 * 1024) // writes must wait for writability
                    .childHandler(new ChannelInboundHandlerAdapter() {
                        @Override
                        public void channelActive(ChannelHandlerContext ctx) {
                            ctx.read();
                        }

                        @Override
                        public void channelRead(ChannelHandlerContext ctx, Object msg) {
                            ReferenceCountUtil.release(msg);
                            ctx.read(); // on to the end of the input
                        }

                        @Override
                        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                            if (evt instanceof ChannelInputShutdownEvent) {
                                // Later, not now: once the loop is done with this event (epoll:
                                // EPOLLRDHUP cleared too) the channel waits for nothing, the state
                                // that broke it.
                                ctx.executor().execute(() -> writeAll(ctx, total, chunk, written));
                            }
                            ctx.fireUserEventTriggered(evt);
                        }
                    })
                    .bind("127.0.0.1", 0).sync().channel();
            int port = ((InetSocketAddress) server.localAddress()).getPort();
            try (Socket client = new Socket()) {
                client.setReceiveBufferSize(8 * 1024);
                client.setSoTimeout(20_000);
                client.connect(new InetSocketAddress("127.0.0.1", port), 5000);
                client.getOutputStream().write('x');
                client.shutdownOutput();
                long got = 0;
                byte[] buf = new byte[16 * 1024];
                InputStream in = client.getInputStream();
                for (int n = in.read(buf); n >= 0; n = in.read(buf)) {
                    got += n;
                }
                assertThat(written).as("the server's writes after the half-close").succeedsWithin(5, TimeUnit.SECONDS);
                assertThat(got).as("bytes received after the half-close").isEqualTo(total);
            }
            server.close().sync();
        } finally {
            group.shutdownGracefully(0, 0, TimeUnit.SECONDS).sync();
        }
    }

    private static void writeAll(ChannelHandlerContext ctx, int total, byte[] chunk, CompletableFuture<Void> done) {
        ChannelFuture last = null;
        for (int sent = 0; sent < total; sent += chunk.length) {
            last = ctx.write(Unpooled.wrappedBuffer(chunk));
        }
        ctx.flush();
        last.addListener(f -> {
            if (f.isSuccess()) {
                done.complete(null);
            } else {
                done.completeExceptionally(f.cause());
            }
            ctx.close();
        });
    }
}
