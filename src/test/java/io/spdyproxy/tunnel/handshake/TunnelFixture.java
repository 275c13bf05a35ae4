package io.spdyproxy.tunnel.handshake;

import static org.assertj.core.api.Assertions.fail;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.spdyproxy.origin.OriginClient;
import io.spdyproxy.origin.OriginConfig;
import io.spdyproxy.origin.files.FileServerConfig;
import io.spdyproxy.origin.files.StaticFileHandler;
import io.spdyproxy.proxy.ProxyConfig;
import io.spdyproxy.proxy.ProxyIdentity;
import io.spdyproxy.proxy.ProxyServer;
import io.spdyproxy.spdy.SpdyStreamException;
import io.spdyproxy.tunnel.TunnelExchange;
import io.spdyproxy.tunnel.RequestHandler;
import io.spdyproxy.testing.ChecksumHandler;
import io.spdyproxy.testing.FaultRelay;
import io.spdyproxy.tls.TlsContexts;
import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.RandomAccessFile;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import java.util.zip.CRC32C;

/**
 * What the end-to-end and fault tests share: a proxy P and origins C started in-process on
 * 127.0.0.1 port 0 the way the CLI wires them (token auth, pinned certificate), the test origins'
 * handlers, a raw HTTP/1.1 client for checks {@link HttpClient} hides (a truncated body, a reader
 * that never reads), and a bounded poll for "connected" conditions.
 *
 * <p>Threading: the fixture itself is used from the test thread; the handlers run on the origin's
 * event loops. {@link #close} stops everything it started, newest first.
 */
final class TunnelFixture implements AutoCloseable {
    static final String NAME = TunnelProtocol.DEFAULT_NAME;
    static final String TOKEN = "e2e-token-0123456789abcdef";
    static final long KIB = 1024;
    static final long MIB = 1024 * KIB;
    static final long GIB = 1024 * MIB;

    /** Generated bodies: byte {@code i} is {@code PATTERN[i % P]} (P prime: never chunk aligned). */
    static final int P = 65_521;
    static final int CHUNK = 64 * 1024;
    static final byte[] PATTERN = new byte[P + CHUNK];

    static {
        SplittableRandom random = new SplittableRandom(0x7e57L);
        for (int i = 0; i < P; i++) {
            PATTERN[i] = (byte) random.nextInt(256);
        }
        System.arraycopy(PATTERN, 0, PATTERN, P, CHUNK);
    }

    private final Path dataDir;
    /** The tunnel protocol the origins ask for (the end-to-end suites run once per protocol). */
    private final TunnelProtocol.Kind protocol;
    private final Deque<AutoCloseable> resources = new ArrayDeque<>();
    final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();

    TunnelFixture(Path dataDir) {
        this(dataDir, TunnelProtocol.Kind.SPDY);
    }

    TunnelFixture(Path dataDir, TunnelProtocol.Kind protocol) {
        this.dataDir = dataDir;
        this.protocol = protocol;
    }

    TunnelProtocol.Kind protocol() {
        return protocol;
    }

    // ---- P and C -------------------------------------------------------------------------------

    /** P with token auth for {@link #NAME}, every listener on 127.0.0.1 port 0, admin off. */
    ProxyConfig proxyConfig() {
        return ProxyConfig.defaults(dataDir).withBind("127.0.0.1").withPorts(0, 0, -1, -1)
                .withAuth(true, Map.of(NAME, ProxyConfig.hashToken(TOKEN)));
    }

    ProxyServer startProxy(ProxyConfig config) throws Exception {
        ProxyServer p = ProxyServer.start(config);
        resources.push(p);
        return p;
    }

    /** P with a given identity (certificate and tokens) instead of the data directory's. */
    ProxyServer startProxy(ProxyConfig config, ProxyIdentity identity) throws Exception {
        ProxyServer p = ProxyServer.start(config, identity);
        resources.push(p);
        return p;
    }

