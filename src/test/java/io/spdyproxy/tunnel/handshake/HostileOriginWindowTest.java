package io.spdyproxy.tunnel.handshake;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.codec.spdy.DefaultSpdyPingFrame;
import io.netty.handler.codec.spdy.DefaultSpdySettingsFrame;
import io.netty.handler.codec.spdy.DefaultSpdySynReplyFrame;
import io.netty.handler.codec.spdy.DefaultSpdyWindowUpdateFrame;
import io.netty.handler.codec.spdy.SpdyDataFrame;
import io.netty.handler.codec.spdy.SpdyFrameCodec;
import io.netty.handler.codec.spdy.SpdyPingFrame;
import io.netty.handler.codec.spdy.SpdyVersion;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import io.spdyproxy.proxy.ProxyServer;
import io.spdyproxy.spdy.SpdySessionStats;
import io.spdyproxy.tls.TlsContexts;
import io.spdyproxy.transport.Transport;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * An origin that lies about windows, end to end: it completes the tunnel handshake, grants 2^31-1
 * (SETTINGS INITIAL_WINDOW_SIZE and a stream-0 WINDOW_UPDATE), and then reads its socket far
 * slower than a client uploads 300 MB through the proxy. The window would let the proxy read the
 * whole upload into memory; the tunnel session's own outbound state must stop it instead, so
 * what the proxy holds for the tunnel stays under the session cap, and the upload still arrives
 * whole.
 */
class HostileOriginWindowTest {
    private static final long UPLOAD = 300L * 1024 * 1024;
    /** The default maxSessionQueuedBytes of a session. */
    private static final long CAP = 16L * 1024 * 1024;

    @TempDir
    Path dataDir;

    private TunnelFixture fx;
    private EventLoopGroup originLoop;

    @BeforeEach
    void setUp() {
        fx = new TunnelFixture(dataDir);
        originLoop = Transport.newGroup(1, "hostile-origin");
    }

    @AfterEach
    void tearDown() {
        try {
            fx.close();
        } finally {
            originLoop.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    @Test
    @Timeout(120)
    void aHugeWindowFromASlowOriginCannotMakeTheProxyBufferAnUpload() throws Exception {
        ProxyServer proxy = fx.startProxy(fx.proxyConfig());
        HostileOrigin origin = new HostileOrigin();
        Channel ch = new Bootstrap().group(originLoop).channel(Transport.socketChannel())
                .handler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel c) {
                        c.pipeline().addLast(TlsContexts.clientPinned(proxy.identity().fingerprint())
                                .newHandler(c.alloc(), "127.0.0.1", proxy.tunnelPort()));
                        c.pipeline().addLast("handshake-decoder", new HandshakeDecoder());
                        c.pipeline().addLast("handshake", new Handshake(origin));
                    }
                }).connect("127.0.0.1", proxy.tunnelPort()).sync().channel();
        origin.ready.get(10, TimeUnit.SECONDS);
        assertThat(proxy.tunnels()).hasSize(1);

        // A client uploads 300 MB, as fast as loopback allows, from its own thread.
        CompletableFuture<Long> uploaded = new CompletableFuture<>();
        try (TunnelFixture.Raw client = new TunnelFixture.Raw(proxy.httpPort())) {
            client.request("PUT", "/upload", "Content-Length: " + UPLOAD + "\r\n");
            Thread writer = new Thread(() -> {
                byte[] chunk = new byte[64 * 1024];
                long sent = 0;
                try {
                    while (sent < UPLOAD) {
                        int n = (int) Math.min(chunk.length, UPLOAD - sent);
                        client.out.write(chunk, 0, n);
                        sent += n;
                    }
                    client.out.flush();
                    uploaded.complete(sent);
                } catch (Exception e) {
                    uploaded.completeExceptionally(e);
                }
            }, "upload-writer");
            writer.setDaemon(true);
            writer.start();

            TunnelFixture.Head head = client.readHead();
            assertThat(uploaded.get(10, TimeUnit.SECONDS)).isEqualTo(UPLOAD);
            assertThat(head.status()).isEqualTo(200);
            assertThat(head.header("x-received")).isEqualTo(String.valueOf(UPLOAD));
        }
        assertThat(origin.received.get()).isEqualTo(UPLOAD);

