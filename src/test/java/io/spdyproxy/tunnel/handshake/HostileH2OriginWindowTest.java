package io.spdyproxy.tunnel.handshake;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.DefaultHttp2PingFrame;
import io.netty.handler.codec.http2.DefaultHttp2WindowUpdateFrame;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2PingFrame;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import io.spdyproxy.proxy.ProxyServer;
import io.spdyproxy.testing.LeakCheckExtension;
import io.spdyproxy.tls.TlsContexts;
import io.spdyproxy.transport.Transport;
import io.spdyproxy.tunnel.h2.H2TunnelSession;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link HostileOriginWindowTest} over an HTTP/2 tunnel: an origin completes the handshake asking
 * for h2, grants 2^31-1 (SETTINGS_INITIAL_WINDOW_SIZE, the connection window, and every DATA byte
 * back at once), and then reads its socket far slower than a client uploads 128 MiB (eight times the cap) through the
 * proxy. Netty's flow controller would queue whatever the window allows; the tunnel session's
 * send budget must stop the proxy reading the client instead, so what it holds for the tunnel
 * stays under the session cap, and the upload still arrives whole.
 */
@ExtendWith(LeakCheckExtension.class)
class HostileH2OriginWindowTest {
    private static final long UPLOAD = 128L * 1024 * 1024;
    /** The default maxSessionQueuedBytes of a session. */
    private static final long CAP = 16L * 1024 * 1024;

    @TempDir
    Path dataDir;

    private TunnelFixture fx;
    private EventLoopGroup originLoop;

    @BeforeEach
    void setUp() {
        fx = new TunnelFixture(dataDir);
        originLoop = Transport.newGroup(1, "hostile-h2-origin");
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
        H2TunnelSession session = (H2TunnelSession) proxy.tunnels().get(0).session();

        CompletableFuture<Long> uploaded = new CompletableFuture<>();
        try (TunnelFixture.Raw client = new TunnelFixture.Raw(proxy.httpPort(), 0, Duration.ofSeconds(100))) {
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

        System.out.printf("128 MiB upload to an HTTP/2 origin granting 2^31-1 and reading slowly: the proxy held at"
                + " most %d bytes for the tunnel%n", session.maxQueuedBytes());
        assertThat(session.stats().dataBytesSent()).isEqualTo(UPLOAD);
        assertThat(session.maxQueuedBytes()).as("bytes the proxy held for the tunnel at once")
                .isPositive().isLessThanOrEqualTo(CAP);
        ch.close().sync();
    }

    /** Sends the tunnel PUT asking for h2 only; on 200 the origin is an HTTP/2 server. */
    private static final class Handshake extends ChannelInboundHandlerAdapter {
        private final HostileOrigin origin;

        Handshake(HostileOrigin origin) {
            this.origin = origin;
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            ctx.writeAndFlush(Unpooled.copiedBuffer("PUT / HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    + TunnelProtocol.PROTOCOL_HEADER + ": h2\r\n"
                    + TunnelProtocol.NAME_HEADER + ": " + TunnelFixture.NAME + "\r\n"
                    + "Authorization: Bearer " + TunnelFixture.TOKEN + "\r\n"
                    + "Content-Length: 12\r\n\r\n" + TunnelProtocol.ORIGIN_HELLO, StandardCharsets.ISO_8859_1));
            ctx.fireChannelActive();
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (!(msg instanceof HandshakeMessage m) || !m.startLine().contains(" 200 ")
                    || !"h2".equals(m.headers().get(TunnelProtocol.PROTOCOL_HEADER))) {
                origin.ready.completeExceptionally(new AssertionError("handshake refused: " + msg));
                ReferenceCountUtil.release(msg);
                ctx.close();
                return;
            }
            ctx.pipeline().addLast(Http2FrameCodecBuilder.forServer()
                    .initialSettings(new Http2Settings().initialWindowSize(Integer.MAX_VALUE)).build(), origin);
            ctx.pipeline().remove(this);
            ctx.pipeline().remove("handshake-decoder"); // the proxy's preface goes to the codec
        }
    }

    /**
     * Grants every window there is, returns every DATA byte at once, and reads its socket one
     * buffer per half millisecond: far slower than the client writes. Answers once all came.
     */
    private static final class HostileOrigin extends ChannelInboundHandlerAdapter {
        final CompletableFuture<Void> ready = new CompletableFuture<>();
        final AtomicLong received = new AtomicLong();
        private ScheduledFuture<?> pacing;

        @Override
        public void handlerAdded(ChannelHandlerContext ctx) {
            ctx.writeAndFlush(new DefaultHttp2PingFrame(2));
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            try {
                if (msg instanceof Http2PingFrame ping && ping.ack() && ping.content() == 2 && !ready.isDone()) {
                    // The proxy has seen the grants: from now on read slowly.
                    ctx.channel().config().setAutoRead(false);
                    pacing = ctx.executor().scheduleAtFixedRate(ctx::read, 500, 500, TimeUnit.MICROSECONDS);
                    ready.complete(null);
                } else if (msg instanceof Http2DataFrame d) {
                    long total = received.addAndGet(d.content().readableBytes());
                    if (d.initialFlowControlledBytes() > 0) {
                        ctx.write(new DefaultHttp2WindowUpdateFrame(d.initialFlowControlledBytes()).stream(d.stream()));
                    }
                    if (d.isEndStream()) {
                        ctx.write(new DefaultHttp2HeadersFrame(new DefaultHttp2Headers().status("200")
                                .set("content-length", "0").set("x-received", String.valueOf(total)), true)
                                .stream(d.stream()));
                    }
                    ctx.flush();
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
