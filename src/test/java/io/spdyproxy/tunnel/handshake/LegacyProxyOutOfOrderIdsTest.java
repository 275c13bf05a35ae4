package io.spdyproxy.tunnel.handshake;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.codec.spdy.DefaultSpdySynStreamFrame;
import io.netty.handler.codec.spdy.DefaultSpdyWindowUpdateFrame;
import io.netty.handler.codec.spdy.SpdyDataFrame;
import io.netty.handler.codec.spdy.SpdyFrameCodec;
import io.netty.handler.codec.spdy.SpdyGoAwayFrame;
import io.netty.handler.codec.spdy.SpdyRstStreamFrame;
import io.netty.handler.codec.spdy.SpdySynReplyFrame;
import io.netty.handler.codec.spdy.SpdyVersion;
import io.netty.util.ReferenceCountUtil;
import io.spdyproxy.origin.OriginClient;
import io.spdyproxy.origin.OriginConfig;
import io.spdyproxy.origin.files.FileServerConfig;
import io.spdyproxy.origin.files.StaticFileHandler;
import io.spdyproxy.testing.TestCerts;
import io.spdyproxy.tls.TlsContexts;
import io.spdyproxy.transport.Transport;
import java.io.ByteArrayOutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Our origin behind the original Go proxy under concurrency: the proxy's goroutines write their
 * SYN_STREAMs in whatever order they get the connection, so ids arrive out of order (PROTOCOL.md).
 * The origin learns the proxy is legacy from its 200 (no {@code Tunnel-Protocol} header), even when
 * it dialled with our own handshake, and then serves every request instead of ending the session
 * with {@code SYN_STREAM id 1 not above last id 3}.
 */
class LegacyProxyOutOfOrderIdsTest {
    @TempDir
    Path root;

    private EventLoopGroup group;
    private Channel server;
    private OriginClient origin;
    private StaticFileHandler files;
    private final CompletableFuture<ScriptedLegacyProxy> connected = new CompletableFuture<>();

