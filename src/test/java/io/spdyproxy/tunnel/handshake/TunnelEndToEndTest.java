package io.spdyproxy.tunnel.handshake;

import static io.spdyproxy.tunnel.handshake.TunnelFixture.CHUNK;
import static io.spdyproxy.tunnel.handshake.TunnelFixture.GIB;
import static io.spdyproxy.tunnel.handshake.TunnelFixture.KIB;
import static io.spdyproxy.tunnel.handshake.TunnelFixture.MIB;
import static io.spdyproxy.tunnel.handshake.TunnelFixture.P;
import static io.spdyproxy.tunnel.handshake.TunnelFixture.PATTERN;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import io.spdyproxy.origin.OriginClient;
import io.spdyproxy.proxy.ProxyServer;
import io.spdyproxy.tunnel.TunnelSession;
import io.spdyproxy.tunnel.handshake.TunnelFixture.Body;
import io.spdyproxy.testing.ChecksumHandler;
import io.spdyproxy.tunnel.handshake.TunnelFixture.Collect;
import io.spdyproxy.tunnel.handshake.TunnelFixture.Head;
import io.spdyproxy.tunnel.handshake.TunnelFixture.Raw;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * P and C end to end on loopback, C serving a directory through a real TLS tunnel, asked by plain
 * HTTP/1.1 clients the way the original's suite asked: listings, media files byte for byte,
 * conditional and range requests (a media player's and Safari's), POST bodies, HEAD, a slow
 * reader; then the transfers the original could not do: 1 GiB each way in bounded memory, 100
 * downloads at once on one tunnel, and a client that never reads next to clients that do.
 *
 * <p>The test files are copies of {@code /work/shared/testdata} when it is there (copied into a
 * temporary directory at test time), generated files of the same names and sizes otherwise.
 */
@Timeout(60)
class TunnelEndToEndTest {
    /** The tunnel protocol the origins ask for; a subclass runs every test over HTTP/2. */
    TunnelProtocol.Kind tunnelProtocol() {
        return TunnelProtocol.Kind.SPDY;
    }

    /**
     * The size of the single big download and upload. The HTTP/2 subclass moves less: the point
     * there is the h2 tunnel's flow control on a transfer far beyond every window, which a quarter
     * of it shows as well, and the full size is proven once here.
     */
    long bigTransferBytes() {
        return GIB;
    }

    /** What the paced reader takes every 250 ms: 4 KiB is the original suite's 16 KiB/s. */
    int slowReaderBytesPerTick() {
        return 4096;
    }

    /** The file a hundred clients download at once. */
    String concurrentDownloadFile() {
        return "sample.mkv";
    }

    private static final Path TESTDATA = io.spdyproxy.testing.TestData.dir();
    /** The original suite's files and their sizes (used to generate stand-ins when absent). */
    private static final Map<String, Integer> MEDIA = new LinkedHashMap<>();

    static {
        MEDIA.put("image.jpg", 268_692);
        MEDIA.put("sample.avi", 4_092_532);
        MEDIA.put("sample.mkv", 2_048_000);
        MEDIA.put("sample.mp4", 245_779);
    }

    /** Whatever the heap holds while 1 GiB streams through must stay far below the file size. */
    private static final long HEAP_BOUND = 512 * MIB;

    /** The heap bound for a transfer of {@code size}: {@link #HEAP_BOUND}, or half a smaller transfer. */
    private static long heapBound(long size) {
        return Math.min(HEAP_BOUND, size / 2);
    }

    @TempDir
    Path tmp;
    private Path root;
    private TunnelFixture fx;
    private ProxyServer proxy;
    private OriginClient origin;
    private ChecksumHandler sums;
    private final Map<String, byte[]> content = new LinkedHashMap<>();
    private final List<ExecutorService> executors = new ArrayList<>();

