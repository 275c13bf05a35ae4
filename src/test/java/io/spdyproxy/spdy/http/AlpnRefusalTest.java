package io.spdyproxy.spdy.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ApplicationProtocolConfig.Protocol;
import io.netty.handler.ssl.ApplicationProtocolConfig.SelectedListenerFailureBehavior;
import io.netty.handler.ssl.ApplicationProtocolConfig.SelectorFailureBehavior;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslProvider;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import io.netty.util.ReferenceCountUtil;
import io.spdyproxy.example.ExampleHandler;
import io.spdyproxy.tunnel.spdy.SpdyTunnelSession;
import io.spdyproxy.spdy.SpdyRole;
import io.spdyproxy.spdy.SpdySessionConfig;
import io.spdyproxy.testing.TestCerts;
import io.spdyproxy.transport.Transport;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * A TLS client that agrees on no ALPN protocol with the SPDY-only example server (which offers
 * spdy/3.1 and spdy/3) is refused at once with the {@code no_application_protocol} alert, instead
 * of getting SPDY frames it never answers and waiting forever. Real TLS clients on loopback, with
 * the JDK and the OpenSSL engine on either side.
 */
@Timeout(60)
class AlpnRefusalTest {
    private static final List<String> SPDY = List.of("spdy/3.1", "spdy/3");
    private static EventLoopGroup group;

    @BeforeAll
    static void start() {
        group = Transport.newGroup(2, "alpn-refusal");
    }

