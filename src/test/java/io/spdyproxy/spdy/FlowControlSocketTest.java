package io.spdyproxy.spdy;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.spdyproxy.spdy.http.BodyListener;
import io.spdyproxy.spdy.http.HttpCall;
import io.spdyproxy.spdy.http.HttpExchange;
import io.spdyproxy.spdy.http.HttpRequestHandler;
import io.spdyproxy.spdy.http.SpdyClient;
import io.spdyproxy.spdy.http.SpdyServer;
import io.spdyproxy.testing.TestCerts;
import io.spdyproxy.tls.TlsContexts;
import io.spdyproxy.transport.Transport;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.IntConsumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Flow control end to end, over a real loopback TLS connection between a {@link SpdyServer} and a
 * {@link SpdyClient} session: the send queue of a stream stays bounded by the peer's window no
 * matter how slow the reader, a stalled stream does not hold up its neighbours, many streams
 * share one session, and uploads are paced the same way.
 *
 * <p>Every body is a deterministic pattern (byte {@code i} is {@code PATTERN[i % P]}) and is
 * checked byte for byte where it arrives. Readers that are slow are paced by a token bucket on a
 * scheduled executor; the tests themselves only ever wait on futures with timeouts.
 */
class FlowControlSocketTest {
    private static final int CHUNK = 32 * 1024;
    private static final long KIB = 1024;
    private static final long MIB = 1024 * KIB;
    /** One stream's transfer to a slow reader: 256 MiB, far beyond every window. */
    private static final long LARGE = 256 * MIB;
    /** Period of the pattern: prime, so it never lines up with chunk or frame boundaries. */
    private static final int P = 65_521;
    /** {@code PATTERN[i] == PATTERN[i % P]}, long enough to slice any chunk at any phase. */
    private static final byte[] PATTERN = new byte[P + 128 * 1024];
    private static final List<String> ALPN = List.of(SpdyProtocol.SPDY_3_1.alpnId());

    static {
        SplittableRandom random = new SplittableRandom(0x5bd1e995L);
        for (int i = 0; i < P; i++) {
            PATTERN[i] = (byte) random.nextInt(256);
        }
        for (int i = P; i < PATTERN.length; i++) {
            PATTERN[i] = PATTERN[i - P];
        }
    }

    // Fixed windows (no growth): these tests check the bounds a window sets.
    private final SpdySessionConfig serverConfig = SpdySessionConfig.builder(SpdyRole.SERVER)
            .maxStreamWindow(256 * 1024).build();
    private final SpdySessionConfig clientConfig = SpdySessionConfig.builder(SpdyRole.CLIENT)
            .maxStreamWindow(256 * 1024).build();
    /** Server-side streams by the {@code tag} query parameter of their request. */
    private final Map<String, CompletableFuture<SpdyStream>> serverStreams = new ConcurrentHashMap<>();
    /** Readers to stop (releasing what they still hold) once the connection is gone. */
    private final List<AutoCloseable> cleanups = new ArrayList<>();

    private EventLoopGroup serverLoops;
    private EventLoopGroup clientLoops;
    private SpdyServer server;
    private SpdySession client;

    @BeforeEach
    void startLoops() {
        serverLoops = Transport.newGroup(1, "fc-server");
        clientLoops = Transport.newGroup(1, "fc-client");
    }