    @BeforeEach
    void setUp() throws Exception {
        group = Transport.newGroup(2, "legacy-ids");
        var tls = TlsContexts.server(TestCerts.LOCALHOST, List.of());
        server = new ServerBootstrap().group(group).channel(Transport.serverChannel())
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast(tls.newHandler(ch.alloc()));
                        ch.pipeline().addLast("handshake", new LegacyHandshake());
                    }
                }).bind("127.0.0.1", 0).sync().channel();
        for (int i = 1; i <= 8; i++) {
            Files.writeString(root.resolve("f" + i + ".txt"), "file " + i + "\n");
        }
        files = new StaticFileHandler(FileServerConfig.of(root));
        int port = ((InetSocketAddress) server.localAddress()).getPort();
        // Our own handshake (with Tunnel-Protocol): only the proxy's answer says it is legacy.
        origin = new OriginClient(OriginConfig.of("127.0.0.1", port), TlsContexts.client(null, List.of()), files,
                null).start();
    }

    @AfterEach
    void tearDown() {
        if (origin != null) {
            origin.close();
        }
        if (files != null) {
            files.close();
        }
        server.close().syncUninterruptibly();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    @Test
    void requestsWhoseStreamIdsArriveOutOfOrderAreAllServed() throws Exception {
        ScriptedLegacyProxy proxy = connected.get(10, TimeUnit.SECONDS);
        assertThat(proxy.handshake).contains("Tunnel-Protocol");

        // Eight requests in flight at once, their SYN_STREAMs in one write, ids shuffled.
        int[] order = {3, 1, 7, 5, 15, 9, 13, 11};
        Map<Integer, CompletableFuture<String>> answers = proxy.requestAll(order);
        for (int id : order) {
            int file = (id + 1) / 2;
            assertThat(answers.get(id).get(10, TimeUnit.SECONDS)).as("stream %d", id)
                    .isEqualTo("200 OK|file " + file + "\n");
        }
        assertThat(proxy.problems).as("resets or GOAWAY from the origin").isEmpty();
        assertThat(proxy.channel.isActive()).isTrue();
    }

    /** Reads the PUT, answers exactly like the original (no protocol header), then speaks SPDY. */
    private final class LegacyHandshake extends ChannelInboundHandlerAdapter {
        private final StringBuilder text = new StringBuilder();

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            text.append(((ByteBuf) msg).toString(StandardCharsets.ISO_8859_1));
            ReferenceCountUtil.release(msg);
            if (!text.toString().endsWith("Hello from C")) {
                return;
            }
            ctx.writeAndFlush(Unpooled.copiedBuffer("HTTP/1.1 200 Connection Established\r\n"
                    + "Content-Length: 12\r\n\r\nHello from P", StandardCharsets.ISO_8859_1));
            ScriptedLegacyProxy proxy = new ScriptedLegacyProxy(ctx.channel(), text.toString());
            ctx.pipeline().addLast(new SpdyFrameCodec(SpdyVersion.SPDY_3_1), proxy);
            ctx.pipeline().remove(this);
            connected.complete(proxy);
        }
    }

    /** The legacy proxy's SPDY client side: answers are collected as "status|body". */
    private static final class ScriptedLegacyProxy extends ChannelInboundHandlerAdapter {
        final Channel channel;
        final String handshake;
        final ConcurrentLinkedQueue<String> problems = new ConcurrentLinkedQueue<>();
        private final Map<Integer, CompletableFuture<String>> answers = new ConcurrentHashMap<>();
        private final Map<Integer, String> status = new ConcurrentHashMap<>();
        private final Map<Integer, ByteArrayOutputStream> bodies = new ConcurrentHashMap<>();

        ScriptedLegacyProxy(Channel channel, String handshake) {
            this.channel = channel;
            this.handshake = handshake;
        }

        Map<Integer, CompletableFuture<String>> requestAll(int[] ids) {
            for (int id : ids) {
                answers.put(id, new CompletableFuture<>());
                bodies.put(id, new ByteArrayOutputStream());
            }
            channel.eventLoop().execute(() -> {
                for (int id : ids) {
                    DefaultSpdySynStreamFrame syn = new DefaultSpdySynStreamFrame(id, 0, (byte) 0);
                    syn.headers().set(":method", "GET").set(":path", "/f" + (id + 1) / 2 + ".txt")
                            .set(":version", "HTTP/1.1").set(":host", "localhost:1443").set(":scheme", "https");
                    syn.setLast(true);
                    channel.write(syn);
                }
                channel.flush();
            });
            return answers;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            try {
                if (msg instanceof SpdySynReplyFrame reply) {
                    status.put(reply.streamId(), reply.headers().getAsString(":status"));
                } else if (msg instanceof SpdyDataFrame data) {
                    int n = data.content().readableBytes();
                    byte[] bytes = new byte[n];
                    data.content().readBytes(bytes);
                    bodies.get(data.streamId()).write(bytes, 0, n);
                    if (n > 0) {
                        ctx.writeAndFlush(new DefaultSpdyWindowUpdateFrame(data.streamId(), n));
                    }
                    if (data.isLast()) {
                        answers.get(data.streamId()).complete(status.get(data.streamId()) + "|"
                                + bodies.get(data.streamId()).toString(StandardCharsets.UTF_8));
                    }
                } else if (msg instanceof SpdyRstStreamFrame rst) {
                    problems.add("RST_STREAM " + rst.streamId() + " " + rst.status());
                    CompletableFuture<String> a = answers.get(rst.streamId());
                    if (a != null) {
                        a.completeExceptionally(new AssertionError("reset: " + rst.status()));
                    }
                } else if (msg instanceof SpdyGoAwayFrame g) {
                    problems.add("GOAWAY " + g.status());
                }
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            answers.values().forEach(a -> a.completeExceptionally(new AssertionError("origin closed the tunnel")));
        }
    }
}