    @AfterAll
    static void stop() {
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    private static SslContext server(SslProvider provider) throws Exception {
        // As TlsContexts.server builds the example server's context, with a chosen engine.
        return SslContextBuilder.forServer(TestCerts.LOCALHOST.key(), TestCerts.LOCALHOST.certificate())
                .sslProvider(provider).applicationProtocolConfig(new ApplicationProtocolConfig(Protocol.ALPN,
                        SelectorFailureBehavior.NO_ADVERTISE, SelectedListenerFailureBehavior.ACCEPT, SPDY))
                .build();
    }

    private static SslContext client(SslProvider provider, List<String> alpn) throws Exception {
        SslContextBuilder b = SslContextBuilder.forClient().sslProvider(provider)
                .trustManager(InsecureTrustManagerFactory.INSTANCE).endpointIdentificationAlgorithm(null);
        if (!alpn.isEmpty()) {
            b.applicationProtocolConfig(new ApplicationProtocolConfig(Protocol.ALPN,
                    SelectorFailureBehavior.NO_ADVERTISE, SelectedListenerFailureBehavior.ACCEPT, alpn));
        }
        return b.build();
    }

    /** What a client saw: whether its handshake succeeded, and the first bytes the server sent. */
    private record Outcome(Channel channel, SslHandler tls, CompletableFuture<ByteBuf> firstBytes) {}

    private static Outcome connect(int port, SslContext ctx) throws Exception {
        CompletableFuture<ByteBuf> first = new CompletableFuture<>();
        SslHandler[] tls = new SslHandler[1]; // kept here: a refused connection may be gone from the pipeline
        Channel ch = new Bootstrap().group(group).channel(Transport.socketChannel())
                .handler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel c) {
                        tls[0] = ctx.newHandler(c.alloc(), "localhost", port);
                        c.pipeline().addLast(tls[0]);
                        c.pipeline().addLast(new ChannelInboundHandlerAdapter() {
                            @Override
                            public void channelRead(ChannelHandlerContext x, Object msg) {
                                if (msg instanceof ByteBuf b && !first.isDone()) {
                                    first.complete(b.readBytes(Math.min(2, b.readableBytes())));
                                }
                                ReferenceCountUtil.release(msg);
                            }

                            @Override
                            public void exceptionCaught(ChannelHandlerContext x, Throwable cause) {
                                x.close(); // the refused handshake
                            }
                        });
                    }
                }).connect("127.0.0.1", port).sync().channel();
        return new Outcome(ch, tls[0], first);
    }

    private static void assumeAvailable(SslProvider p) {
        assumeTrue(p != SslProvider.OPENSSL || OpenSsl.isAvailable(), "OpenSSL engine not available");
    }

    @ParameterizedTest(name = "{0} client offering only {2} to a {1} server")
    @CsvSource({
        "JDK, JDK, h2", "JDK, JDK, http/1.1",
        "OPENSSL, OPENSSL, h2", "OPENSSL, OPENSSL, http/1.1",
        "JDK, OPENSSL, h2", "OPENSSL, JDK, http/1.1"})
    void clientWithNoSpdyProtocolIsRefusedPromptly(SslProvider clientEngine, SslProvider serverEngine, String offer)
            throws Exception {
        assumeAvailable(clientEngine);
        assumeAvailable(serverEngine);
        try (SpdyServer server = SpdyServer.start(new InetSocketAddress("127.0.0.1", 0), server(serverEngine),
                SpdySessionConfig.builder(SpdyRole.SERVER).build(), SpdyTunnelSession.listener(new ExampleHandler()), group)) {
            Outcome o = connect(server.port(), client(clientEngine, List.of(offer)));
            o.firstBytes().thenAccept(ByteBuf::release); // only on failure (old code: SPDY frames came)

            assertThat(o.channel().closeFuture().await(5, TimeUnit.SECONDS))
                    .as("the connection ends at once, not after the client gave up waiting").isTrue();
            assertThat(o.tls().handshakeFuture().isSuccess()).as("no handshake").isFalse();
            java.io.StringWriter trace = new java.io.StringWriter();
            o.tls().handshakeFuture().cause().printStackTrace(new java.io.PrintWriter(trace));
            assertThat(trace.toString().toLowerCase(java.util.Locale.ROOT)).as("the alert RFC 7301 prescribes")
                    .contains("no_application_protocol");
            assertThat(o.firstBytes()).as("no SPDY frame reached it").isNotDone();
        }
    }

    @ParameterizedTest(name = "{0} client offering {1}")
    @CsvSource({"JDK, spdy/3.1", "OPENSSL, spdy/3.1", "JDK, ''", "OPENSSL, ''", "OPENSSL, h2 spdy/3"})
    void clientsThatOfferSpdyOrNothingStillGetSpdy(SslProvider clientEngine, String offer) throws Exception {
        assumeAvailable(clientEngine);
        List<String> alpn = offer == null || offer.isBlank() ? List.of() : List.of(offer.split(" "));
        try (SpdyServer server = SpdyServer.start(new InetSocketAddress("127.0.0.1", 0),
                server(OpenSsl.isAvailable() ? SslProvider.OPENSSL : SslProvider.JDK),
                SpdySessionConfig.builder(SpdyRole.SERVER).build(), SpdyTunnelSession.listener(new ExampleHandler()), group)) {
            Outcome o = connect(server.port(), client(clientEngine, alpn));

            ByteBuf first = o.firstBytes().get(5, TimeUnit.SECONDS);
            try {
                assertThat(o.tls().handshakeFuture().isSuccess()).isTrue();
                assertThat(first.getUnsignedShort(0)).as("a SPDY/3 control frame (SETTINGS)").isEqualTo(0x8003);
            } finally {
                first.release();
                o.channel().close().sync();
            }
        }
    }

    /** The ALPN list of a real ClientHello; any truncation of it is "no list", never an exception. */
    @org.junit.jupiter.api.Test
    void readsTheOfferFromARealClientHelloAndSurvivesTruncation() throws Exception {
        javax.net.ssl.SSLEngine engine = client(SslProvider.JDK, List.of("h2", "http/1.1"))
                .newEngine(io.netty.buffer.UnpooledByteBufAllocator.DEFAULT, "localhost", 443);
        java.nio.ByteBuffer record = java.nio.ByteBuffer.allocate(engine.getSession().getPacketBufferSize());
        engine.beginHandshake();
        engine.wrap(java.nio.ByteBuffer.allocate(0), record);
        record.flip();
        // Record header (5 bytes) and handshake header (4 bytes) precede the ClientHello body.
        ByteBuf hello = io.netty.buffer.Unpooled.wrappedBuffer(record).skipBytes(9);

        assertThat(AlpnRefusal.offeredProtocols(hello)).containsExactly("h2", "http/1.1");
        for (int n = 0; n < hello.readableBytes(); n++) {
            List<String> got = AlpnRefusal.offeredProtocols(hello.slice(hello.readerIndex(), n));
            assertThat(got == null || List.of("h2", "http/1.1").containsAll(got)).as("cut at %d", n).isTrue();
        }
    }
}