    @AfterEach
    void stopEverything() throws Exception {
        try {
            if (client != null) {
                client.close().get(10, TimeUnit.SECONDS);
            }
        } finally {
            try {
                if (server != null) {
                    server.close();
                }
            } finally {
                // No chunk can arrive any more: release what the readers still hold.
                List<AutoCloseable> toClose;
                synchronized (cleanups) {
                    toClose = new ArrayList<>(cleanups);
                    cleanups.clear();
                }
                for (int i = toClose.size() - 1; i >= 0; i--) {
                    toClose.get(i).close();
                }
                clientLoops.shutdownGracefully(0, 1, TimeUnit.SECONDS);
                serverLoops.shutdownGracefully(0, 1, TimeUnit.SECONDS);
                assertThat(clientLoops.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
                assertThat(serverLoops.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
            }
        }
    }

    // ------------------------------------------------------------------------------------------
    // The tests

    @Test
    @Timeout(90)
    void aLargeTransferThroughOneStreamToASlowReaderKeepsTheSendQueueWithinTheWindow() throws Exception {
        connect(this::serve);
        int window = clientConfig.initialStreamWindow();
        // About half of what one stream moves over loopback TLS on two cores under paranoid leak
        // detection (~130 MB/s), so the reader is the bottleneck; 256 MiB takes about 4 s.
        PacedReader reader = pacedReader("fc-slow-reader", 64 * MIB);
        CheckedBody body = new CheckedBody(reader);
        LateCall grant = new LateCall();
        reader.grant = grant;

        long t0 = System.nanoTime();
        get("/pattern?n=" + LARGE + "&tag=big", body, grant);
        long total = body.done.get(60, TimeUnit.SECONDS);
        double secs = (System.nanoTime() - t0) / 1e9;

        SpdyStream sent = serverStreams.get("big").get(5, TimeUnit.SECONDS);
        System.out.printf("%d MiB to a slow reader: %.1f s (%.0f MB/s), server maxQueuedBytes %d,"
                + " client max unconsumed %d%n", LARGE / MIB, secs, total / secs / 1e6, sent.maxQueuedBytes(),
                body.maxUnconsumed.get());
        assertThat(total).isEqualTo(LARGE);
        assertThat(body.checker.offset).isEqualTo(LARGE);
        assertThat(sent.bytesSent()).isEqualTo(LARGE);
        assertThat(sent.maxQueuedBytes())
                .as("memory the server stream held for sending")
                .isPositive()
                .isLessThanOrEqualTo(window + CHUNK);
        // The receiver never holds more than it granted, and the slow reader really was the
        // bottleneck: the sender filled the window rather than the reader waiting for data.
        assertThat(body.maxUnconsumed.get())
                .isLessThanOrEqualTo(window)
                .isGreaterThanOrEqualTo(window / 2);
    }

    @Test
    @Timeout(60)
    void aStalledStreamDoesNotDelayAnotherStreamOfTheSameSession() throws Exception {
        connect(this::serve);
        int window = clientConfig.initialStreamWindow();
        long sizeA = 32 * MIB;
        long sizeB = 10 * MIB;

        HeldBody heldA = new HeldBody(window);
        synchronized (cleanups) {
            cleanups.add(heldA);
        }
        CheckedBody bodyA = new CheckedBody(heldA);
        heldA.body = bodyA;
        LateCall grantA = new LateCall();
        heldA.grant = grantA;
        get("/pattern?n=" + sizeA + "&tag=A", bodyA, grantA);
        // A's reader never consumes: the server fills A's window, then A stalls.
        heldA.windowFull.get(10, TimeUnit.SECONDS);
        SpdyStream serverA = serverStreams.get("A").get(5, TimeUnit.SECONDS);

        LateCall grantB = new LateCall();
        CheckedBody bodyB = new CheckedBody(immediate(grantB));
        long t0 = System.nanoTime();
        get("/pattern?n=" + sizeB + "&tag=B", bodyB, grantB);
        assertThat(bodyB.done.get(20, TimeUnit.SECONDS)).isEqualTo(sizeB);
        double secsB = (System.nanoTime() - t0) / 1e9;
        System.out.printf("10 MiB on stream B next to stalled stream A: %.2f s%n", secsB);

        // B is done and A is still exactly where it stalled.
        assertThat(bodyA.done).isNotDone();
        assertThat(bodyA.unconsumed.get()).isEqualTo(window);
        assertThat(bodyA.maxUnconsumed.get()).isEqualTo(window);
        assertThat(serverA.bytesSent()).isEqualTo(window);
        assertThat(serverA.isClosed()).isFalse();
        assertThat(serverA.maxQueuedBytes()).isLessThanOrEqualTo(window + CHUNK);
        assertThat(serverStreams.get("B").get(5, TimeUnit.SECONDS).maxQueuedBytes())
                .isLessThanOrEqualTo(window + CHUNK);

        // Now A's reader catches up: everything held is used, and the rest flows.
        client.channel().eventLoop().execute(heldA::drain);
        assertThat(bodyA.done.get(30, TimeUnit.SECONDS)).isEqualTo(sizeA);
        assertThat(serverA.bytesSent()).isEqualTo(sizeA);
        assertThat(serverA.maxQueuedBytes()).isLessThanOrEqualTo(window + CHUNK);
        assertThat(bodyA.maxUnconsumed.get()).isLessThanOrEqualTo(window);
    }

    @Test
    @Timeout(60)
    void aHundredConcurrentStreamsOfOneMebibyteEachCompleteIntact() throws Exception {
        connect(this::serve);
        int streams = 100;
        long each = MIB;
        List<CheckedBody> bodies = new ArrayList<>();
        long t0 = System.nanoTime();
        for (int i = 0; i < streams; i++) {
            LateCall grant = new LateCall();
            CheckedBody body = new CheckedBody(immediate(grant));
            bodies.add(body);
            get("/pattern?n=" + each + "&tag=s" + i, body, grant);
        }
        CompletableFuture.allOf(bodies.stream().map(b -> b.done).toArray(CompletableFuture[]::new))
                .get(40, TimeUnit.SECONDS);
        double secs = (System.nanoTime() - t0) / 1e9;
        System.out.printf("%d streams x 1 MiB: %.2f s%n", streams, secs);

        int window = clientConfig.initialStreamWindow();
        for (int i = 0; i < streams; i++) {
            CheckedBody body = bodies.get(i);
            assertThat(body.done.join()).as("stream %d", i).isEqualTo(each);
            assertThat(body.checker.offset).as("stream %d", i).isEqualTo(each);
            assertThat(body.maxUnconsumed.get()).as("stream %d", i).isLessThanOrEqualTo(window);
            SpdyStream sent = serverStreams.get("s" + i).get(5, TimeUnit.SECONDS);
            assertThat(sent.bytesSent()).as("stream %d", i).isEqualTo(each);
            assertThat(sent.maxQueuedBytes()).as("stream %d", i).isLessThanOrEqualTo(window + CHUNK);
        }
        // A stream is removed right after its last chunk was delivered, on the loop.
        assertThat(client.channel().eventLoop().submit(() -> client.stats().activeStreams())
                .get(5, TimeUnit.SECONDS)).isZero();
    }

    @Test
    @Timeout(60)
    void anUploadToASlowHandlerKeepsTheClientSendQueueWithinTheWindow() throws Exception {
        connect(this::serve);
        long size = 64 * MIB;
        int window = serverConfig.initialStreamWindow();

        HttpRequest post = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST,
                "/upload?tag=up&n=" + size);
        post.headers().set(HttpHeaderNames.HOST, "localhost");
        LateCall grant = new LateCall();
        TextBody response = new TextBody(grant);
        long t0 = System.nanoTime();
        HttpCall call = SpdyClient.send(client, post, "https", 3, true, response)
                .get(10, TimeUnit.SECONDS);
        grant.attach(call);

        // The producer runs on the session's loop, where onWritable calls it back.
        EventLoop loop = client.channel().eventLoop();
        CompletableFuture<Long> allWritten = new CompletableFuture<>();
        long[] offset = {0};
        int[] resumes = {0};
        Runnable produce = () -> {
            while (offset[0] < size && call.isWritable() && !call.stream().isClosed()) {
                int n = (int) Math.min(CHUNK, size - offset[0]);
                ByteBuf chunk = client.channel().alloc().buffer(n);
                chunk.writeBytes(PATTERN, (int) (offset[0] % P), n);
                offset[0] += n;
                call.write(chunk, offset[0] == size);
            }
            if (offset[0] == size) {
                allWritten.complete(offset[0]);
            }
        };
        call.onWritable(() -> {
            resumes[0]++;
            produce.run();
        });
        loop.execute(produce);

        String answer = response.done.get(40, TimeUnit.SECONDS);
        double secs = (System.nanoTime() - t0) / 1e9;
        assertThat(allWritten.get(5, TimeUnit.SECONDS)).isEqualTo(size);
        SpdyStream up = call.stream();
        System.out.printf("64 MiB upload to a slow handler: %.2f s, client maxQueuedBytes %d,"
                + " %d resumes%n", secs, up.maxQueuedBytes(), loop.submit(() -> resumes[0]).get(5, TimeUnit.SECONDS));

        assertThat(call.response().get(5, TimeUnit.SECONDS).status()).isEqualTo(HttpResponseStatus.OK);
        assertThat(answer).isEqualTo("received " + size + "\n");
        assertThat(up.bytesSent()).isEqualTo(size);
        assertThat(up.maxQueuedBytes())
                .as("memory the uploading stream held for sending")
                .isPositive()
                .isLessThanOrEqualTo(window + CHUNK);
        assertThat(up.queuedBytes()).isZero();
        CheckedBody received = uploads.get("up").get(5, TimeUnit.SECONDS);
        assertThat(received.maxUnconsumed.get())
                .isLessThanOrEqualTo(window)
                .isGreaterThanOrEqualTo(window / 2);
    }

    // ------------------------------------------------------------------------------------------
    // Server side

    /** Upload bodies as the server received them, by tag. */
    private final Map<String, CompletableFuture<CheckedBody>> uploads = new ConcurrentHashMap<>();

    /**
     * {@code GET /pattern?n=N&tag=T}: N pattern bytes in 32 KiB chunks, produced while writable.
     * {@code POST /upload?n=N&tag=T}: a pattern body read by a slow reader, answered with its size.
     */
    private void serve(HttpExchange ex) {
        QueryStringDecoder uri = new QueryStringDecoder(ex.request().uri());
        String tag = uri.parameters().get("tag").get(0);
        long n = Long.parseLong(uri.parameters().get("n").get(0));
        serverStreams.computeIfAbsent(tag, t -> new CompletableFuture<>()).complete(ex.stream());
        switch (uri.path()) {
            case "/pattern" -> streamPattern(ex, n);
            case "/upload" -> receiveUpload(ex, tag, n);
            default -> ex.respond(HttpResponseStatus.NOT_FOUND, "text/plain", "not found\n");
        }
    }

    private static void streamPattern(HttpExchange ex, long total) {
        HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
        head.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/octet-stream");
        head.headers().set(HttpHeaderNames.CONTENT_LENGTH, total);
        ex.respond(head, false);
        long[] offset = {0};
        Runnable produce = () -> {
            while (offset[0] < total && ex.isWritable() && !ex.stream().isClosed()) {
                int n = (int) Math.min(CHUNK, total - offset[0]);
                ByteBuf chunk = ex.stream().session().channel().alloc().buffer(n);
                chunk.writeBytes(PATTERN, (int) (offset[0] % P), n);
                offset[0] += n;
                ex.write(chunk, offset[0] == total);
            }
        };
        ex.onWritable(produce);
        produce.run();
    }

    private void receiveUpload(HttpExchange ex, String tag, long expected) {
        PacedReader reader = pacedReader("fc-slow-handler", 32 * MIB);
        reader.grant = ex::consume;
        CheckedBody body = new CheckedBody(reader);
        ex.onBody(body);
        uploads.computeIfAbsent(tag, t -> new CompletableFuture<>()).complete(body);
        body.done.whenComplete((total, err) -> {
            if (err != null) {
                ex.respond(HttpResponseStatus.BAD_REQUEST, "text/plain", err + "\n");
            } else if (total != expected) {
                ex.respond(HttpResponseStatus.BAD_REQUEST, "text/plain", "received " + total
                        + " of " + expected + "\n");
            } else {
                ex.respond(HttpResponseStatus.OK, "text/plain", "received " + total + "\n");
            }
        });
    }

    // ------------------------------------------------------------------------------------------
    // Client side

    private void connect(HttpRequestHandler handler) throws Exception {
        server = SpdyServer.start(new InetSocketAddress("127.0.0.1", 0),
                TlsContexts.server(TestCerts.LOCALHOST, ALPN), serverConfig, handler, serverLoops);
        client = SpdyClient.connect(clientLoops, new InetSocketAddress("127.0.0.1", server.port()),
                TlsContexts.client(TestCerts.LOCALHOST.certificate(), ALPN), clientConfig,
                SpdySessionListener.refusingStreams()).get(10, TimeUnit.SECONDS);
        assertThat(client.config().protocol()).isEqualTo(SpdyProtocol.SPDY_3_1);
    }

    /** Sends a GET whose response body goes to {@code body}; {@code grant} learns the call. */
    private void get(String path, CheckedBody body, LateCall grant) {
        HttpRequest req = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, path);
        req.headers().set(HttpHeaderNames.HOST, "localhost");
        SpdyClient.send(client, req, "https", 3, false, body).whenComplete((call, err) -> {
            if (err != null) {
                body.done.completeExceptionally(err);
                return;
            }
            grant.attach(call);
            // Registered once the call is known, so a very early reset may go unseen here; the
            // test then fails on its timeout instead.
            call.onClose(cause -> {
                if (cause != null) {
                    body.done.completeExceptionally(cause);
                }
            });
        });
    }

