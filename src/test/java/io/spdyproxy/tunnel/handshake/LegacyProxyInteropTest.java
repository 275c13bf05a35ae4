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
import io.netty.handler.codec.spdy.DefaultSpdyDataFrame;
import io.netty.handler.codec.spdy.DefaultSpdySynStreamFrame;
import io.netty.handler.codec.spdy.DefaultSpdyWindowUpdateFrame;
import io.netty.handler.codec.spdy.SpdyDataFrame;
import io.netty.handler.codec.spdy.SpdyFrameCodec;
import io.netty.handler.codec.spdy.SpdyGoAwayFrame;
import io.netty.handler.codec.spdy.SpdyHeadersFrame;
import io.netty.handler.codec.spdy.SpdySynReplyFrame;
import io.netty.handler.codec.spdy.SpdyVersion;
import io.netty.handler.codec.spdy.SpdyWindowUpdateFrame;
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
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Our origin behind the original Go proxy, as PROTOCOL.md records it: a scripted legacy proxy
 * answers the PUT with the original's exact 200 (no protocol header), then speaks SPDY the way
 * amahi/spdy did: requests with {@code :host localhost:1443} and {@code :scheme https}, one
 * WINDOW_UPDATE per DATA frame received, and a request body sent without regard to the window.
 * Our origin must serve it and never send it a stream-0 WINDOW_UPDATE, a GOAWAY or HEADERS.
 */
class LegacyProxyInteropTest {
    @TempDir
    Path root;

    private EventLoopGroup group;
    private Channel server;
    private OriginClient origin;
    private StaticFileHandler files;
    private final CompletableFuture<LegacyProxy> connected = new CompletableFuture<>();

    @BeforeEach
    void setUp() throws Exception {
        group = Transport.newGroup(2, "legacy-proxy");
        var tls = TlsContexts.server(TestCerts.LOCALHOST, List.of());
        server = new ServerBootstrap().group(group).channel(Transport.serverChannel())
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast(tls.newHandler(ch.alloc()));
                        ch.pipeline().addLast("handshake", new LegacyHandshake());
                    }
                }).bind("127.0.0.1", 0).sync().channel();
        Files.writeString(root.resolve("hello.txt"), "hello from the origin\n");
        files = new StaticFileHandler(FileServerConfig.of(root));
        int port = ((InetSocketAddress) server.localAddress()).getPort();
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
    void originServesTheOriginalProxyByItsRules() throws Exception {
        LegacyProxy proxy = connected.get(10, TimeUnit.SECONDS);
        assertThat(proxy.handshake).startsWith("PUT / HTTP/1.1\r\n").contains("User-Agent: Go-http-client/1.1")
                .endsWith("\r\n\r\nHello from C").doesNotContain("Tunnel-Protocol");

        Response get = proxy.request(1, "GET", "/hello.txt", null).get(10, TimeUnit.SECONDS);
        assertThat(get.status).startsWith("200");
        assertThat(get.body.toString(StandardCharsets.UTF_8)).isEqualTo("hello from the origin\n");

        // A 200 KiB POST sent at once, past the 64 KiB window the origin never granted.
        byte[] body = new byte[200 * 1024];
        Response post = proxy.request(3, "POST", "/hello.txt", body).get(10, TimeUnit.SECONDS);
        assertThat(post.status).startsWith("200");
        assertThat(post.body.toString(StandardCharsets.UTF_8)).isEqualTo("hello from the origin\n");

        Response missing = proxy.request(5, "GET", "/nope", null).get(10, TimeUnit.SECONDS);
        assertThat(missing.status).startsWith("404");

        assertThat(proxy.forbidden).as("frames the original library panics on").isEmpty();
    }

    /** One response as the legacy proxy saw it. */
    static final class Response {
        String status;
        final ByteArrayOutputStream body = new ByteArrayOutputStream();
        final CompletableFuture<Response> done = new CompletableFuture<>();
    }

    /** Reads the PUT, answers exactly like the original, then speaks legacy SPDY. */
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
            LegacyProxy proxy = new LegacyProxy(ctx.channel(), text.toString());
            ctx.pipeline().addLast(new SpdyFrameCodec(SpdyVersion.SPDY_3_1), proxy);
            ctx.pipeline().remove(this);
            connected.complete(proxy);
        }
    }

    /** The legacy proxy's SPDY client side. */
    private static final class LegacyProxy extends ChannelInboundHandlerAdapter {
        final Channel channel;
        final String handshake;
        final ConcurrentLinkedQueue<String> forbidden = new ConcurrentLinkedQueue<>();
        final java.util.Map<Integer, Response> responses = new java.util.concurrent.ConcurrentHashMap<>();

        LegacyProxy(Channel channel, String handshake) {
            this.channel = channel;
            this.handshake = handshake;
        }

        CompletableFuture<Response> request(int id, String method, String path, byte[] body) {
            Response r = new Response();
            responses.put(id, r);
            channel.eventLoop().execute(() -> {
                DefaultSpdySynStreamFrame syn = new DefaultSpdySynStreamFrame(id, 0, (byte) 0);
                syn.headers().set(":method", method).set(":path", path).set(":version", "HTTP/1.1")
                        .set(":host", "localhost:1443").set(":scheme", "https").set("user-agent", "test");
                if (body != null) {
                    syn.headers().set("content-length", String.valueOf(body.length));
                }
                syn.setLast(body == null);
                channel.write(syn);
                if (body != null) {
                    // The original sent the whole body at once, in 32 KiB frames, ignoring the window.
                    for (int off = 0; off < body.length; off += 32 * 1024) {
                        int n = Math.min(32 * 1024, body.length - off);
                        DefaultSpdyDataFrame d = new DefaultSpdyDataFrame(id, Unpooled.wrappedBuffer(body, off, n));
                        d.setLast(off + n == body.length);
                        channel.write(d);
                    }
                }
                channel.flush();
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
                    byte[] bytes = new byte[n];
                    data.content().readBytes(bytes);
                    r.body.write(bytes, 0, n);
                    if (n > 0) {
                        ctx.writeAndFlush(new DefaultSpdyWindowUpdateFrame(data.streamId(), n));
                    }
                    if (data.isLast()) {
                        r.done.complete(r);
                    }
                } else if (msg instanceof SpdyWindowUpdateFrame wu && wu.streamId() == 0) {
                    forbidden.add("stream-0 WINDOW_UPDATE");
                } else if (msg instanceof SpdyGoAwayFrame) {
                    forbidden.add("GOAWAY");
                } else if (msg instanceof SpdyHeadersFrame h && !(msg instanceof SpdySynReplyFrame)
                        && !(msg instanceof io.netty.handler.codec.spdy.SpdySynStreamFrame)) {
                    forbidden.add("HEADERS on stream " + h.streamId());
                }
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }
    }
}