    @BeforeEach
    void setUp() throws Exception {
        root = Files.createDirectory(tmp.resolve("root"));
        if (Files.isDirectory(TESTDATA)) {
            try (DirectoryStream<Path> files = Files.newDirectoryStream(TESTDATA, Files::isRegularFile)) {
                for (Path f : files) {
                    Files.copy(f, root.resolve(f.getFileName().toString()));
                }
            }
        }
        SplittableRandom random = new SplittableRandom(42);
        for (Map.Entry<String, Integer> e : MEDIA.entrySet()) {
            Path file = root.resolve(e.getKey());
            if (!Files.exists(file)) {
                byte[] b = new byte[e.getValue()];
                random.nextBytes(b);
                Files.write(file, b);
            }
            content.put(e.getKey(), Files.readAllBytes(file));
        }
        fx = new TunnelFixture(tmp.resolve("proxy-data"), tunnelProtocol());
        proxy = fx.startProxy(fx.proxyConfig().withPorts(0, 0, -1, 0));
        sums = new ChecksumHandler();
        origin = fx.startOrigin(proxy, fx.originConfig(proxy.tunnelPort()),
                TunnelFixture.routes(Map.of("/_sum", sums), fx.files(root)));
        TunnelFixture.awaitTunnels(origin, proxy, 1);
    }

    @AfterEach
    void tearDown() throws Exception {
        for (ExecutorService e : executors) {
            e.shutdownNow();
            assertThat(e.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
        }
        if (fx != null) {
            fx.close();
        }
    }

    private int port() {
        return proxy.httpPort();
    }

    private <T extends ExecutorService> T executor(T e) {
        executors.add(e);
        return e;
    }

    @Test
    void bothEndsRunTheProtocolTheOriginAskedFor() {
        assertThat(proxy.tunnels()).extracting(t -> t.session().protocol()).containsExactly(tunnelProtocol().id());
        assertThat(origin.sessions()).extracting(s -> s.protocol()).containsExactly(tunnelProtocol().id());
    }

    // ---- the original suite ------------------------------------------------------------------

    @Test
    void rootListingNamesEveryFile() throws Exception {
        HttpResponse<byte[]> r = fx.get(port(), "/");

        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.headers().firstValue("content-type")).hasValueSatisfying(
                v -> assertThat(v).startsWith("text/html"));
        assertThat(new String(r.body(), UTF_8)).contains(MEDIA.keySet());
    }