    /** C with the right token, a pinned certificate and a quick reconnect. */
    OriginConfig originConfig(int port) {
        return OriginConfig.of("127.0.0.1", port).withCredentials(NAME, TOKEN)
                .withBackoff(Duration.ofMillis(50), Duration.ofSeconds(1)).withTunnelProtocol(protocol);
    }

    OriginClient startOrigin(ProxyServer proxy, OriginConfig config, RequestHandler handler) {
        OriginClient c = new OriginClient(config, TlsContexts.clientPinned(proxy.identity().fingerprint()),
                handler, null).start();
        resources.push(c);
        return c;
    }

    FaultRelay relay(int targetPort) throws InterruptedException {
        FaultRelay r = new FaultRelay(targetPort);
        resources.push(r);
        return r;
    }

    StaticFileHandler files(Path root) throws IOException {
        StaticFileHandler h = new StaticFileHandler(FileServerConfig.of(root));
        resources.push(h);
        return h;
    }

    <T extends AutoCloseable> T closeLater(T resource) {
        resources.push(resource);
        return resource;
    }

    /** Waits until {@code origin} has {@code n} tunnels up and P lists {@code n} tunnels. */
    static void awaitTunnels(OriginClient origin, ProxyServer proxy, int n) throws InterruptedException {
        await(() -> origin.connectedTunnels() == n && proxy.tunnels().size() == n, Duration.ofSeconds(10),
                () -> "origin tunnels " + origin.connectedTunnels() + ", proxy tunnels " + proxy.tunnels().size()
                        + " (expected: " + n + ")");
    }

    /**
     * Polls {@code condition} every 20 ms (a latch nobody counts down: no busy spin, no sleep), a
     * bounded number of times.
     */
    static void await(BooleanSupplier condition, Duration max, Supplier<String> what) throws InterruptedException {
        CountDownLatch never = new CountDownLatch(1);
        long rounds = Math.max(1, max.toMillis() / 20);
        for (long i = 0; i < rounds && !condition.getAsBoolean(); i++) {
            never.await(20, TimeUnit.MILLISECONDS);
        }
        if (!condition.getAsBoolean()) {
            fail("not within " + max + ": " + what.get());
        }
    }