    private PacedReader pacedReader(String name, long bytesPerSecond) {
        PacedReader reader = new PacedReader(name, bytesPerSecond);
        synchronized (cleanups) {
            cleanups.add(reader);
        }
        return reader;
    }

    private static Sink immediate(IntConsumer grant) {
        return (body, chunk, n, last) -> {
            chunk.release();
            body.consumed(n, last, grant);
        };
    }

    // ------------------------------------------------------------------------------------------
    // Readers

    /** Checks a body against the pattern, chunk by chunk, in arrival order. */
    static final class PatternChecker {
        private final byte[] scratch = new byte[64 * 1024];
        long offset;
        boolean ended;

        /** Null when {@code chunk} is the expected next piece of the pattern, else what is wrong. */
        String check(ByteBuf chunk, boolean last) {
            if (ended) {
                return "data after the last chunk at offset " + offset;
            }
            int index = chunk.readerIndex();
            int left = chunk.readableBytes();
            while (left > 0) {
                int n = Math.min(left, scratch.length);
                chunk.getBytes(index, scratch, 0, n);
                int phase = (int) (offset % P);
                int mismatch = Arrays.mismatch(scratch, 0, n, PATTERN, phase, phase + n);
                if (mismatch >= 0) {
                    return "byte " + (offset + mismatch) + " is " + scratch[mismatch] + ", expected "
                            + PATTERN[phase + mismatch];
                }
                offset += n;
                index += n;
                left -= n;
            }
            ended = last;
            return null;
        }
    }