    @ParameterizedTest
    @CsvSource({
        "image.jpg, image/jpeg",
        "sample.avi, video/x-msvideo",
        "sample.mkv, video/x-matroska",
        "sample.mp4, video/mp4"})
    void mediaFilesArriveByteIdenticalWithTheirType(String name, String type) throws Exception {
        HttpResponse<byte[]> r = fx.get(port(), "/" + name);

        byte[] expected = content.get(name);
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.headers().firstValue("content-type")).hasValue(type);
        assertThat(r.headers().firstValue("content-length")).hasValue(String.valueOf(expected.length));
        assertThat(r.body()).hasSize(expected.length);
        assertThat(Arrays.equals(r.body(), expected)).as("body identical to %s", name).isTrue();
    }

    @Test
    void originalTestdataIsServedUnchanged() throws Exception {
        Assumptions.assumeTrue(Files.isDirectory(TESTDATA), "no " + TESTDATA + " here");
        List<String> names = new ArrayList<>();
        try (DirectoryStream<Path> files = Files.newDirectoryStream(TESTDATA, Files::isRegularFile)) {
            files.forEach(f -> names.add(f.getFileName().toString()));
        }
        assertThat(names).containsAll(MEDIA.keySet());

        for (String name : names) {
            HttpResponse<byte[]> r = fx.get(port(), "/" + name);
            byte[] original = Files.readAllBytes(TESTDATA.resolve(name));
            assertThat(r.statusCode()).as(name).isEqualTo(200);
            assertThat(Arrays.equals(r.body(), original)).as("%s identical to the original", name).isTrue();
        }
    }

    @Test
    void ifModifiedSinceGives304WithoutBody() throws Exception {
        HttpResponse<byte[]> first = fx.get(port(), "/image.jpg");
        String lastModified = first.headers().firstValue("last-modified").orElseThrow();

        HttpResponse<byte[]> again = fx.get(port(), "/image.jpg", "If-Modified-Since", lastModified);

        assertThat(again.statusCode()).isEqualTo(304);
        assertThat(again.body()).isEmpty();
        assertThat(again.headers().firstValue("last-modified")).hasValue(lastModified);
    }

    @Test
    void rangeGives206WithContentRange() throws Exception {
        HttpResponse<byte[]> r = fx.get(port(), "/sample.avi", "Range", "bytes=512-2047");

        byte[] avi = content.get("sample.avi");
        assertThat(r.statusCode()).isEqualTo(206);
        assertThat(r.headers().firstValue("content-range")).hasValue("bytes 512-2047/" + avi.length);
        assertThat(avi.length).isEqualTo(4_092_532); // the original suite's exact header
        assertThat(r.headers().firstValue("content-length")).hasValue("1536");
        assertThat(r.body()).isEqualTo(Arrays.copyOfRange(avi, 512, 2048));
    }

    @Test
    void safariProbeThenTailRange() throws Exception {
        byte[] mp4 = content.get("sample.mp4");
        int n = mp4.length;

        // Safari first asks for two bytes, then for the end of the file (where the moov atom is).
        HttpResponse<byte[]> probe = fx.get(port(), "/sample.mp4", "Range", "bytes=0-1");
        HttpResponse<byte[]> tail = fx.get(port(), "/sample.mp4", "Range", "bytes=-100000");

        assertThat(probe.statusCode()).isEqualTo(206);
        assertThat(probe.headers().firstValue("content-range")).hasValue("bytes 0-1/" + n);
        assertThat(probe.body()).isEqualTo(Arrays.copyOfRange(mp4, 0, 2));
        assertThat(tail.statusCode()).isEqualTo(206);
        assertThat(tail.headers().firstValue("content-range"))
                .hasValue("bytes " + (n - 100_000) + "-" + (n - 1) + "/" + n);
        assertThat(tail.headers().firstValue("content-length")).hasValue("100000");
        assertThat(tail.body()).isEqualTo(Arrays.copyOfRange(mp4, n - 100_000, n));
    }

    @Test
    void postBodyReachesTheOriginIntact() throws Exception {
        byte[] body = new byte[3 * 1024 * 1024 + 17];
        new SplittableRandom(7).nextBytes(body);
        CRC32C crc = new CRC32C();
        crc.update(body);
        String expected = TunnelFixture.summary(body.length, crc.getValue());

        HttpResponse<String> sized = fx.http.send(HttpRequest.newBuilder(TunnelFixture.uri(port(), "/_sum"))
                .timeout(Duration.ofSeconds(30)).POST(HttpRequest.BodyPublishers.ofByteArray(body)).build(),
                HttpResponse.BodyHandlers.ofString());
        // An InputStream publisher has no length: the body goes chunked.
        HttpResponse<String> chunked = fx.http.send(HttpRequest.newBuilder(TunnelFixture.uri(port(), "/_sum"))
                .timeout(Duration.ofSeconds(30))
                .POST(HttpRequest.BodyPublishers.ofInputStream(() -> new ByteArrayInputStream(body))).build(),
                HttpResponse.BodyHandlers.ofString());

        assertThat(sized.statusCode()).isEqualTo(200);
        assertThat(sized.body()).isEqualTo(expected);
        assertThat(chunked.statusCode()).isEqualTo(200);
        assertThat(chunked.body()).isEqualTo(expected);
        assertThat(sums.requests).hasValue(2);
    }

    @Test
    void headGivesHeadersAndNoBody() throws Exception {
        try (Raw raw = new Raw(port())) {
            raw.request("HEAD", "/sample.mkv", "Connection: close\r\n");
            Head h = raw.readHead();

            assertThat(h.status()).isEqualTo(200);
            assertThat(h.header("content-type")).isEqualTo("video/x-matroska");
            assertThat(h.contentLength()).isEqualTo(content.get("sample.mkv").length);
            assertThat(raw.readToEof()).as("bytes after the HEAD response's head").isZero();
        }
    }

    @Test
    @Timeout(60)
    void clientReadingAt16KiBPerSecondGetsTheWholeFile() throws Exception {
        byte[] expected = content.get("sample.mp4");
        int perTick = slowReaderBytesPerTick();
        ScheduledExecutorService pacer = executor(Executors.newSingleThreadScheduledExecutor());
        ByteArrayOutputStream received = new ByteArrayOutputStream();
        CompletableFuture<Long> done = new CompletableFuture<>();
        long start = System.nanoTime();
        try (Raw raw = new Raw(port(), 16 * (int) KIB, Duration.ofSeconds(30))) {
            raw.request("GET", "/sample.mp4", "Connection: close\r\n");
            InputStream in = raw.socket.getInputStream(); // unbuffered: every byte is read on the pace
            byte[] buf = new byte[perTick];
            // 4 KiB every 250 ms: 16 KiB/s (unless a subclass reads faster).
            ScheduledFuture<?> ticks = pacer.scheduleAtFixedRate(() -> {
                try {
                    int quota = buf.length;
                    while (quota > 0) {
                        int n = in.read(buf, 0, quota);
                        if (n < 0) {
                            done.complete(System.nanoTime() - start);
                            throw new IllegalStateException("end of stream: stop ticking");
                        }
                        received.write(buf, 0, n);
                        quota -= n;
                    }
                } catch (IOException e) {
                    done.completeExceptionally(e);
                    throw new IllegalStateException(e);
                }
            }, 0, 250, TimeUnit.MILLISECONDS);
            long nanos = done.get(50, TimeUnit.SECONDS);
            ticks.cancel(false);

            byte[] all = received.toByteArray();
            int headEnd = indexOf(all, "\r\n\r\n".getBytes(UTF_8));
            String head = new String(all, 0, headEnd, UTF_8);
            byte[] body = Arrays.copyOfRange(all, headEnd + 4, all.length);
            assertThat(head).startsWith("HTTP/1.1 200").containsIgnoringCase("content-length: " + expected.length);
            assertThat(body).hasSize(expected.length);
            assertThat(Arrays.equals(body, expected)).as("slow reader's body identical").isTrue();
            double seconds = nanos / 1e9;
            double rate = perTick * 4.0;
            System.out.printf("slow reader: %d bytes at %.0f KiB/s took %.1f s%n", all.length, rate / 1024, seconds);
            assertThat(seconds).as("the reader was really paced").isGreaterThan(all.length / rate - 2);
        }
    }

    private static int indexOf(byte[] hay, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= hay.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (hay[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        throw new AssertionError("no end of head in " + hay.length + " bytes");
    }

    // ---- what the original could not do ------------------------------------------------------

    @Test
    @Timeout(120)
    void oneGibDownloadIsIntactInBoundedHeap() throws Exception {
        long size = bigTransferBytes();
        TunnelFixture.sparseFile(root, "big.bin", size);
        long expectedCrc = TunnelFixture.sparseCrc(size);
        HeapProbe heap = new HeapProbe(size);
        CRC32C crc = new CRC32C();
        long[] count = new long[1];

        long start = System.nanoTime();
        Body body;
        try (Raw raw = new Raw(port(), 0, Duration.ofSeconds(30))) {
            raw.request("GET", "/big.bin", "Connection: close\r\n");
            Head h = raw.readHead();
            assertThat(h.status()).isEqualTo(200);
            assertThat(h.contentLength()).isEqualTo(size);
            body = raw.readBody(h, false, (b, off, len) -> {
                crc.update(b, off, len);
                count[0] += len;
                heap.at(count[0]);
            });
        }
        double seconds = (System.nanoTime() - start) / 1e9;

        System.out.printf("%d MiB download through the tunnel: %.1f s (%.0f MiB/s); used heap after GC during"
                + " the transfer: %s%n", size / MIB, seconds, size / (double) MIB / seconds, heap);
        assertThat(body.complete()).as(body.end()).isTrue();
        assertThat(body.length()).isEqualTo(size);
        assertThat(crc.getValue()).as("CRC32C of the body").isEqualTo(expectedCrc);
        assertThat(heap.max()).as("max used heap after GC").isLessThan(heapBound(size));
    }

    @Test
    @Timeout(120)
    void oneGibUploadIsIntactInBoundedHeap() throws Exception {
        long size = bigTransferBytes();
        HeapProbe heap = new HeapProbe(size);
        ExecutorService writer = executor(Executors.newSingleThreadExecutor());

        long start = System.nanoTime();
        try (Raw raw = new Raw(port(), 0, Duration.ofSeconds(60))) {
            Future<Long> sent = writer.submit(() -> {
                raw.send("POST /_sum HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\n"
                        + "Content-Length: " + size + "\r\nConnection: close\r\n\r\n");
                CRC32C crc = new CRC32C();
                long pos = 0;
                while (pos < size) {
                    int off = (int) (pos % P);
                    int n = (int) Math.min(CHUNK, size - pos);
                    raw.out.write(PATTERN, off, n);
                    crc.update(PATTERN, off, n);
                    pos += n;
                    heap.at(pos);
                }
                raw.out.flush();
                return crc.getValue();
            });
            long clientCrc = sent.get(100, TimeUnit.SECONDS);
            Head h = raw.readHead();
            Collect answer = new Collect();
            Body b = raw.readBody(h, false, answer);
            double seconds = (System.nanoTime() - start) / 1e9;

            System.out.printf("%d MiB upload through the tunnel: %.1f s (%.0f MiB/s); used heap after GC during"
                    + " the transfer: %s%n", size / MIB, seconds, size / (double) MIB / seconds, heap);
            assertThat(h.status()).isEqualTo(200);
            assertThat(b.complete()).as(b.end()).isTrue();
            assertThat(answer.bytes.toString(UTF_8)).isEqualTo(TunnelFixture.summary(size, clientCrc));
            assertThat(heap.max()).as("max used heap after GC").isLessThan(heapBound(size));
        }
    }

    @Test
    @Timeout(90)
    void hundredConcurrentDownloadsShareOneTunnel() throws Exception {
        String file = concurrentDownloadFile();
        byte[] expected = content.get(file);
        TunnelSession tunnel = proxy.tunnels().get(0).session();
        long streamsBefore = tunnel.stats().streamsOpened();
        ScheduledExecutorService sampler = executor(Executors.newSingleThreadScheduledExecutor());
        AtomicInteger maxActive = new AtomicInteger();
        sampler.scheduleAtFixedRate(() -> maxActive.accumulateAndGet(tunnel.stats().activeStreams(), Math::max),
                0, 5, TimeUnit.MILLISECONDS);

        List<CompletableFuture<HttpResponse<byte[]>>> all = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            all.add(fx.http.sendAsync(HttpRequest.newBuilder(TunnelFixture.uri(port(), "/" + file))
                    .timeout(Duration.ofSeconds(60)).build(), HttpResponse.BodyHandlers.ofByteArray()));
        }
        CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).get(80, TimeUnit.SECONDS);

        for (CompletableFuture<HttpResponse<byte[]>> f : all) {
            HttpResponse<byte[]> r = f.get();
            assertThat(r.statusCode()).isEqualTo(200);
            assertThat(Arrays.equals(r.body(), expected)).as("download intact").isTrue();
        }
        System.out.println("100 concurrent downloads: at most " + maxActive.get() + " streams at once on the tunnel");
        assertThat(proxy.tunnels()).hasSize(1);
        assertThat(origin.sessions()).hasSize(1);
        assertThat(proxy.tunnels().get(0).session()).isSameAs(tunnel);
        assertThat(tunnel.stats().streamsOpened() - streamsBefore).isEqualTo(100);
        assertThat(maxActive.get()).as("streams in flight together").isGreaterThan(1);
    }

    @Test
    @Timeout(90)
    void clientThatNeverReadsDoesNotSlowOthers() throws Exception {
        long size = GIB;
        TunnelFixture.sparseFile(root, "big.bin", size);
        byte[] avi = content.get("sample.avi");
        TunnelSession tunnel = proxy.tunnels().get(0).session();
        long fromOriginBefore = tunnel.stats().dataBytesReceived();

        try (Raw stalled = new Raw(port(), 16 * (int) KIB, Duration.ofSeconds(30))) {
            stalled.request("GET", "/big.bin", "");
            Head h = stalled.readHead();
            assertThat(h.status()).isEqualTo(200);
            // ... and it never reads again.

            long start = System.nanoTime();
            List<CompletableFuture<HttpResponse<byte[]>>> others = new ArrayList<>();
            for (int i = 0; i < 10; i++) {
                others.add(fx.http.sendAsync(HttpRequest.newBuilder(TunnelFixture.uri(port(), "/sample.avi"))
                        .timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofByteArray()));
            }
            CompletableFuture.allOf(others.toArray(CompletableFuture[]::new)).get(40, TimeUnit.SECONDS);
            double seconds = (System.nanoTime() - start) / 1e9;
            for (CompletableFuture<HttpResponse<byte[]>> f : others) {
                assertThat(f.get().statusCode()).isEqualTo(200);
                assertThat(Arrays.equals(f.get().body(), avi)).as("other download intact").isTrue();
            }

            long fromOrigin = tunnel.stats().dataBytesReceived() - fromOriginBefore;
            long stalledBytes = fromOrigin - 10L * avi.length;
            System.out.printf("10 downloads beside a stalled reader: %.2f s; the stalled 1 GiB stream moved %d KiB"
                    + " from the origin%n", seconds, stalledBytes / KIB);
            assertThat(tunnel.stats().activeStreams()).as("the stalled stream is paused, not dropped").isEqualTo(1);
            assertThat(stalledBytes).as("bytes the stalled stream pulled through the tunnel")
                    .isLessThan(64 * MIB);
        }
        TunnelSession originSide = origin.sessions().get(0);
        TunnelFixture.await(() -> originSide.stats().activeStreams() == 0, Duration.ofSeconds(5),
                () -> "origin still streams to the closed client: " + originSide.stats());
    }

    @Test
    void adminEndpointListsTheTunnelAsJson() throws Exception {
        assertThat(proxy.adminPort()).isPositive();

        HttpResponse<byte[]> r = fx.get(proxy.adminPort(), "/debug");

        String json = new String(r.body(), UTF_8);
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.headers().firstValue("content-type")).hasValue("application/json");
        assertThat(json).startsWith("{").contains("\"tunnels\":[{\"name\":\"default\"", "\"legacy\":false",
                "\"state\":\"ACTIVE\"");
        assertThat(proxy.status()).contains("\"tunnels\":[{\"name\":\"default\"");
    }

    /**
     * Used heap after {@code System.gc()} at a quarter, half and three quarters of a transfer
     * (the whole JVM: P, C and the test share it).
     */
    private static final class HeapProbe {
        private final long size;
        private final List<Long> samples = new ArrayList<>();
        private final AtomicLong next;

        HeapProbe(long size) {
            this.size = size;
            this.next = new AtomicLong(size / 4);
        }

        void at(long position) {
            long n = next.get();
            if (position >= n && n < size && next.compareAndSet(n, n + size / 4)) {
                System.gc();
                Runtime rt = Runtime.getRuntime();
                synchronized (samples) {
                    samples.add(rt.totalMemory() - rt.freeMemory());
                }
            }
        }

        long max() {
            synchronized (samples) {
                assertThat(samples).as("heap samples").isNotEmpty();
                return samples.stream().mapToLong(Long::longValue).max().orElseThrow();
            }
        }

        @Override
        public String toString() {
            synchronized (samples) {
                return samples.stream().map(b -> b / MIB + " MiB").toList().toString();
            }
        }
    }
}
