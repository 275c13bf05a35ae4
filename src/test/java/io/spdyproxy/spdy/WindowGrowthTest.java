package io.spdyproxy.spdy;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.spdyproxy.spdy.http.BodyListener;
import io.spdyproxy.spdy.http.HttpCall;
import io.spdyproxy.spdy.http.HttpExchange;
import io.spdyproxy.spdy.http.SpdyClient;
import io.spdyproxy.spdy.http.SpdyServer;
import io.spdyproxy.testing.TestCerts;
import io.spdyproxy.tls.TlsContexts;
import io.spdyproxy.transport.Transport;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Receive-window auto-tuning over real loopback TLS: a stream whose reader keeps up gets a larger
 * window, a slow reader's stream keeps the initial one, and growth stays within its caps.
 */
class WindowGrowthTest {
    private static final List<String> ALPN = List.of(SpdyProtocol.SPDY_3_1.alpnId());
    private static final int WINDOW = 256 * 1024;
    private static final int CHUNK = 16 * 1024;

    private EventLoopGroup loops;
    private SpdyServer server;
    private SpdySession client;

    @BeforeEach
    void start() throws Exception {
        loops = Transport.newGroup(2, "window-growth");
        server = SpdyServer.start(new InetSocketAddress("127.0.0.1", 0), TlsContexts.server(TestCerts.LOCALHOST, ALPN),
                SpdySessionConfig.builder(SpdyRole.SERVER).build(), WindowGrowthTest::stream, loops);
    }

    @AfterEach
    void stop() throws Exception {
        try {
            if (client != null) {
                client.close().get(10, TimeUnit.SECONDS);
            }
        } finally {
            server.close();
            loops.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            assertThat(loops.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
        }
    }

    @Test
    @Timeout(60)
    void aReaderThatKeepsUpGetsALargerWindowUpToTheMaximum() throws Exception {
        connect(SpdySessionConfig.builder(SpdyRole.CLIENT).build());
        Download d = download(32L << 20, 0);
        assertThat(d.done.get(30, TimeUnit.SECONDS)).isEqualTo(32L << 20);
        assertThat(d.maxWindow.get()).as("largest receive window of the stream")
                .isGreaterThan(WINDOW).isLessThanOrEqualTo(client.config().maxStreamWindow());
    }

    @Test
    @Timeout(60)
    void aSlowReaderKeepsTheInitialWindow() throws Exception {
        connect(SpdySessionConfig.builder(SpdyRole.CLIENT).build());
        // 16 KiB every 10 ms: half a window takes 80 ms, far beyond the 4 ms growth floor.
        Download d = download(2L << 20, 10);
        assertThat(d.done.get(30, TimeUnit.SECONDS)).isEqualTo(2L << 20);
        assertThat(d.maxWindow.get()).isEqualTo(WINDOW);
        assertThat(d.maxUnconsumed.get()).as("bytes waiting for the reader").isLessThanOrEqualTo(WINDOW);
    }

    @Test
    @Timeout(60)
    void growthStopsAtTheSessionBudgetAndIsOffWhenTheMaximumIsTheInitialWindow() throws Exception {
        connect(SpdySessionConfig.builder(SpdyRole.CLIENT).windowGrowthBudget(WINDOW).build());
        Download budgeted = download(32L << 20, 0);
        assertThat(budgeted.done.get(30, TimeUnit.SECONDS)).isEqualTo(32L << 20);
        assertThat(budgeted.maxWindow.get()).as("one doubling fits the budget, no more").isEqualTo(2 * WINDOW);
        client.close().get(10, TimeUnit.SECONDS);

        connect(SpdySessionConfig.builder(SpdyRole.CLIENT).maxStreamWindow(WINDOW).build());
        Download fixed = download(32L << 20, 0);
        assertThat(fixed.done.get(30, TimeUnit.SECONDS)).isEqualTo(32L << 20);
        assertThat(fixed.maxWindow.get()).isEqualTo(WINDOW);
    }

    // ------------------------------------------------------------------------------------------

    /** GET /?n=BYTES: that many bytes, produced as the stream can take them. */
    private static void stream(HttpExchange ex) {
        long total = Long.parseLong(ex.request().uri().substring(ex.request().uri().indexOf('=') + 1));
        HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
        head.headers().set(HttpHeaderNames.CONTENT_LENGTH, total);
        ex.respond(head, false);
        long[] sent = {0};
        Runnable produce = () -> {
            while (sent[0] < total && ex.isWritable() && !ex.stream().isClosed()) {
                int n = (int) Math.min(CHUNK, total - sent[0]);
                ByteBuf chunk = ex.stream().session().channel().alloc().buffer(n);
                chunk.writeZero(n);
                sent[0] += n;
                ex.write(chunk, sent[0] == total);
            }
        };
        ex.onWritable(produce);
        produce.run();
    }

    private void connect(SpdySessionConfig config) throws Exception {
        client = SpdyClient.connect(loops, new InetSocketAddress("127.0.0.1", server.port()),
                TlsContexts.client(TestCerts.LOCALHOST.certificate(), ALPN), config,
                SpdySessionListener.refusingStreams()).get(10, TimeUnit.SECONDS);
    }

    /** A download whose reader consumes at once, or 16 KiB per {@code paceMillis}. */
    private Download download(long bytes, int paceMillis) {
        Download d = new Download();
        HttpRequest req = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/?n=" + bytes);
        req.headers().set(HttpHeaderNames.HOST, "localhost");
        SpdyClient.send(client, req, "https", 3, false, call -> call.onBody(new BodyListener() {
            @Override
            public void onChunk(ByteBuf chunk, boolean last) {
                // On the session's loop, where the stream's window lives.
                SpdyStream s = call.stream();
                d.maxWindow.accumulateAndGet(s.receiveWindow().target(), Math::max);
                int n = chunk.readableBytes();
                chunk.release();
                long total = d.received.addAndGet(n);
                if (paceMillis == 0) {
                    call.consume(n);
                } else {
                    d.maxUnconsumed.accumulateAndGet(d.owed.addAndGet(n), Math::max);
                    if (d.pacer == null) {
                        d.pacer = s.session().channel().eventLoop().scheduleAtFixedRate(
                                () -> d.pay(call), paceMillis, paceMillis, TimeUnit.MILLISECONDS);
                    }
                }
                if (last) {
                    d.done.complete(total);
                }
            }
        })).whenComplete((call, err) -> {
            if (err != null) {
                d.done.completeExceptionally(err);
            }
        });
        return d;
    }

    private static final class Download {
        final CompletableFuture<Long> done = new CompletableFuture<>();
        final AtomicLong received = new AtomicLong();
        final AtomicLong owed = new AtomicLong();
        final AtomicLong maxUnconsumed = new AtomicLong();
        final AtomicInteger maxWindow = new AtomicInteger();
        java.util.concurrent.ScheduledFuture<?> pacer;

        void pay(HttpCall call) {
            long n = Math.min(CHUNK, owed.get());
            if (n > 0) {
                owed.addAndGet(-n);
                call.consume((int) n);
            }
            if (done.isDone() && owed.get() == 0) {
                pacer.cancel(false);
            }
        }
    }
}