    /** What a body does with a checked chunk it now owns. */
    interface Sink {
        void accept(CheckedBody body, ByteBuf chunk, int n, boolean last);
    }

    /**
     * A body listener (called on an event loop) that checks each chunk against the pattern on
     * arrival, counts the bytes received but not yet consumed, and hands the chunk to its sink.
     * {@link #done} completes with the size once the last byte was consumed.
     */
    static final class CheckedBody implements BodyListener {
        final PatternChecker checker = new PatternChecker();
        final CompletableFuture<Long> done = new CompletableFuture<>();
        final AtomicLong unconsumed = new AtomicLong();
        final AtomicLong maxUnconsumed = new AtomicLong();
        private final Sink sink;

        CheckedBody(Sink sink) {
            this.sink = sink;
        }

        @Override
        public void onChunk(ByteBuf chunk, boolean last) {
            int n = chunk.readableBytes();
            if (done.isDone()) {
                chunk.release();
                return;
            }
            String wrong = checker.check(chunk, last);
            if (wrong != null) {
                chunk.release();
                done.completeExceptionally(new AssertionError(wrong));
                return;
            }
            long now = unconsumed.addAndGet(n);
            maxUnconsumed.accumulateAndGet(now, Math::max);
            sink.accept(this, chunk, n, last);
        }