        SpdySessionStats stats = ((io.spdyproxy.tunnel.spdy.SpdyTunnelSession) proxy.tunnels().get(0).session())
                .spdySession().stats();
        System.out.printf("300 MB upload to an origin granting 2^31-1 and reading slowly: the proxy held at most"
                + " %d bytes for the tunnel%n", stats.maxQueuedBytes());
        assertThat(stats.dataBytesSent()).isEqualTo(UPLOAD);
        assertThat(stats.maxQueuedBytes()).as("bytes the proxy held for the tunnel at once")
                .isPositive().isLessThanOrEqualTo(CAP);
        ch.close().sync();
    }

    /** Sends the tunnel PUT with our protocol header and token; on 200 the origin speaks SPDY. */
    private static final class Handshake extends ChannelInboundHandlerAdapter {
        private final HostileOrigin origin;

        Handshake(HostileOrigin origin) {
            this.origin = origin;
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            ctx.writeAndFlush(Unpooled.copiedBuffer("PUT / HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    + TunnelProtocol.PROTOCOL_HEADER + ": spdy/3.1\r\n"
                    + TunnelProtocol.NAME_HEADER + ": " + TunnelFixture.NAME + "\r\n"
                    + "Authorization: Bearer " + TunnelFixture.TOKEN + "\r\n"
                    + "Content-Length: 12\r\n\r\n" + TunnelProtocol.ORIGIN_HELLO, StandardCharsets.ISO_8859_1));
            ctx.fireChannelActive();
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (!(msg instanceof HandshakeMessage m) || !m.startLine().contains(" 200 ")) {
                origin.ready.completeExceptionally(new AssertionError("handshake refused: " + msg));
                ReferenceCountUtil.release(msg);
                ctx.close();
                return;
            }
            ctx.pipeline().addLast(new SpdyFrameCodec(SpdyVersion.SPDY_3_1), origin);
            ctx.pipeline().remove(this);
            ctx.pipeline().remove("handshake-decoder"); // SPDY bytes already read go to the codec
        }
    }

    /**
     * Grants every window there is, then reads its socket one buffer per half millisecond (about
     * 100 MB/s at most): far slower than the client writes. Answers the upload once all of it came.
     */
    private static final class HostileOrigin extends ChannelInboundHandlerAdapter {
        final CompletableFuture<Void> ready = new CompletableFuture<>();
        final AtomicLong received = new AtomicLong();
        private ScheduledFuture<?> pacing;

        @Override
        public void handlerAdded(ChannelHandlerContext ctx) {
            DefaultSpdySettingsFrame settings = new DefaultSpdySettingsFrame();
            settings.setValue(7, Integer.MAX_VALUE);
            ctx.write(settings);
            ctx.write(new DefaultSpdyWindowUpdateFrame(0, Integer.MAX_VALUE - 65_536));
            ctx.writeAndFlush(new DefaultSpdyPingFrame(2));
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            try {
                if (msg instanceof SpdyPingFrame ping && ping.id() == 2 && !ready.isDone()) {
                    // The proxy has seen the grants: from now on read slowly.
                    ctx.channel().config().setAutoRead(false);
                    pacing = ctx.executor().scheduleAtFixedRate(ctx::read, 500, 500, TimeUnit.MICROSECONDS);
                    ready.complete(null);
                } else if (msg instanceof SpdyDataFrame d) {
                    long total = received.addAndGet(d.content().readableBytes());
                    if (d.isLast()) {
                        DefaultSpdySynReplyFrame reply = new DefaultSpdySynReplyFrame(d.streamId(), true);
                        reply.headers().set(":status", "200 OK").set(":version", "HTTP/1.1")
                                .set("content-length", "0").set("x-received", String.valueOf(total));
                        ctx.writeAndFlush(reply);
                    }
                }
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            if (pacing != null) {
                pacing.cancel(false);
            }
            ready.completeExceptionally(new AssertionError("tunnel closed"));
            ctx.fireChannelInactive();
        }
    }
}
