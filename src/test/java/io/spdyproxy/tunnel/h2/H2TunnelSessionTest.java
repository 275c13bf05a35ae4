package io.spdyproxy.tunnel.h2;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.spdyproxy.testing.LeakCheckExtension;
import io.spdyproxy.transport.Transport;
import io.spdyproxy.tunnel.RequestHandler;
import io.spdyproxy.tunnel.RequestHead;
import io.spdyproxy.tunnel.ResponseHead;
import io.spdyproxy.tunnel.StreamClosedException;
import io.spdyproxy.tunnel.StreamError;
import io.spdyproxy.tunnel.StreamHandler;
import io.spdyproxy.tunnel.TunnelExchange;
import io.spdyproxy.tunnel.TunnelSession;
import io.spdyproxy.tunnel.TunnelStream;
import java.io.ByteArrayOutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The HTTP/2 tunnel session's contract, on two real sessions over a loopback socket (the proxy's
 * client end, the origin's server end): window returned only by {@code consume}, writability,
 * the send budget against a producer that ignores it, resets both ways, ping, max concurrent
 * streams, graceful shutdown and the upgrade extension.
 */
@Timeout(30)
@ExtendWith(LeakCheckExtension.class)
class H2TunnelSessionTest {
    private static final int WINDOW = 64 * 1024;

    private final EventLoopGroup loops = Transport.newGroup(2, "h2-session");
    private Channel listener;
    private H2TunnelSession client;
    private final CompletableFuture<H2TunnelSession> server = new CompletableFuture<>();

    @AfterEach
    void tearDown() {
        if (client != null) {
            client.close().orTimeout(5, TimeUnit.SECONDS).exceptionally(e -> null).join();
        }
        if (listener != null) {
            listener.close().syncUninterruptibly();
        }
        loops.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    private static H2TunnelConfig config() {
        return H2TunnelConfig.defaults().withStreams(100, WINDOW).withQueueLimits(1024 * 1024, 256 * 1024);
    }

    private void start(H2TunnelConfig serverConfig, RequestHandler handler) throws Exception {
        listener = new ServerBootstrap().group(loops).channel(Transport.serverChannel())
                .childHandler(installOnActive(server, ch -> H2TunnelSession.install(ch, true, serverConfig, handler,
                        true)))
                .bind("127.0.0.1", 0).sync().channel();
        CompletableFuture<H2TunnelSession> clientEnd = new CompletableFuture<>();
        new Bootstrap().group(loops).channel(Transport.socketChannel())
                .handler(installOnActive(clientEnd, ch -> H2TunnelSession.install(ch, false, config(), null, true)))
                .connect(listener.localAddress()).sync();
        client = clientEnd.get(5, TimeUnit.SECONDS);
        server.get(5, TimeUnit.SECONDS);
        client.ping().get(5, TimeUnit.SECONDS); // both prefaces and SETTINGS are through
    }

    /**
     * Installs a session once the channel is active, before anything is read, as the handshake
     * does: the codec sends its preface first and sees every byte the peer sends.
     */
    private static ChannelInitializer<Channel> installOnActive(CompletableFuture<H2TunnelSession> out,
            java.util.function.Function<Channel, H2TunnelSession> install) {
        return new ChannelInitializer<Channel>() {
            @Override
            protected void initChannel(Channel ch) {
                ch.pipeline().addLast(new io.netty.channel.ChannelInboundHandlerAdapter() {
                    @Override
                    public void channelActive(io.netty.channel.ChannelHandlerContext ctx) {
                        ctx.pipeline().remove(this);
                        out.complete(install.apply(ch));
                        ctx.fireChannelActive();
                    }
                });
            }
        };
    }

    private static RequestHead get(String path) {
        HttpRequest r = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, path);
        r.headers().set(HttpHeaderNames.HOST, "test");
        return new RequestHead(r, "https");
    }

    /** Collects a response; consumes only when told to (or at once when {@code consume}). */
    private static final class Collector implements StreamHandler {
        final CompletableFuture<ResponseHead> head = new CompletableFuture<>();
        final CompletableFuture<StreamClosedException> closed = new CompletableFuture<>();
        final ByteArrayOutputStream body = new ByteArrayOutputStream();
        final AtomicInteger unconsumed = new AtomicInteger();
        /** Loop-confined once the stream is open (flipped on the session's loop). */
        boolean consume;

        Collector(boolean consume) {
            this.consume = consume;
        }

        @Override
        public void onHead(TunnelStream s, ResponseHead h, boolean endOfStream) {
            head.complete(h);
        }

        @Override
        public synchronized void onData(TunnelStream s, ByteBuf data, boolean endOfStream) {
            int n = data.readableBytes();
            byte[] b = new byte[n];
            data.readBytes(b);
            data.release();
            body.write(b, 0, b.length);
            if (consume) {
                s.consume(n);
            } else {
                unconsumed.addAndGet(n);
            }
        }

