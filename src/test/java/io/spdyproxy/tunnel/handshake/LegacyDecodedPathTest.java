package io.spdyproxy.tunnel.handshake;

import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
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
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Our file-serving origin behind a scripted original Go proxy that, as PROTOCOL.md records, puts
 * the <em>decoded</em> path into {@code :path}: {@code /a b.txt}, {@code /a#b.txt} and the raw
 * UTF-8 bytes of {@code /café.txt}, the query as sent. Each must serve its file, as the original
 * origin did; traversal in any spelling must not.
 */
class LegacyDecodedPathTest {
    private static final String SECRET = "SECRET-OUTSIDE-THE-ROOT";

    @TempDir
    Path tmp;

    private EventLoopGroup group;
    private Channel server;
    private OriginClient origin;
    private StaticFileHandler files;
    private final CompletableFuture<LegacyProxy> connected = new CompletableFuture<>();

    @BeforeEach
    void setUp() throws Exception {
        Path root = Files.createDirectory(tmp.resolve("root"));
        Files.writeString(tmp.resolve("secret.txt"), SECRET);
        for (String name : List.of("a b.txt", "a#b.txt", "café.txt", "100%.txt", "plain.txt")) {
            Files.writeString(root.resolve(name), "file " + name);
        }
        Files.createDirectory(root.resolve("sub dir"));
        Files.writeString(root.resolve("sub dir/x.txt"), "file x.txt");

        group = Transport.newGroup(2, "legacy-decoded");
        var tls = TlsContexts.server(TestCerts.LOCALHOST, List.of());
        server = new ServerBootstrap().group(group).channel(Transport.serverChannel())
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast(tls.newHandler(ch.alloc()), new LegacyHandshake());
                    }
                }).bind("127.0.0.1", 0).sync().channel();
        files = new StaticFileHandler(FileServerConfig.of(root));
        int port = ((java.net.InetSocketAddress) server.localAddress()).getPort();
        origin = new OriginClient(OriginConfig.of("127.0.0.1", port).withLegacyHandshake(true),
                TlsContexts.client(null, List.of()), files, null).start();
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
    void decodedPathsServeTheirFilesAndEncodedOnesStillDo() throws Exception {
        LegacyProxy proxy = connected.get(10, TimeUnit.SECONDS);
        Map<String, String> served = Map.of(
                "/a b.txt", "file a b.txt",
                "/a#b.txt", "file a#b.txt",
                "/café.txt", "file café.txt",
                "/100%.txt", "file 100%.txt",
                "/sub dir/x.txt?v=1 2#3", "file x.txt",
                "/a%20b.txt", "file a b.txt",
                "/caf%C3%A9.txt", "file café.txt",
                "/plain.txt?q=%41", "file plain.txt");
        SoftAssertions soft = new SoftAssertions();
        for (Map.Entry<String, String> e : served.entrySet()) {
            Response r = proxy.get(e.getKey()).get(10, TimeUnit.SECONDS);
            soft.assertThat(r.status).as(e.getKey()).startsWith("200");
            soft.assertThat(r.body.toString(UTF_8)).as(e.getKey()).isEqualTo(e.getValue());
        }
        soft.assertThat(proxy.get("/a").get(10, TimeUnit.SECONDS).status).as("'#' is no fragment").startsWith("404");
        for (String attack : List.of("/../secret.txt", "/a b/../../secret.txt", "/#/../../secret.txt",
                "/ /%2e%2e/%2e%2e/secret.txt", "/..\\secret.txt", "/%2e%2e/secret.txt", "/café/../../secret.txt")) {
            Response r = proxy.get(attack).get(10, TimeUnit.SECONDS);
            soft.assertThat(r.status).as(attack).matches("40[034].*");
            soft.assertThat(r.body.toString(UTF_8)).as(attack).doesNotContain(SECRET);
        }
        soft.assertAll();
    }

    /** One response as the legacy proxy saw it. */
    static final class Response {
        volatile String status;
        final ByteArrayOutputStream body = new ByteArrayOutputStream();
        final CompletableFuture<Response> done = new CompletableFuture<>();
    }

    /** Reads the origin's PUT and answers exactly like the original, then speaks legacy SPDY. */
    private final class LegacyHandshake extends ChannelInboundHandlerAdapter {
        private final StringBuilder text = new StringBuilder();

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            text.append(((ByteBuf) msg).toString(ISO_8859_1));
            ReferenceCountUtil.release(msg);
            if (!text.toString().endsWith("Hello from C")) {
                return;
            }
            ctx.writeAndFlush(Unpooled.copiedBuffer("HTTP/1.1 200 Connection Established\r\n"
                    + "Content-Length: 12\r\n\r\nHello from P", ISO_8859_1));
            LegacyProxy proxy = new LegacyProxy(ctx.channel());
            ctx.pipeline().addLast(new SpdyFrameCodec(SpdyVersion.SPDY_3_1), proxy);
            ctx.pipeline().remove(this);
            connected.complete(proxy);
        }
    }

    /** The legacy proxy's SPDY client side: GET requests with the path as the original sent it. */
    private static final class LegacyProxy extends ChannelInboundHandlerAdapter {
        private final Channel channel;
        private final AtomicInteger nextId = new AtomicInteger(1);
        private final Map<Integer, Response> responses = new ConcurrentHashMap<>();

        LegacyProxy(Channel channel) {
            this.channel = channel;
        }

        /** {@code decodedPath} goes out as its UTF-8 bytes, as Go writes a string. */
        CompletableFuture<Response> get(String decodedPath) {
            int id = nextId.getAndAdd(2);
            Response r = new Response();
            responses.put(id, r);
            // Netty's header encoder writes one byte per char: hand it the UTF-8 bytes as chars.
            String wire = new String(decodedPath.getBytes(UTF_8), ISO_8859_1);
            channel.eventLoop().execute(() -> {
                DefaultSpdySynStreamFrame syn = new DefaultSpdySynStreamFrame(id, 0, (byte) 0);
                syn.headers().set(":method", "GET").set(":path", wire).set(":version", "HTTP/1.1")
                        .set(":host", "localhost:1443").set(":scheme", "https").set("user-agent", "test");
                syn.setLast(true);
                channel.writeAndFlush(syn);
            });
            return r.done;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            try {
                if (msg instanceof SpdySynReplyFrame reply) {
                    Response r = responses.get(reply.streamId());
                    r.status = reply.headers().getAsString(":status");
                    if (reply.isLast()) {
                        r.done.complete(r);
                    }
                } else if (msg instanceof SpdyDataFrame data) {
                    Response r = responses.get(data.streamId());
                    int n = data.content().readableBytes();
                    r.body.writeBytes(ByteBufUtil.getBytes(data.content()));
                    if (n > 0) {
                        ctx.writeAndFlush(new DefaultSpdyWindowUpdateFrame(data.streamId(), n));
                    }
                    if (data.isLast()) {
                        r.done.complete(r);
                    }
                } else if (msg instanceof SpdyRstStreamFrame rst) {
                    Response r = responses.get(rst.streamId());
                    if (r != null) {
                        r.done.completeExceptionally(new IllegalStateException("RST_STREAM " + rst.status()));
                    }
                }
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }
    }
}