        /** The sink used (and released) {@code n} bytes: grant them back to the peer. */
        void consumed(int n, boolean last, IntConsumer grant) {
            unconsumed.addAndGet(-n);
            if (n > 0) {
                grant.accept(n);
            }
            if (last) {
                done.complete(checker.offset);
            }
        }
    }

    /**
     * Grants window through an {@link HttpCall} that the test thread learns only after the
     * stream opened, while the response may already be arriving on the loop: grants made before
     * then are owed and paid on {@link #attach}.
     */
    static final class LateCall implements IntConsumer {
        private HttpCall call;
        private long owed;

        synchronized void attach(HttpCall c) {
            call = c;
            if (owed > 0) {
                c.consume((int) owed);
                owed = 0;
            }
        }

        @Override
        public synchronized void accept(int n) {
            if (call == null) {
                owed += n;
            } else {
                call.consume(n);
            }
        }
    }

    /**
     * A reader that never consumes until {@link #drain}: it holds every chunk (on the loop),
     * signals once it holds {@code window} bytes, and from {@link #drain} on uses everything.
     */
    static final class HeldBody implements Sink, AutoCloseable {
        final CompletableFuture<Void> windowFull = new CompletableFuture<>();
        private final int window;
        private final ArrayDeque<Object[]> held = new ArrayDeque<>();
        private long heldBytes;
        private boolean draining;
        CheckedBody body;
        IntConsumer grant;