        @Override
        public void onTrailers(TunnelStream s, HttpHeaders trailers, boolean endOfStream) { }

        @Override
        public void onClosed(TunnelStream s, StreamClosedException cause) {
            closed.complete(cause);
        }

        synchronized int size() {
            return body.size();
        }
    }

    /** Answers with {@code size} bytes, written as fast as writability allows (or not at all). */
    private static RequestHandler sender(int size, boolean ignoreWritability, AtomicReference<TunnelExchange> seen) {
        return ex -> {
            seen.set(ex);
            ex.respond(new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK), false);
            int[] sent = {0};
            Runnable pump = () -> {
                while (sent[0] < size && (ignoreWritability || ex.isWritable())) {
                    int n = Math.min(16 * 1024, size - sent[0]);
                    sent[0] += n;
                    ex.write(Unpooled.wrappedBuffer(new byte[n]), sent[0] == size);
                }
            };
            ex.onWritable(pump);
            pump.run();
        };
    }

    @Test
    void onlyConsumeReturnsWindowToThePeer() throws Exception {
        AtomicReference<TunnelExchange> seen = new AtomicReference<>();
        start(config(), sender(4 * WINDOW, false, seen));
        Collector c = new Collector(false);
        TunnelStream s = client.open(get("/"), 0, true, c).get(5, TimeUnit.SECONDS);
        c.head.get(5, TimeUnit.SECONDS);
        // Without consume the sender stops at one stream window: it waits, it does not queue.
        assertThat(client.ping().get(5, TimeUnit.SECONDS)).isNotNull();
        assertThat(c.size()).isEqualTo(WINDOW);
        assertThat(seen.get().isWritable()).isFalse();
        assertThat(seen.get().stream().queuedBytes()).as("held by the sender").isLessThanOrEqualTo(WINDOW);
        // Consumed window comes back (RFC 9113 section 6.9): the rest follows as it is consumed.
        client.eventLoop().submit(() -> {
            c.consume = true;
            s.consume(c.unconsumed.getAndSet(0));
        }).get(5, TimeUnit.SECONDS);
        c.closed.get(10, TimeUnit.SECONDS);
        assertThat(c.closed.get()).isNull();
        assertThat(c.size()).isEqualTo(4 * WINDOW);
        assertThat(s.bytesReceived()).isEqualTo(4 * WINDOW);
    }

    @Test
    void aProducerIgnoringWritabilityIsResetAtTheHardLimit() throws Exception {
        AtomicReference<TunnelExchange> seen = new AtomicReference<>();
        CompletableFuture<StreamClosedException> serverClosed = new CompletableFuture<>();
        start(config(), ex -> {
            ex.onClose(serverClosed::complete);
            sender(16 * 1024 * 1024, true, seen).onRequest(ex);
        });
        Collector c = new Collector(false);
        client.open(get("/"), 0, true, c).get(5, TimeUnit.SECONDS);
        StreamClosedException cause = serverClosed.get(10, TimeUnit.SECONDS);
        assertThat(cause).isNotNull();
        assertThat(cause.error()).isEqualTo(StreamError.INTERNAL_ERROR);
        assertThat(cause.isLocal()).isTrue();
        assertThat(cause.getMessage()).contains("ignored isWritable");
        assertThat(c.closed.get(5, TimeUnit.SECONDS).error()).as("the peer sees the reset")
                .isEqualTo(StreamError.INTERNAL_ERROR);
        H2TunnelSession s = server.get();
        // Netty completes deep promise chains in later loop tasks: let those that ran the reset finish.
        s.eventLoop().submit(() -> { }).get(5, TimeUnit.SECONDS);
        assertThat(s.maxQueuedBytes()).as("held at once for sending").isLessThanOrEqualTo(2 * 1024 * 1024 + 16 * 1024);
        assertThat(s.stats().queuedBytes()).isZero();
    }

    @Test
    void resetsCarryTheirErrorBothWays() throws Exception {
        CompletableFuture<StreamClosedException> atServer = new CompletableFuture<>();
        CompletableFuture<TunnelExchange> exchange = new CompletableFuture<>();
        start(config(), ex -> {
            ex.onClose(atServer::complete);
            exchange.complete(ex);
        });
        Collector c = new Collector(true);
        TunnelStream s = client.open(get("/a"), 0, false, c).get(5, TimeUnit.SECONDS);
        exchange.get(5, TimeUnit.SECONDS);
        s.reset(StreamError.CANCEL);
        StreamClosedException remote = atServer.get(5, TimeUnit.SECONDS);
        assertThat(remote.error()).isEqualTo(StreamError.CANCEL);
        assertThat(remote.isLocal()).isFalse();
        assertThat(c.closed.get(5, TimeUnit.SECONDS).isLocal()).isTrue();
    }

    @Test
    void aRefusedStreamIsRetryable() throws Exception {
        start(config(), ex -> ex.reset(StreamError.REFUSED));
        Collector c = new Collector(true);
        client.open(get("/"), 0, true, c).get(5, TimeUnit.SECONDS);
        StreamClosedException e = c.closed.get(5, TimeUnit.SECONDS);
        assertThat(e.error()).isEqualTo(StreamError.REFUSED);
        assertThat(e.isRetryable()).isTrue();
    }

    @Test
    void streamsOverThePeersLimitAreRefusedAtOnceAndRetryable() throws Exception {
        start(config().withStreams(1, WINDOW), ex -> { }); // never answers: the first stream stays open
        client.open(get("/1"), 0, true, new Collector(true)).get(5, TimeUnit.SECONDS);
        assertThat(client.isAcceptingStreams()).isFalse();
        CompletableFuture<TunnelStream> second = client.open(get("/2"), 0, true, new Collector(true));
        ExecutionException e = org.junit.jupiter.api.Assertions.assertThrows(ExecutionException.class,
                () -> second.get(5, TimeUnit.SECONDS));
        assertThat(e.getCause()).isInstanceOf(StreamClosedException.class);
        assertThat(((StreamClosedException) e.getCause()).isRetryable()).isTrue();
    }

    @Test
    void gracefulShutdownLetsOpenStreamsFinishAndRefusesNewOnes() throws Exception {
        CompletableFuture<TunnelExchange> held = new CompletableFuture<>();
        start(config(), held::complete);
        Collector c = new Collector(true);
        client.open(get("/slow"), 0, true, c).get(5, TimeUnit.SECONDS);
        TunnelExchange ex = held.get(5, TimeUnit.SECONDS);
        CompletableFuture<Void> done = client.shutdownGracefully(Duration.ofSeconds(10));
        client.eventLoop().submit(() -> { }).get(5, TimeUnit.SECONDS); // the shutdown ran on the loop
        assertThat(client.state()).isEqualTo(TunnelSession.State.DRAINING);
        CompletableFuture<TunnelStream> late = client.open(get("/late"), 0, true, new Collector(true));
        assertThat(late).failsWithin(Duration.ofSeconds(5)).withThrowableOfType(ExecutionException.class)
                .withCauseInstanceOf(StreamClosedException.class);
        ex.respond(HttpResponseStatus.OK, "text/plain", "finished\n");
        assertThat(c.closed.get(5, TimeUnit.SECONDS)).isNull();
        assertThat(c.body.toString(StandardCharsets.UTF_8)).isEqualTo("finished\n");
        done.get(5, TimeUnit.SECONDS);
        server.get().closeFuture().get(5, TimeUnit.SECONDS);
    }

    @Test
    void pingMeasuresARoundTrip() throws Exception {
        start(config(), ex -> { });
        assertThat(client.ping().get(5, TimeUnit.SECONDS)).isPositive();
        assertThat(server.get().ping().get(5, TimeUnit.SECONDS)).isPositive();
    }

    @Test
    void anUpgradeIsA101ThenRawBytesBothWays() throws Exception {
        start(config(), ex -> {
            assertThat(ex.upgrade()).isEqualTo("websocket");
            DefaultHttpResponse r = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.SWITCHING_PROTOCOLS);
            r.headers().set(HttpHeaderNames.UPGRADE, "websocket").set(HttpHeaderNames.CONNECTION, "upgrade");
            ex.respond(r, false);
            ex.onBody((chunk, last) -> {
                int n = chunk.readableBytes();
                ex.write(chunk, last); // echo, half-closing when the client did
                ex.consume(n);
            });
        });
        HttpRequest r = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/ws");
        r.headers().set(HttpHeaderNames.HOST, "test").set(HttpHeaderNames.UPGRADE, "websocket")
                .set(HttpHeaderNames.CONNECTION, "upgrade");
        Collector c = new Collector(true);
        TunnelStream s = client.open(new RequestHead(r, "https"), 0, false, c).get(5, TimeUnit.SECONDS);
        ResponseHead head = c.head.get(5, TimeUnit.SECONDS);
        assertThat(head.status()).isEqualTo("101");
        assertThat(head.headers().get("upgrade")).isEqualTo("websocket");
        s.sendData(Unpooled.copiedBuffer("raw bytes", StandardCharsets.US_ASCII), false);
        s.sendData(Unpooled.copiedBuffer(" and the end", StandardCharsets.US_ASCII), true);
        assertThat(c.closed.get(5, TimeUnit.SECONDS)).as("both halves ended cleanly").isNull();
        assertThat(c.body.toString(StandardCharsets.US_ASCII)).isEqualTo("raw bytes and the end");
        assertThat(((InetSocketAddress) client.remoteAddress()).getPort()).isPositive();
    }
}