    @Override
    public void close() {
        RuntimeException first = null;
        while (!resources.isEmpty()) {
            try {
                resources.pop().close();
            } catch (Exception e) {
                if (first == null) {
                    first = new IllegalStateException("cleanup failed", e);
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }

    // ---- HTTP helpers --------------------------------------------------------------------------

    HttpResponse<byte[]> get(int port, String path, String... headers) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(uri(port, path)).timeout(Duration.ofSeconds(30));
        if (headers.length > 0) {
            b.headers(headers);
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
    }

    static URI uri(int port, String path) {
        return URI.create("http://127.0.0.1:" + port + path);
    }

    // ---- test data -----------------------------------------------------------------------------

    /** A sparse file of {@code size} zero bytes with a few marker blocks (see {@link #sparseCrc}). */
    static Path sparseFile(Path dir, String name, long size) throws IOException {
        Path f = dir.resolve(name);
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.setLength(size);
            for (long at = 0; at + 4096 <= size; at += 64 * MIB + 4099) {
                raf.seek(at);
                raf.write(PATTERN, (int) (at % P), 4096);
            }
        }
        return f;
    }

    /** CRC32C of {@link #sparseFile}'s content, computed without reading the file. */
    static long sparseCrc(long size) {
        CRC32C crc = new CRC32C();
        ByteBuffer zeros = ByteBuffer.allocateDirect((int) MIB);
        long pos = 0;
        long nextMarker = 0;
        while (pos < size) {
            if (nextMarker + 4096 <= size && pos == nextMarker) {
                crc.update(PATTERN, (int) (pos % P), 4096);
                pos += 4096;
                nextMarker += 64 * MIB + 4099;
                continue;
            }
            long until = nextMarker + 4096 <= size ? nextMarker : size;
            int n = (int) Math.min(zeros.capacity(), until - pos);
            zeros.clear().limit(n);
            crc.update(zeros);
            pos += n;
        }
        return crc.getValue();
    }

    static byte[] read(Path p) throws IOException {
        return Files.readAllBytes(p);
    }

    // ---- origin handlers -----------------------------------------------------------------------

    /** Routes by path prefix to test handlers; everything else to {@code fallback}. */
    static RequestHandler routes(Map<String, RequestHandler> byPrefix, RequestHandler fallback) {
        Map<String, RequestHandler> copy = new LinkedHashMap<>(byPrefix);
        return ex -> {
            String uri = ex.request().uri();
            for (Map.Entry<String, RequestHandler> e : copy.entrySet()) {
                if (uri.startsWith(e.getKey())) {
                    e.getValue().onRequest(ex);
                    return;
                }
            }
            fallback.onRequest(ex);
        };
    }


    static String summary(long bytes, long crc) {
        return ChecksumHandler.summary(bytes, crc);
    }

    /**
     * Streams {@link #PATTERN} forever (chunked: no length), paced by the stream's writability,
     * and records how the stream ended.
     */
    static final class EndlessHandler implements RequestHandler {
        final CompletableFuture<io.spdyproxy.tunnel.StreamClosedException> closed = new CompletableFuture<>();
        final AtomicLong sent = new AtomicLong();

        @Override
        public void onRequest(TunnelExchange ex) {
            io.netty.handler.codec.http.HttpResponse r = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
            r.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/octet-stream");
            ex.respond(r, false);
            ex.onClose(closed::complete);
            Runnable pump = () -> {
                while (!closed.isDone() && ex.isWritable()) {
                    int off = (int) (sent.get() % P);
                    ByteBuf chunk = Unpooled.copiedBuffer(PATTERN, off, 16 * 1024);
                    sent.addAndGet(chunk.readableBytes());
                    ex.write(chunk, false);
                }
            };
            ex.onWritable(pump);
            pump.run();
        }
    }

    /** Never answers; records how the stream ended. */
    static final class SilentHandler implements RequestHandler {
        final CompletableFuture<io.spdyproxy.tunnel.StreamClosedException> closed = new CompletableFuture<>();

        @Override
        public void onRequest(TunnelExchange ex) {
            ex.onClose(closed::complete);
        }
    }

    // ---- raw HTTP/1.1 client -------------------------------------------------------------------

    /** A response head as read off the socket. */
    record Head(String statusLine, int status, Map<String, String> headers) {
        String header(String name) {
            return headers.get(name);
        }

        long contentLength() {
            String v = headers.get("content-length");
            return v == null ? -1 : Long.parseLong(v.trim());
        }

        boolean chunked() {
            String v = headers.get("transfer-encoding");
            return v != null && v.toLowerCase(Locale.ROOT).contains("chunked");
        }
    }

    /**
     * How a body ended: {@code complete} when its framing says it ended (Content-Length reached,
     * last chunk seen); otherwise {@code end} says what cut it short.
     */
    record Body(long length, boolean complete, String end) {}

    interface Sink {
        void accept(byte[] b, int off, int len);
    }

    /** One client connection to P, read and written by hand. */
    static final class Raw implements AutoCloseable {
        final Socket socket;
        final InputStream in;
        final OutputStream out;

        /** @param receiveBuffer SO_RCVBUF to ask for (0: the default), set before connecting */
        Raw(int port, int receiveBuffer, Duration readTimeout) throws IOException {
            socket = new Socket();
            if (receiveBuffer > 0) {
                socket.setReceiveBufferSize(receiveBuffer);
            }
            socket.setSoTimeout((int) readTimeout.toMillis());
            socket.connect(new InetSocketAddress("127.0.0.1", port), 5000);
            in = new BufferedInputStream(socket.getInputStream(), 64 * 1024);
            out = socket.getOutputStream();
        }

        Raw(int port) throws IOException {
            this(port, 0, Duration.ofSeconds(30));
        }

        void send(String text) throws IOException {
            out.write(text.getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
        }

        /** A request head with Host and the given extra header lines (each ending in CRLF). */
        void request(String method, String path, String extraHeaders) throws IOException {
            send(method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + socket.getPort() + "\r\n"
                    + extraHeaders + "\r\n");
        }

        Head readHead() throws IOException {
            ByteArrayOutputStream line = new ByteArrayOutputStream();
            String statusLine = null;
            Map<String, String> headers = new TreeMap<>(String.CASE_INSENSITIVE_ORDER);
            while (true) {
                String l = readLine(line);
                if (l == null) {
                    throw new IOException("connection closed inside the response head");
                }
                if (statusLine == null) {
                    statusLine = l;
                    continue;
                }
                if (l.isEmpty()) {
                    break;
                }
                int colon = l.indexOf(':');
                headers.merge(l.substring(0, colon).trim(), l.substring(colon + 1).trim(), (a, b) -> a + ", " + b);
            }
            String[] parts = statusLine.split(" ", 3);
            return new Head(statusLine, Integer.parseInt(parts[1]), headers);
        }

        private String readLine(ByteArrayOutputStream buf) throws IOException {
            buf.reset();
            int b;
            while ((b = in.read()) >= 0) {
                if (b == '\n') {
                    String s = buf.toString(StandardCharsets.ISO_8859_1);
                    return s.endsWith("\r") ? s.substring(0, s.length() - 1) : s;
                }
                buf.write(b);
            }
            return null;
        }

        /** Reads the body {@code head} announces (none for HEAD, 1xx, 204, 304) into {@code sink}. */
        Body readBody(Head head, boolean headRequest, Sink sink) {
            long got = 0;
            byte[] buf = new byte[64 * 1024];
            try {
                if (headRequest || head.status() == 204 || head.status() == 304 || head.status() < 200) {
                    return new Body(0, true, "no body");
                }
                if (head.chunked()) {
                    ByteArrayOutputStream line = new ByteArrayOutputStream();
                    while (true) {
                        String sizeLine = readLine(line);
                        if (sizeLine == null) {
                            return new Body(got, false, "EOF before the last chunk");
                        }
                        int semi = sizeLine.indexOf(';');
                        long size = Long.parseLong((semi < 0 ? sizeLine : sizeLine.substring(0, semi)).trim(), 16);
                        if (size == 0) {
                            String t;
                            do {
                                t = readLine(line);
                            } while (t != null && !t.isEmpty());
                            return t == null ? new Body(got, false, "EOF in the trailers")
                                    : new Body(got, true, "last chunk");
                        }
                        long left = size;
                        while (left > 0) {
                            int n = in.read(buf, 0, (int) Math.min(buf.length, left));
                            if (n < 0) {
                                return new Body(got, false, "EOF inside a chunk");
                            }
                            sink.accept(buf, 0, n);
                            got += n;
                            left -= n;
                        }
                        readLine(line); // the CRLF after the chunk
                    }
                }
                long length = head.contentLength();
                while (length < 0 || got < length) {
                    int n = in.read(buf, 0, length < 0 ? buf.length : (int) Math.min(buf.length, length - got));
                    if (n < 0) {
                        return length < 0 ? new Body(got, true, "EOF (close-delimited)")
                                : new Body(got, false, "EOF after " + got + " of " + length + " bytes");
                    }
                    sink.accept(buf, 0, n);
                    got += n;
                }
                return new Body(got, true, "Content-Length reached");
            } catch (IOException e) {
                return new Body(got, false, "read failed: " + e);
            }
        }

        /** Bytes left on the connection until the peer closes it (after a Connection: close answer). */
        int readToEof() throws IOException {
            int total = 0;
            byte[] buf = new byte[8192];
            int n;
            while ((n = in.read(buf)) >= 0) {
                total += n;
            }
            return total;
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }

    /** A sink keeping everything (small bodies only). */
    static final class Collect implements Sink {
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream();

        @Override
        public void accept(byte[] b, int off, int len) {
            bytes.write(b, off, len);
        }
    }
}