        HeldBody(int window) {
            this.window = window;
        }

        @Override
        public synchronized void accept(CheckedBody b, ByteBuf chunk, int n, boolean last) {
            if (draining) {
                chunk.release();
                b.consumed(n, last, grant);
                return;
            }
            held.add(new Object[] {chunk, n, last});
            heldBytes += n;
            if (heldBytes >= window) {
                windowFull.complete(null);
            }
        }

        /** Uses everything held and everything that follows. */
        synchronized void drain() {
            draining = true;
            Object[] item;
            while ((item = held.poll()) != null) {
                ((ByteBuf) item[0]).release();
                body.consumed((Integer) item[1], (Boolean) item[2], grant);
            }
            heldBytes = 0;
        }

        @Override
        public synchronized void close() {
            Object[] item;
            while ((item = held.poll()) != null) {
                ((ByteBuf) item[0]).release();
            }
        }
    }

    /**
     * A reader slower than the network: a token bucket refilled every 250 µs on its own thread
     * releases and consumes whole chunks at {@code bytesPerSecond} on average. Chunks wait in a
     * queue meanwhile; {@link #close} releases whatever is left.
     */
    final class PacedReader implements Sink, AutoCloseable {
        private static final long TICK_NANOS = 250_000;
        private final ScheduledExecutorService exec;
        private final long perTick;
        private final long maxTokens;
        private final ArrayDeque<Object[]> queue = new ArrayDeque<>();
        private boolean closed;
        private long tokens;
        volatile IntConsumer grant;

        PacedReader(String name, long bytesPerSecond) {
            perTick = bytesPerSecond * TICK_NANOS / 1_000_000_000L;
            maxTokens = perTick + 64 * 1024; // enough for the largest chunk, never a long burst
            exec = Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, name);
                t.setDaemon(true);
                return t;
            });
            exec.scheduleAtFixedRate(this::tick, TICK_NANOS, TICK_NANOS, TimeUnit.NANOSECONDS);
        }

        @Override
        public void accept(CheckedBody body, ByteBuf chunk, int n, boolean last) {
            synchronized (this) {
                if (!closed) {
                    queue.add(new Object[] {body, chunk, n, last});
                    return;
                }
            }
            chunk.release();
        }

        private void tick() {
            tokens = Math.min(maxTokens, tokens + perTick);
            while (true) {
                Object[] item;
                synchronized (this) {
                    item = queue.peek();
                    if (item == null || tokens < (Integer) item[2]) {
                        return;
                    }
                    queue.poll();
                }
                int n = (Integer) item[2];
                tokens -= n;
                ((ByteBuf) item[1]).release();
                CheckedBody body = (CheckedBody) item[0];
                try {
                    body.consumed(n, (Boolean) item[3], grant);
                } catch (RuntimeException e) {
                    body.done.completeExceptionally(e);
                }
            }
        }

        @Override
        public void close() throws InterruptedException {
            exec.shutdownNow();
            assertThat(exec.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
            synchronized (this) {
                closed = true;
                Object[] item;
                while ((item = queue.poll()) != null) {
                    ((ByteBuf) item[1]).release();
                }
            }
        }
    }

    /** A small text body (the upload's answer), consumed as it arrives. */
    static final class TextBody implements BodyListener {
        final CompletableFuture<String> done = new CompletableFuture<>();
        private final StringBuilder text = new StringBuilder();
        private final IntConsumer grant;

        TextBody(IntConsumer grant) {
            this.grant = grant;
        }

        @Override
        public void onChunk(ByteBuf chunk, boolean last) {
            int n = chunk.readableBytes();
            text.append(chunk.toString(StandardCharsets.UTF_8));
            chunk.release();
            if (n > 0) {
                grant.accept(n);
            }
            if (last) {
                done.complete(text.toString());
            }
        }
    }
}
