package io.spdyproxy.origin.files;

import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.codec.DateFormatter;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.spdy.DefaultSpdyHeaders;
import io.netty.handler.codec.spdy.SpdyHeaders;
import io.spdyproxy.spdy.SpdyRole;
import io.spdyproxy.spdy.SpdySession;
import io.spdyproxy.spdy.SpdySessionConfig;
import io.spdyproxy.spdy.SpdySessionListener;
import io.spdyproxy.spdy.SpdyStream;
import io.spdyproxy.spdy.SpdyStreamException;
import io.spdyproxy.spdy.SpdyStreamListener;
import io.spdyproxy.spdy.http.BodyListener;
import io.spdyproxy.spdy.http.HttpCall;
import io.spdyproxy.spdy.http.SpdyClient;
import io.spdyproxy.spdy.http.SpdyServer;
import io.spdyproxy.testing.TestCerts;
import io.spdyproxy.tls.TlsContexts;
import io.spdyproxy.transport.Transport;
import io.spdyproxy.tunnel.TunnelStream;
import io.spdyproxy.tunnel.spdy.SpdyTunnelSession;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.RandomAccessFile;
import java.net.InetSocketAddress;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Date;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.IntConsumer;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The static file server end to end: a {@link StaticFileHandler} behind a {@link SpdyServer} on
 * loopback TLS, asked by a {@link SpdyClient} session, as a browser or a media player would.
 *
 * <p>Every test waits only on futures with timeouts; slow readers are paced by a token bucket on
 * a scheduled executor.
 */
class StaticFileHandlerTest {
    private static final List<String> ALPN = List.of("spdy/3.1");
    private static final long KIB = 1024;
    private static final long MIB = 1024 * KIB;
    /**
     * The slow reader's file: 64 times the most a stream's window grows to, so the bound on what
     * is held shows (1 GiB end to end through the whole tunnel is TunnelEndToEndTest's).
     */
    private static final long LARGE = 256 * MIB;
    private static final int MAX_FETCH = (int) (16 * MIB);
    private static final Instant MTIME = Instant.parse("2021-03-04T05:06:07Z");
    private static final String MTIME_HTTP = "Thu, 04 Mar 2021 05:06:07 GMT";
    private static final Path TESTDATA = io.spdyproxy.testing.TestData.dir();
    private static final String SECRET = "TOP-SECRET-OUTSIDE-THE-ROOT";

    /** Request bodies: byte {@code i} is {@code PATTERN[i % P]} (P prime: never chunk aligned). */
    private static final int P = 65_521;
    private static final int BODY_CHUNK = 64 * 1024;
    private static final byte[] PATTERN = new byte[P + BODY_CHUNK];

    static {
        SplittableRandom random = new SplittableRandom(0x51a71cL);
        for (int i = 0; i < P; i++) {
            PATTERN[i] = (byte) random.nextInt(256);
        }
        System.arraycopy(PATTERN, 0, PATTERN, P, BODY_CHUNK);
    }

    @TempDir
    Path tmp;
    private Path root;
    private Path outside;

    private final SpdySessionConfig serverConfig = SpdySessionConfig.builder(SpdyRole.SERVER).build();
    private final SpdySessionConfig clientConfig = SpdySessionConfig.builder(SpdyRole.CLIENT).build();
    private final Map<String, CompletableFuture<TunnelStream>> serverStreams = new ConcurrentHashMap<>();
    private final List<AutoCloseable> cleanups = new ArrayList<>();
    private EventLoopGroup serverLoops;
    private EventLoopGroup clientLoops;
    private ScheduledExecutorService pacer;
    private StaticFileHandler handler;
    private SpdyServer server;
    private SpdySession client;

    @BeforeEach
    void setUp() throws IOException {
        root = Files.createDirectory(tmp.resolve("root"));
        outside = Files.createDirectory(tmp.resolve("outside"));
        serverLoops = Transport.newGroup(1, "files-server");
        clientLoops = Transport.newGroup(1, "files-client");
        pacer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "files-pacer");
            t.setDaemon(true);
            return t;
        });
    }

    @AfterEach
    void tearDown() throws Exception {
        try {
            stopServer();
        } finally {
            List<AutoCloseable> toClose;
            synchronized (cleanups) {
                toClose = new ArrayList<>(cleanups);
                cleanups.clear();
            }
            for (AutoCloseable c : toClose) {
                c.close();
            }
            pacer.shutdownNow();
            clientLoops.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            serverLoops.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            assertThat(pacer.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
            assertThat(clientLoops.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
            assertThat(serverLoops.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
        }
    }

    // ------------------------------------------------------------------------------------------
    // GET and HEAD

    @Test
    void getServesAFileWithTypeLengthValidatorsAndAcceptRanges() throws Exception {
        byte[] data = randomBytes(10_000, 1);
        Path file = write("movie.mp4", data);
        // The cache looks at the disk again on every request: a changed file shows at once.
        start(FileServerConfig.of(root).withCacheValidity(Duration.ofNanos(1)));

        Resp get = get("/movie.mp4");
        assertThat(get.status()).isEqualTo(HttpResponseStatus.OK);
        assertThat(mediaType(get.header(HttpHeaderNames.CONTENT_TYPE))).isEqualTo("video/mp4");
        assertThat(get.header(HttpHeaderNames.CONTENT_LENGTH)).isEqualTo("10000");
        assertThat(get.header(HttpHeaderNames.ACCEPT_RANGES)).isEqualTo("bytes");
        assertThat(get.header(HttpHeaderNames.LAST_MODIFIED)).isEqualTo(MTIME_HTTP);
        assertThat(DateFormatter.parseHttpDate(get.header(HttpHeaderNames.LAST_MODIFIED)))
                .isEqualTo(Date.from(Files.getLastModifiedTime(file).toInstant()));
        String etag = get.header(HttpHeaderNames.ETAG);
        assertThat(etag).as("a strong entity tag").matches("\"[\\x21\\x23-\\x7e]+\"");
        assertThat(get.body()).isEqualTo(data);

        // The same file again: the same validator. A changed file: a different one.
        assertThat(get("/movie.mp4").header(HttpHeaderNames.ETAG)).isEqualTo(etag);
        write("movie.mp4", randomBytes(10_001, 2));
        Resp changed = get("/movie.mp4");
        assertThat(changed.header(HttpHeaderNames.ETAG)).isNotEqualTo(etag).doesNotStartWith("W/");
        assertThat(changed.body()).hasSize(10_001);
    }

    /**
     * The file server speaks no upgraded protocol: an upgrade request (which the proxy sends with
     * its stream left open for the client's bytes) gets the plain answer at once (RFC 9110
     * section 7.8: a server may ignore Upgrade), without waiting for the request's end.
     */
    @Test
    void anUpgradeRequestIsAnsweredAsAPlainGetWithoutWaitingForTheRequestToEnd() throws Exception {
        byte[] data = randomBytes(5_000, 7);
        write("chat.html", data);
        start(FileServerConfig.of(root));

        SpdyHeaders h = new DefaultSpdyHeaders();
        h.set(":method", "GET");
        h.set(":path", "/chat.html");
        h.set(":version", "HTTP/1.1");
        h.set(":host", "localhost");
        h.set(":scheme", "https");
        h.set("upgrade", "websocket");
        h.set("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==");
        h.set("sec-websocket-version", "13");
        CompletableFuture<SpdyHeaders> reply = new CompletableFuture<>();
        CompletableFuture<byte[]> body = new CompletableFuture<>();
        CompletableFuture<Object> closed = new CompletableFuture<>();
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        SpdyStream stream = client.newStream(h, 3, false, new SpdyStreamListener() {
            @Override
            public void onHeaders(SpdyStream s, SpdyHeaders headers, boolean end) {
                SpdyHeaders copy = new DefaultSpdyHeaders();
                copy.set(headers);
                reply.complete(copy);
            }

            @Override
            public void onData(SpdyStream s, ByteBuf data, boolean end) {
                int n = data.readableBytes();
                bytes.writeBytes(ByteBufUtil.getBytes(data));
                data.release();
                s.consume(n);
                if (end) {
                    body.complete(bytes.toByteArray());
                }
            }

            @Override
            public void onClosed(SpdyStream s, SpdyStreamException cause) {
                closed.complete(cause == null ? "clean" : cause);
            }
        }).get(10, TimeUnit.SECONDS);

        // The whole answer arrives while the client's direction is still open.
        assertThat(body.get(10, TimeUnit.SECONDS)).isEqualTo(data);
        SpdyHeaders r = reply.get();
        assertThat(r.getAsString(":status")).startsWith("200");
        assertThat(r.contains("upgrade")).isFalse();
        assertThat(closed).isNotDone();

        // Bytes the client sends afterwards are dropped, and the stream then ends cleanly.
        stream.sendData(Unpooled.copiedBuffer("stray", UTF_8), false);
        stream.sendData(Unpooled.EMPTY_BUFFER, true);
        assertThat(closed.get(10, TimeUnit.SECONDS)).isEqualTo("clean");
    }

    /**
     * A small file read once is answered from memory until the cache validity runs out: still a
     * coherent version (validators, ranges and 304s all match the bytes sent), and an upload
     * through the server shows at once.
     */
    @Test
    void smallFilesAreAnsweredFromMemoryWithinTheCacheValidity() throws Exception {
        byte[] first = randomBytes(2_000, 21);
        write("thumb.jpg", first);
        start(FileServerConfig.of(root).withAllowUploads(true).withCacheValidity(Duration.ofHours(1)));

        Resp a = get("//thumb.jpg"); // cached under the same key as /thumb.jpg
        assertThat(a.body()).isEqualTo(first);
        String etag = a.header(HttpHeaderNames.ETAG);

        // Changed on disk behind the server's back: the cached version is still the answer.
        Path file = root.resolve("thumb.jpg");
        Files.write(file, randomBytes(2_000, 22));
        Files.setLastModifiedTime(file, FileTime.from(MTIME.plusSeconds(60)));
        Resp cached = get("/thumb.jpg");
        assertThat(cached.body()).isEqualTo(first);
        assertThat(cached.header(HttpHeaderNames.ETAG)).isEqualTo(etag);
        assertPartial(get("/thumb.jpg", "Range", "bytes=10-19"), first, 10, 19);
        assertThat(get("/thumb.jpg", "If-None-Match", etag).status()).isEqualTo(HttpResponseStatus.NOT_MODIFIED);
        Resp multi = get("/thumb.jpg", "Range", "bytes=0-0,5-9");
        assertThat(multi.status()).isEqualTo(HttpResponseStatus.PARTIAL_CONTENT);
        assertThat(new String(multi.body(), ISO_8859_1))
                .contains(new String(Arrays.copyOfRange(first, 5, 10), ISO_8859_1));
        assertThat(send(HttpMethod.HEAD, "/thumb.jpg", null).header(HttpHeaderNames.CONTENT_LENGTH))
                .isEqualTo("2000");

        // Replaced through the server: the next GET has the new bytes and a new validator.
        byte[] uploaded = randomBytes(3_000, 23);
        assertThat(send(HttpMethod.PUT, "/thumb.jpg", uploaded).status()).isEqualTo(HttpResponseStatus.NO_CONTENT);
        Resp fresh = get("/thumb.jpg");
        assertThat(fresh.body()).isEqualTo(uploaded);
        assertThat(fresh.header(HttpHeaderNames.ETAG)).isNotEqualTo(etag);
        // However the path is spelled: one cache entry per file.
        assertThat(get("//./thumb.jpg").body()).isEqualTo(uploaded);
    }

    @Test
    void headAnswersWithTheHeadersOfGetAndNoBody() throws Exception {
        byte[] data = randomBytes(12_345, 3);
        write("song.mp3", data);
        write("empty.txt", new byte[0]);
        start(FileServerConfig.of(root));

        Resp get = get("/song.mp3");
        Resp head = send(HttpMethod.HEAD, "/song.mp3", null);
        assertThat(head.status()).isEqualTo(HttpResponseStatus.OK);
        assertThat(head.body()).isEmpty();
        for (CharSequence name : List.of(HttpHeaderNames.CONTENT_TYPE, HttpHeaderNames.CONTENT_LENGTH,
                HttpHeaderNames.ETAG, HttpHeaderNames.LAST_MODIFIED, HttpHeaderNames.ACCEPT_RANGES)) {
            assertThat(head.header(name)).as(name.toString()).isNotNull().isEqualTo(get.header(name));
        }
        assertThat(head.header(HttpHeaderNames.CONTENT_LENGTH)).isEqualTo("12345");
        assertThat(mediaType(head.header(HttpHeaderNames.CONTENT_TYPE))).isEqualTo("audio/mpeg");

        Resp empty = get("/empty.txt");
        assertThat(empty.status()).isEqualTo(HttpResponseStatus.OK);
        assertThat(empty.header(HttpHeaderNames.CONTENT_LENGTH)).isEqualTo("0");
        assertThat(empty.body()).isEmpty();
    }

    @Test
    void contentTypeFollowsTheFileName() throws Exception {
        Map<String, List<String>> expected = new LinkedHashMap<>();
        expected.put("index.html", List.of("text/html"));
        expected.put("style.css", List.of("text/css"));
        expected.put("app.js", List.of("text/javascript", "application/javascript"));
        expected.put("data.json", List.of("application/json"));
        expected.put("notes.txt", List.of("text/plain"));
        expected.put("photo.jpg", List.of("image/jpeg"));
        expected.put("PHOTO2.JPG", List.of("image/jpeg"));
        expected.put("icon.png", List.of("image/png"));
        expected.put("anim.gif", List.of("image/gif"));
        expected.put("logo.svg", List.of("image/svg+xml"));
        expected.put("pic.webp", List.of("image/webp"));
        expected.put("track.mp3", List.of("audio/mpeg"));
        expected.put("track.m4a", List.of("audio/mp4", "audio/x-m4a"));
        expected.put("track.flac", List.of("audio/flac", "audio/x-flac"));
        expected.put("track.ogg", List.of("audio/ogg", "application/ogg"));
        expected.put("clip.mp4", List.of("video/mp4"));
        expected.put("clip.m4v", List.of("video/x-m4v", "video/mp4"));
        expected.put("clip.mkv", List.of("video/x-matroska"));
        expected.put("clip.webm", List.of("video/webm"));
        expected.put("clip.avi", List.of("video/x-msvideo"));
        expected.put("clip.mov", List.of("video/quicktime"));
        expected.put("doc.pdf", List.of("application/pdf"));
        expected.put("archive.zip", List.of("application/zip"));
        expected.put("no-extension", List.of("application/octet-stream"));
        for (String name : expected.keySet()) {
            write(name, name.getBytes(UTF_8));
        }
        // The listing would be replaced by index.html at "/", so ask for the files one by one.
        start(FileServerConfig.of(root));

        SoftAssertions soft = new SoftAssertions();
        for (Map.Entry<String, List<String>> e : expected.entrySet()) {
            Resp r = get("/" + e.getKey());
            soft.assertThat(r.status()).as(e.getKey()).isEqualTo(HttpResponseStatus.OK);
            soft.assertThat(mediaType(r.header(HttpHeaderNames.CONTENT_TYPE))).as(e.getKey())
                    .isIn(e.getValue());
            soft.assertThat(new String(r.body(), UTF_8)).as(e.getKey()).isEqualTo(e.getKey());
            Resp head = send(HttpMethod.HEAD, "/" + e.getKey(), null);
            soft.assertThat(head.header(HttpHeaderNames.CONTENT_TYPE)).as("HEAD " + e.getKey())
                    .isEqualTo(r.header(HttpHeaderNames.CONTENT_TYPE));
        }
        soft.assertAll();
    }

    // ------------------------------------------------------------------------------------------
    // Byte ranges

    @Test
    void singleRangesOpenEndedAndSuffixGive206WithContentRange() throws Exception {
        byte[] data = randomBytes(10_000, 4);
        write("video.mp4", data);
        start(FileServerConfig.of(root));

        assertPartial(get("/video.mp4", "Range", "bytes=0-0"), data, 0, 0);
        assertPartial(get("/video.mp4", "Range", "bytes=100-1099"), data, 100, 1099);
        // Open ended: what a player asks when it seeks.
        assertPartial(get("/video.mp4", "Range", "bytes=9000-"), data, 9000, 9999);
        assertPartial(get("/video.mp4", "Range", "bytes=0-"), data, 0, 9999);
        // Suffix: the tail Safari asks for first (e.g. the moov atom at the end).
        assertPartial(get("/video.mp4", "Range", "bytes=-500"), data, 9500, 9999);
        assertPartial(get("/video.mp4", "Range", "bytes=-1"), data, 9999, 9999);
        // A suffix longer than the file is the whole file; a last byte past the end is clamped.
        assertPartial(get("/video.mp4", "Range", "bytes=-20000"), data, 0, 9999);
        assertPartial(get("/video.mp4", "Range", "bytes=9990-20000"), data, 9990, 9999);

        // HEAD with a range: the 206 head, no body.
        Resp head = send(HttpMethod.HEAD, "/video.mp4", null, "Range", "bytes=10-19");
        assertThat(head.status()).isEqualTo(HttpResponseStatus.PARTIAL_CONTENT);
        assertThat(head.header(HttpHeaderNames.CONTENT_RANGE)).isEqualTo("bytes 10-19/10000");
        assertThat(head.header(HttpHeaderNames.CONTENT_LENGTH)).isEqualTo("10");
        assertThat(head.body()).isEmpty();

        // Another unit, or a malformed header, is ignored: the whole file.
        for (String ignored : List.of("items=0-10", "bytes=abc", "bytes=20-10")) {
            Resp r = get("/video.mp4", "Range", ignored);
            assertThat(r.status()).as(ignored).isEqualTo(HttpResponseStatus.OK);
            assertThat(r.header(HttpHeaderNames.CONTENT_RANGE)).as(ignored).isNull();
            assertThat(r.body()).as(ignored).isEqualTo(data);
        }
    }

    @Test
    void unsatisfiableRangesGive416WithTheSize() throws Exception {
        write("video.mp4", randomBytes(10_000, 5));
        write("empty.bin", new byte[0]);
        start(FileServerConfig.of(root));

        for (String range : List.of("bytes=10000-", "bytes=10000-10005", "bytes=20000-30000", "bytes=-0")) {
            Resp r = get("/video.mp4", "Range", range);
            assertThat(r.status()).as(range).isEqualTo(HttpResponseStatus.REQUESTED_RANGE_NOT_SATISFIABLE);
            assertThat(r.header(HttpHeaderNames.CONTENT_RANGE)).as(range).isEqualTo("bytes */10000");
        }
        Resp empty = get("/empty.bin", "Range", "bytes=0-");
        assertThat(empty.status()).isEqualTo(HttpResponseStatus.REQUESTED_RANGE_NOT_SATISFIABLE);
        assertThat(empty.header(HttpHeaderNames.CONTENT_RANGE)).isEqualTo("bytes */0");
    }

    @Test
    void multipleRangesComeAsMultipartByteranges() throws Exception {
        byte[] data = randomBytes(10_000, 6);
        write("video.webm", data);
        start(FileServerConfig.of(root));

        Resp r = get("/video.webm", "Range", "bytes=0-9, 100-199,-20");
        assertThat(r.status()).isEqualTo(HttpResponseStatus.PARTIAL_CONTENT);
        assertThat(r.header(HttpHeaderNames.CONTENT_RANGE)).isNull();
        String type = r.header(HttpHeaderNames.CONTENT_TYPE);
        assertThat(type).startsWith("multipart/byteranges");
        assertThat(r.header(HttpHeaderNames.CONTENT_LENGTH)).isEqualTo(String.valueOf(r.body().length));

        List<Part> parts = parseMultipart(r.body(), boundaryOf(type));
        assertThat(parts).hasSize(3);
        long[][] expected = {{0, 9}, {100, 199}, {9980, 9999}};
        for (int i = 0; i < 3; i++) {
            Part p = parts.get(i);
            long first = expected[i][0];
            long last = expected[i][1];
            assertThat(p.headers().get("content-range")).as("part %d", i)
                    .isEqualTo("bytes " + first + "-" + last + "/10000");
            assertThat(mediaType(p.headers().get("content-type"))).as("part %d", i).isEqualTo("video/webm");
            assertThat(p.body()).as("part %d", i)
                    .isEqualTo(Arrays.copyOfRange(data, (int) first, (int) last + 1));
        }
    }

    @Test
    void ifRangeHonoursTheRangeOnlyWhileTheValidatorStillMatches() throws Exception {
        byte[] data = randomBytes(10_000, 7);
        write("video.mkv", data);
        start(FileServerConfig.of(root));
        String etag = get("/video.mkv").header(HttpHeaderNames.ETAG);

        assertPartial(get("/video.mkv", "Range", "bytes=200-299", "If-Range", etag), data, 200, 299);
        assertPartial(get("/video.mkv", "Range", "bytes=200-299", "If-Range", MTIME_HTTP), data, 200, 299);

        String stale = "\"0-0\"".equals(etag) ? "\"1-1\"" : "\"0-0\"";
        for (String ifRange : List.of(stale, "W/" + etag, "Wed, 03 Mar 2021 05:06:07 GMT")) {
            Resp full = get("/video.mkv", "Range", "bytes=200-299", "If-Range", ifRange);
            assertThat(full.status()).as(ifRange).isEqualTo(HttpResponseStatus.OK);
            assertThat(full.header(HttpHeaderNames.CONTENT_RANGE)).as(ifRange).isNull();
            assertThat(full.header(HttpHeaderNames.CONTENT_LENGTH)).as(ifRange).isEqualTo("10000");
            assertThat(full.body()).as(ifRange).isEqualTo(data);
        }
    }

    // ------------------------------------------------------------------------------------------
    // Conditional requests

    @Test
    void conditionalRequestsGive304And412() throws Exception {
        byte[] data = randomBytes(5_000, 8);
        write("page.html", data);
        start(FileServerConfig.of(root));
        Resp first = get("/page.html");
        String etag = first.header(HttpHeaderNames.ETAG);
        String lastModified = first.header(HttpHeaderNames.LAST_MODIFIED);

        Resp inm = get("/page.html", "If-None-Match", etag);
        assertThat(inm.status()).isEqualTo(HttpResponseStatus.NOT_MODIFIED);
        assertThat(inm.body()).isEmpty();
        assertThat(inm.header(HttpHeaderNames.ETAG)).isEqualTo(etag);
        assertThat(get("/page.html", "If-None-Match", "\"other\", " + etag).status())
                .isEqualTo(HttpResponseStatus.NOT_MODIFIED);
        assertThat(get("/page.html", "If-None-Match", "*").status()).isEqualTo(HttpResponseStatus.NOT_MODIFIED);
        Resp headInm = send(HttpMethod.HEAD, "/page.html", null, "If-None-Match", etag);
        assertThat(headInm.status()).isEqualTo(HttpResponseStatus.NOT_MODIFIED);
        assertThat(headInm.body()).isEmpty();
        Resp otherTag = get("/page.html", "If-None-Match", "\"other\"");
        assertThat(otherTag.status()).isEqualTo(HttpResponseStatus.OK);
        assertThat(otherTag.body()).isEqualTo(data);

        Resp ims = get("/page.html", "If-Modified-Since", lastModified);
        assertThat(ims.status()).isEqualTo(HttpResponseStatus.NOT_MODIFIED);
        assertThat(ims.body()).isEmpty();
        assertThat(get("/page.html", "If-Modified-Since", "Fri, 05 Mar 2021 00:00:00 GMT").status())
                .isEqualTo(HttpResponseStatus.NOT_MODIFIED);
        Resp older = get("/page.html", "If-Modified-Since", "Wed, 03 Mar 2021 05:06:07 GMT");
        assertThat(older.status()).isEqualTo(HttpResponseStatus.OK);
        assertThat(older.body()).isEqualTo(data);

        Resp ius = get("/page.html", "If-Unmodified-Since", "Wed, 03 Mar 2021 05:06:07 GMT");
        assertThat(ius.status()).isEqualTo(HttpResponseStatus.PRECONDITION_FAILED);
        assertThat(ius.body()).isNotEqualTo(data);
        assertThat(get("/page.html", "If-Unmodified-Since", lastModified).status())
                .isEqualTo(HttpResponseStatus.OK);

        Resp im = get("/page.html", "If-Match", "\"wrong\"");
        assertThat(im.status()).isEqualTo(HttpResponseStatus.PRECONDITION_FAILED);
        assertThat(im.body()).isNotEqualTo(data);
        assertThat(get("/page.html", "If-Match", etag).status()).isEqualTo(HttpResponseStatus.OK);
        assertThat(get("/page.html", "If-Match", "*").status()).isEqualTo(HttpResponseStatus.OK);
        assertThat(get("/page.html", "If-Match", "W/" + etag).status())
                .as("If-Match compares strongly").isEqualTo(HttpResponseStatus.PRECONDITION_FAILED);
    }

    /**
     * RFC 9110 section 15.4.5: a 304 carries the validators, not the representation's metadata
     * (the original origin put text/html on every reply; a cache merging it would relabel the file).
     */
    @Test
    void aNotModifiedCarriesNoContentTypeOrLength() throws Exception {
        write("movie.mp4", randomBytes(3_000, 9));
        Files.createDirectory(root.resolve("site"));
        write("site/index.html", "<p>hi</p>".getBytes(UTF_8));
        start(FileServerConfig.of(root).withCacheValidity(Duration.ofHours(1)));

        SoftAssertions soft = new SoftAssertions();
        for (String uri : List.of("/movie.mp4", "/site/", "/site/index.html")) {
            Resp first = get(uri);
            soft.assertThat(first.header(HttpHeaderNames.CONTENT_TYPE)).as(uri).isNotNull();
            String etag = first.header(HttpHeaderNames.ETAG);
            // Twice each: the first may be read from disk, the second is answered from the cache.
            for (int i = 0; i < 2; i++) {
                for (HttpMethod method : List.of(HttpMethod.GET, HttpMethod.HEAD)) {
                    for (String[] condition : List.of(new String[] {"If-None-Match", etag},
                            new String[] {"If-Modified-Since", MTIME_HTTP})) {
                        Resp r = send(method, uri, null, condition[0], condition[1], "Range", "bytes=0-9");
                        String what = method + " " + uri + " " + condition[0];
                        soft.assertThat(r.status()).as(what).isEqualTo(HttpResponseStatus.NOT_MODIFIED);
                        soft.assertThat(r.header(HttpHeaderNames.CONTENT_TYPE)).as(what).isNull();
                        soft.assertThat(r.header(HttpHeaderNames.CONTENT_LENGTH)).as(what).isNull();
                        soft.assertThat(r.header(HttpHeaderNames.CONTENT_RANGE)).as(what).isNull();
                        soft.assertThat(r.header(HttpHeaderNames.ETAG)).as(what).isEqualTo(etag);
                        soft.assertThat(r.body()).as(what).isEmpty();
                    }
                }
            }
        }
        soft.assertAll();
    }

    // ------------------------------------------------------------------------------------------
    // Directory listings

    @Test
    void htmlListingIsSortedEscapedAndLinksWork() throws Exception {
        Path dir = Files.createDirectory(root.resolve("media"));
        write("media/with space.txt", "hello".getBytes(UTF_8));
        write("media/<a&b>.mp4", randomBytes(3_000, 9));
        write("media/100%.txt", "full".getBytes(UTF_8));
        write("media/zeta.flac", randomBytes(2 * (int) MIB + 100, 10));
        write("media/Alpha.txt", "A".getBytes(UTF_8));
        Path sub = Files.createDirectory(dir.resolve("sub dir"));
        Files.setLastModifiedTime(sub, FileTime.from(MTIME));
        write("media/.hidden", "hidden".getBytes(UTF_8));
        Files.setLastModifiedTime(dir, FileTime.from(MTIME));
        write("top.txt", "top".getBytes(UTF_8));
        start(FileServerConfig.of(root));

        Resp r = get("/media/");
        assertThat(r.status()).isEqualTo(HttpResponseStatus.OK);
        assertThat(mediaType(r.header(HttpHeaderNames.CONTENT_TYPE))).isEqualTo("text/html");
        String html = r.text();
        assertThat(r.header(HttpHeaderNames.CONTENT_LENGTH)).isEqualTo(String.valueOf(r.body().length));

        // Escaped text and percent-encoded links, never the raw odd name.
        assertThat(html).doesNotContain("<a&b>").doesNotContain(".hidden");
        assertThat(html).contains("href=\"%3Ca%26b%3E.mp4\"").contains("&lt;a&amp;b&gt;.mp4");
        assertThat(html).contains("href=\"100%25.txt\"").contains(">100%.txt<");
        assertThat(html).contains("href=\"with%20space.txt\"").contains(">with space.txt<");
        assertThat(html).contains("href=\"sub%20dir/\"");
        assertThat(html).contains("href=\"../\"");

        // Sorted by name.
        List<String> hrefs = hrefs(html);
        assertThat(hrefs).containsExactly("../", "100%25.txt", "%3Ca%26b%3E.mp4", "Alpha.txt",
                "sub%20dir/", "with%20space.txt", "zeta.flac");

        // Sizes and dates in the rows.
        assertThat(row(html, "with%20space.txt")).contains("5 B").contains(MTIME_HTTP);
        assertThat(row(html, "%3Ca%26b%3E.mp4")).containsPattern("2[.,]9 KiB").contains(MTIME_HTTP);
        assertThat(row(html, "zeta.flac")).containsPattern("2[.,]0 MiB");
        assertThat(row(html, "sub%20dir/")).contains(MTIME_HTTP).doesNotContain(" B<");

        // Every link resolves against the page to the entry.
        assertThat(get("/media/%3Ca%26b%3E.mp4").body()).isEqualTo(Files.readAllBytes(dir.resolve("<a&b>.mp4")));
        assertThat(get("/media/100%25.txt").text()).isEqualTo("full");
        assertThat(get("/media/with%20space.txt").text()).isEqualTo("hello");
        assertThat(get("/media/sub%20dir/").status()).isEqualTo(HttpResponseStatus.OK);

        // The root has no parent link; a sub-directory's title is escaped too.
        String rootHtml = get("/").text();
        assertThat(hrefs(rootHtml)).containsExactly("media/", "top.txt");
        assertThat(rootHtml).doesNotContain("href=\"../\"");
        Files.createDirectory(root.resolve("<b>"));
        String odd = get("/%3Cb%3E/").text();
        assertThat(odd).doesNotContain("<b>").contains("&lt;b&gt;").contains("href=\"../\"");
    }

    @Test
    void jsonListingWhenAskedFor() throws Exception {
        Files.createDirectory(root.resolve("music"));
        write("music/b side.mp3", randomBytes(1234, 11));
        write("music/<a&b>.mp4", randomBytes(10, 12));
        write("music/.DS_Store", "x".getBytes(UTF_8));
        Path sub = Files.createDirectory(root.resolve("music/album"));
        Files.setLastModifiedTime(sub, FileTime.from(MTIME));
        start(FileServerConfig.of(root));

        Resp r = get("/music/", "Accept", "application/json");
        assertThat(r.status()).isEqualTo(HttpResponseStatus.OK);
        assertThat(mediaType(r.header(HttpHeaderNames.CONTENT_TYPE))).isEqualTo("application/json");
        Object parsed = new Json(r.text()).parse();
        assertThat(parsed).isInstanceOf(List.class);
        List<?> entries = (List<?>) parsed;
        assertThat(entries).hasSize(3);
        Map<?, ?> a = (Map<?, ?>) entries.get(0);
        Map<?, ?> album = (Map<?, ?>) entries.get(1);
        Map<?, ?> b = (Map<?, ?>) entries.get(2);
        assertThat(a.get("name")).isEqualTo("<a&b>.mp4");
        assertThat(a.get("type")).isEqualTo("file");
        assertThat(a.get("size")).isEqualTo(10.0);
        assertThat(album.get("name")).isEqualTo("album");
        assertThat(album.get("type")).isEqualTo("directory");
        assertThat(b.get("name")).isEqualTo("b side.mp3");
        assertThat(b.get("size")).isEqualTo(1234.0);
        assertThat(Instant.parse((String) b.get("modified"))).isEqualTo(MTIME);
        assertThat(Instant.parse((String) album.get("modified"))).isEqualTo(MTIME);

        // Without the Accept header: HTML.
        assertThat(mediaType(get("/music/").header(HttpHeaderNames.CONTENT_TYPE))).isEqualTo("text/html");
    }

    @Test
    void indexHtmlIsServedForItsDirectory() throws Exception {
        Files.createDirectory(root.resolve("site"));
        write("site/index.html", "<h1>home</h1>".getBytes(UTF_8));
        write("site/other.txt", "other".getBytes(UTF_8));
        start(FileServerConfig.of(root));

        Resp r = get("/site/");
        assertThat(r.status()).isEqualTo(HttpResponseStatus.OK);
        assertThat(mediaType(r.header(HttpHeaderNames.CONTENT_TYPE))).isEqualTo("text/html");
        assertThat(r.text()).isEqualTo("<h1>home</h1>");
        assertThat(r.header(HttpHeaderNames.ETAG)).isNotNull();
    }

    @Test
    void aDirectoryWithoutTrailingSlashRedirectsKeepingTheQuery() throws Exception {
        Files.createDirectories(root.resolve("movies/2024"));
        start(FileServerConfig.of(root));

        Resp r = get("/movies?sort=name&dir=asc");
        assertThat(r.status()).isEqualTo(HttpResponseStatus.MOVED_PERMANENTLY);
        assertThat(r.header(HttpHeaderNames.LOCATION)).isEqualTo("/movies/?sort=name&dir=asc");
        Resp nested = get("/movies/2024");
        assertThat(nested.status()).isEqualTo(HttpResponseStatus.MOVED_PERMANENTLY);
        assertThat(nested.header(HttpHeaderNames.LOCATION)).isEqualTo("/movies/2024/");
        assertThat(get("/movies/?sort=name").status()).isEqualTo(HttpResponseStatus.OK);
    }

    // ------------------------------------------------------------------------------------------
    // Safety

    @Test
    void nothingOutsideTheRootIsEverServed() throws Exception {
        Files.writeString(outside.resolve("secret.txt"), SECRET);
        Files.writeString(tmp.resolve("secret.txt"), SECRET);
        Files.createDirectories(root.resolve("a/b"));
        write("public.txt", "public".getBytes(UTF_8));
        Files.createSymbolicLink(root.resolve("leak.txt"), outside.resolve("secret.txt"));
        Files.createSymbolicLink(root.resolve("leakdir"), outside);
        Files.createSymbolicLink(root.resolve("a/up.txt"), Path.of("../../secret.txt"));
        start(FileServerConfig.of(root));

        List<String> attacks = List.of(
                "/../secret.txt",
                "/../outside/secret.txt",
                "/a/../../outside/secret.txt",
                "/a/b/../../../secret.txt",
                "/%2e%2e/secret.txt",
                "/%2E%2E/outside/secret.txt",
                "/.%2e/secret.txt",
                "/%2e%2e%2fsecret.txt",
                "/a/%2e%2e/%2e%2e/secret.txt",
                "/%252e%252e/secret.txt",
                "/%252e%252e/outside/secret.txt",
                "/..\\secret.txt",
                "/a\\..\\..\\secret.txt",
                "/..%5csecret.txt",
                "/%2e%2e%5coutside%5csecret.txt",
                "/public.txt%00",
                "/public.txt%00.jpg",
                "/%00/../secret.txt",
                "/%c0%ae%c0%ae/secret.txt",
                "/%c0%ae%c0%ae/outside/secret.txt",
                "/%c0%ae%c0%ae%c0%afsecret.txt",
                "/%e0%80%ae%e0%80%ae/secret.txt",
                "/leak.txt",
                "/leakdir/secret.txt",
                "/leakdir/",
                "/a/up.txt");
        SoftAssertions soft = new SoftAssertions();
        for (String uri : attacks) {
            for (HttpMethod method : List.of(HttpMethod.GET, HttpMethod.HEAD, HttpMethod.POST)) {
                Resp r = send(method, uri, null);
                soft.assertThat(r.status().code()).as("%s %s", method, uri).isIn(400, 403, 404);
                soft.assertThat(r.text()).as("%s %s", method, uri).doesNotContain(SECRET);
            }
        }
        // Double encoding decodes once, to a literal "%2e%2e" name: simply not found.
        soft.assertThat(get("/%252e%252e/secret.txt").status()).isEqualTo(HttpResponseStatus.NOT_FOUND);
        soft.assertThat(get("/%252e%252e/").status()).isEqualTo(HttpResponseStatus.NOT_FOUND);
        soft.assertAll();
        // The root itself still works.
        assertThat(get("/public.txt").text()).isEqualTo("public");
        assertThat(get("/a/b/../../public.txt").status().code()).isIn(200, 400);
    }

    /**
     * The original Go proxy sends the decoded path in :path (PROTOCOL.md): files with any legal
     * name are served, '#' is part of the name, and what our proxy sends (encoded) still works.
     */
    @Test
    void pathsSentDecodedByTheOriginalProxyServeTheirFiles() throws Exception {
        Map<String, String> files = new LinkedHashMap<>();
        files.put("a b.txt", "/a%20b.txt");
        files.put("a#b.txt", "/a%23b.txt");
        files.put("café.txt", "/caf%C3%A9.txt");
        files.put("100%.txt", "/100%25.txt");
        files.put("50% off #1 <new>.txt", "/50%25%20off%20%231%20%3Cnew%3E.txt");
        files.put("\uD83C\uDFB5 tune.mp3", "/%F0%9F%8E%B5%20tune.mp3");
        for (String name : files.keySet()) {
            write(name, ("content of " + name).getBytes(UTF_8));
        }
        Files.createDirectory(root.resolve("my dir"));
        write("my dir/x y.txt", "nested".getBytes(UTF_8));
        start(FileServerConfig.of(root));

        SoftAssertions soft = new SoftAssertions();
        for (Map.Entry<String, String> f : files.entrySet()) {
            String expected = "content of " + f.getKey();
            for (String uri : List.of("/" + f.getKey(), f.getValue(), "/" + f.getKey() + "?x=1#y", f.getValue() + "?x")) {
                Resp r = get(uri);
                soft.assertThat(r.status()).as(uri).isEqualTo(HttpResponseStatus.OK);
                soft.assertThat(r.text()).as(uri).isEqualTo(expected);
            }
        }
        soft.assertThat(get("/my dir/x y.txt").text()).isEqualTo("nested");
        soft.assertThat(get("/my%20dir/x%20y.txt").text()).isEqualTo("nested");
        Resp redirect = get("/my dir?sort=name");
        soft.assertThat(redirect.status()).isEqualTo(HttpResponseStatus.MOVED_PERMANENTLY);
        soft.assertThat(redirect.header(HttpHeaderNames.LOCATION)).as("a valid URI").isEqualTo("/my%20dir/?sort=name");
        soft.assertThat(get("/a").status()).as("'#' is not a fragment").isEqualTo(HttpResponseStatus.NOT_FOUND);
        soft.assertAll();
    }

    @Test
    void decodedPathsCannotLeaveTheRoot() throws Exception {
        Files.writeString(tmp.resolve("secret.txt"), SECRET);
        Files.writeString(outside.resolve("secret.txt"), SECRET);
        Files.createDirectory(root.resolve("a b"));
        write("a b/public.txt", "public".getBytes(UTF_8));
        start(FileServerConfig.of(root).withAllowUploads(true));

        SoftAssertions soft = new SoftAssertions();
        for (String uri : List.of("/a b/../../secret.txt", "/a b/../../outside/secret.txt", "/ /../../secret.txt",
                "/#/../../secret.txt", "/a b/..\\..\\secret.txt", "/a b/%2e%2e/%2e%2e/secret.txt",
                "/a b/%252e%252e/secret.txt", "/a b/\u0000/../../secret.txt", "/café/../../secret.txt",
                "/..%5c..%5c secret.txt", "/a b/..")) {
            for (HttpMethod method : List.of(HttpMethod.GET, HttpMethod.HEAD, HttpMethod.POST)) {
                Resp r = send(method, uri, null);
                soft.assertThat(r.status().code()).as("%s %s", method, uri).isIn(400, 403, 404);
                soft.assertThat(r.text()).as("%s %s", method, uri).doesNotContain(SECRET);
            }
            soft.assertThat(send(HttpMethod.PUT, uri, "EVIL".getBytes(UTF_8)).status().code()).as("PUT %s", uri)
                    .isBetween(400, 499);
        }
        soft.assertAll();
        assertThat(Files.readString(tmp.resolve("secret.txt"))).isEqualTo(SECRET);
        assertThat(Files.readString(outside.resolve("secret.txt"))).isEqualTo(SECRET);
        assertThat(get("/a b/public.txt").text()).isEqualTo("public");
    }

    @Test
    void hiddenFilesAreNeitherListedNorServedByDefault() throws Exception {
        write(".env", "PASSWORD=1".getBytes(UTF_8));
        Files.createDirectory(root.resolve(".git"));
        write(".git/config", "[core]".getBytes(UTF_8));
        write("visible.txt", "v".getBytes(UTF_8));
        start(FileServerConfig.of(root));

        for (String uri : List.of("/.env", "/.git/config", "/.git/", "/%2eenv", "/.git")) {
            Resp r = get(uri);
            assertThat(r.status().code()).as(uri).isIn(403, 404);
            assertThat(r.text()).as(uri).doesNotContain("PASSWORD").doesNotContain("[core]");
        }
        String html = get("/").text();
        assertThat(html).contains("visible.txt").doesNotContain(".env").doesNotContain(".git");
        assertThat(get("/", "Accept", "application/json").text()).doesNotContain(".env").doesNotContain(".git");

        restart(FileServerConfig.of(root).withShowHidden(true));
        assertThat(get("/.env").text()).isEqualTo("PASSWORD=1");
        assertThat(get("/.git/config").text()).isEqualTo("[core]");
        assertThat(hrefs(get("/").text())).containsExactly(".env", ".git/", "visible.txt");
    }

    @Test
    void otherMethodsGet405WithAllow() throws Exception {
        write("file.txt", "keep me".getBytes(UTF_8));
        start(FileServerConfig.of(root));

        Resp delete = send(HttpMethod.DELETE, "/file.txt", null);
        assertThat(delete.status()).isEqualTo(HttpResponseStatus.METHOD_NOT_ALLOWED);
        assertThat(allow(delete)).contains("GET", "HEAD", "POST").doesNotContain("PUT", "DELETE");

        Resp put = send(HttpMethod.PUT, "/file.txt", "replaced".getBytes(UTF_8));
        assertThat(put.status()).isEqualTo(HttpResponseStatus.METHOD_NOT_ALLOWED);
        assertThat(allow(put)).contains("GET", "HEAD", "POST").doesNotContain("PUT");
        Resp putNew = send(HttpMethod.PUT, "/new.txt", "new".getBytes(UTF_8));
        assertThat(putNew.status()).isEqualTo(HttpResponseStatus.METHOD_NOT_ALLOWED);

        Resp options = send(HttpMethod.OPTIONS, "/file.txt", null);
        assertThat(options.status()).isEqualTo(HttpResponseStatus.METHOD_NOT_ALLOWED);
        assertThat(allow(options)).contains("GET", "HEAD", "POST");

        assertThat(Files.readString(root.resolve("file.txt"))).isEqualTo("keep me");
        assertThat(root.resolve("new.txt")).doesNotExist();

        restart(FileServerConfig.of(root).withAllowUploads(true));
        Resp deleteUp = send(HttpMethod.DELETE, "/file.txt", null);
        assertThat(deleteUp.status()).isEqualTo(HttpResponseStatus.METHOD_NOT_ALLOWED);
        assertThat(allow(deleteUp)).contains("GET", "HEAD", "POST", "PUT").doesNotContain("DELETE");
        assertThat(root.resolve("file.txt")).exists();
    }

    // ------------------------------------------------------------------------------------------
    // POST and PUT

    @Test
    @Timeout(90)
    void postDrainsAHundredMebibyteBodyAndAnswersLikeGet() throws Exception {
        byte[] data = randomBytes(20_000, 13);
        write("app.json", data);
        start(FileServerConfig.of(root));
        Resp get = get("/app.json");

        long size = 100 * MIB;
        Streamed post = stream(HttpMethod.POST, "/app.json?post=1", size, size);
        post.writer.done.get(60, TimeUnit.SECONDS);
        HttpResponse head = post.call.response().get(60, TimeUnit.SECONDS);
        byte[] body = post.body.done.get(30, TimeUnit.SECONDS);

        assertThat(head.status()).isEqualTo(get.status());
        for (CharSequence name : List.of(HttpHeaderNames.CONTENT_TYPE, HttpHeaderNames.CONTENT_LENGTH,
                HttpHeaderNames.ETAG, HttpHeaderNames.LAST_MODIFIED, HttpHeaderNames.ACCEPT_RANGES)) {
            assertThat(head.headers().get(name)).as(name.toString()).isEqualTo(get.header(name));
        }
        assertThat(body).isEqualTo(data);
        assertThat(post.call.stream().bytesSent()).isEqualTo(size);
        TunnelStream serverSide = serverStreams.get("/app.json?post=1").get(5, TimeUnit.SECONDS);
        assertThat(serverSide.bytesReceived()).as("the server read the whole body").isEqualTo(size);

        // A POST without a body is a GET too.
        Resp empty = send(HttpMethod.POST, "/app.json", null);
        assertThat(empty.status()).isEqualTo(HttpResponseStatus.OK);
        assertThat(empty.body()).isEqualTo(data);
    }

    @Test
    @Timeout(120)
    void putStoresAHundredMebibytesIntactThroughATemporaryFileRenamedWhenComplete() throws Exception {
        Files.createDirectory(root.resolve("uploads"));
        start(FileServerConfig.of(root).withAllowUploads(true));
        Path target = root.resolve("uploads/big.bin");

        long size = 100 * MIB;
        long half = 50 * MIB;
        Streamed put = stream(HttpMethod.PUT, "/uploads/big.bin", size, half);
        put.writer.paused.get(60, TimeUnit.SECONDS);
        // The client could queue 50 MiB only because the server granted window back, which it does
        // only for bytes already written to its temporary file: the upload is under way.
        assertThat(put.call.response()).isNotDone();
        assertThat(target).as("the target name while uploading").doesNotExist();
        List<Path> partial = uploadTemps(root.resolve("uploads"));
        assertThat(partial).as("the temporary file while uploading").hasSize(1);
        assertThat(Files.size(partial.get(0))).isPositive().isLessThanOrEqualTo(half);
        assertThat(partial.get(0).getFileName().toString()).startsWith(".");

        put.writer.resume(size);
        HttpResponse head = put.call.response().get(90, TimeUnit.SECONDS);
        put.body.done.get(10, TimeUnit.SECONDS);
        assertThat(head.status()).isEqualTo(HttpResponseStatus.CREATED);
        assertThat(target).exists();
        assertThat(Files.size(target)).isEqualTo(size);
        assertThat(sha256(target))
                .as(() -> "SHA-256 of the stored upload; first wrong byte at " + firstMismatch(target))
                .isEqualTo(put.writer.digest());
        assertThat(uploadTemps(root.resolve("uploads"))).as("temporary files left").isEmpty();
        // Served right away.
        Resp served = send(HttpMethod.HEAD, "/uploads/big.bin", null);
        assertThat(served.header(HttpHeaderNames.CONTENT_LENGTH)).isEqualTo(String.valueOf(size));

        // Replacing: 204, the new content, still no leftovers.
        byte[] replacement = randomBytes(300_000, 14);
        Resp replaced = send(HttpMethod.PUT, "/uploads/big.bin", replacement);
        assertThat(replaced.status()).isEqualTo(HttpResponseStatus.NO_CONTENT);
        assertThat(replaced.body()).isEmpty();
        assertThat(Files.readAllBytes(target)).isEqualTo(replacement);
        assertThat(uploadTemps(root.resolve("uploads"))).isEmpty();

        // A new small file at the root, and an empty one.
        Resp created = send(HttpMethod.PUT, "/note.txt", "note".getBytes(UTF_8));
        assertThat(created.status()).isEqualTo(HttpResponseStatus.CREATED);
        assertThat(Files.readString(root.resolve("note.txt"))).isEqualTo("note");
        Resp emptyPut = send(HttpMethod.PUT, "/empty.txt", null);
        assertThat(emptyPut.status()).isEqualTo(HttpResponseStatus.CREATED);
        assertThat(root.resolve("empty.txt")).exists().isEmptyFile();
        assertThat(uploadTemps(root)).isEmpty();
    }

    /**
     * Several uploads at once on one connection, a few rounds: each body is read on the handler's
     * I/O threads while the event loop keeps decoding the others, the case where a chunk shared
     * with the decoder's buffer must not be touched off the loop.
     */
    @Test
    @Timeout(120)
    void concurrentUploadsAllLandIntact() throws Exception {
        start(FileServerConfig.of(root).withAllowUploads(true));
        long size = 16 * MIB;
        List<String> corrupted = new ArrayList<>();
        for (int round = 0; round < 4; round++) {
            Map<String, Streamed> puts = new LinkedHashMap<>();
            for (int i = 0; i < 4; i++) {
                String name = "upload-" + round + "-" + i + ".bin";
                puts.put(name, stream(HttpMethod.PUT, "/" + name, size, size));
            }
            for (Map.Entry<String, Streamed> e : puts.entrySet()) {
                String name = e.getKey();
                Streamed put = e.getValue();
                HttpResponse head;
                try {
                    head = put.call.response().get(60, TimeUnit.SECONDS);
                } catch (TimeoutException stalled) {
                    TunnelStream serverSide = serverStreams.get("/" + name).getNow(null);
                    throw new AssertionError(name + ": no answer within 60 s; the client sent "
                            + put.call.stream().bytesSent() + " of " + size + " bytes, the server stream received "
                            + (serverSide == null ? "?" : serverSide.bytesReceived()), stalled);
                }
                put.body.done.get(10, TimeUnit.SECONDS);
                assertThat(head.status()).as(name).isEqualTo(HttpResponseStatus.CREATED);
                Path stored = root.resolve(name);
                assertThat(Files.size(stored)).as(name).isEqualTo(size);
                if (!sha256(stored).equals(put.writer.digest())) {
                    corrupted.add(name + ": first wrong byte at " + firstMismatch(stored));
                }
            }
        }
        assertThat(corrupted).as("uploads stored with other bytes than were sent").isEmpty();
    }

    @Test
    void aReplacingPutAnswers204WithoutContentLengthOrBody() throws Exception {
        write("doc.txt", "old".getBytes(UTF_8));
        start(FileServerConfig.of(root).withAllowUploads(true));

        Resp replaced = send(HttpMethod.PUT, "/doc.txt", "new".getBytes(UTF_8));
        assertThat(replaced.status()).isEqualTo(HttpResponseStatus.NO_CONTENT);
        assertThat(replaced.body()).isEmpty();
        // RFC 9110 section 8.6: "A server MUST NOT send a Content-Length header field in any
        // response with a status code of 1xx (Informational) or 204 (No Content)."
        assertThat(replaced.header(HttpHeaderNames.CONTENT_LENGTH)).isNull();
        assertThat(Files.readString(root.resolve("doc.txt"))).isEqualTo("new");
    }

    @Test
    void uploadsKeepTheModeOfTheFileTheyReplaceAndNewFilesGetTheUsualOne() throws Exception {
        Assumptions.assumeTrue(root.getFileSystem().supportedFileAttributeViews().contains("posix"),
                "POSIX file modes");
        Map<String, String> modes = Map.of("script.sh", "rwxr-x---", "private.txt", "rw-------",
                "shared.txt", "rw-rw-r--", "readonly.txt", "r--r--r--");
        for (Map.Entry<String, String> m : modes.entrySet()) {
            Files.setPosixFilePermissions(write(m.getKey(), "old".getBytes(UTF_8)),
                    PosixFilePermissions.fromString(m.getValue()));
        }
        start(FileServerConfig.of(root).withAllowUploads(true));

        for (Map.Entry<String, String> m : modes.entrySet()) {
            Resp r = send(HttpMethod.PUT, "/" + m.getKey(), "new".getBytes(UTF_8));
            assertThat(r.status()).as(m.getKey()).isEqualTo(HttpResponseStatus.NO_CONTENT);
            Path file = root.resolve(m.getKey());
            assertThat(Files.readString(file)).isEqualTo("new");
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file))).as(m.getKey())
                    .isEqualTo(m.getValue());
        }

        // A new file: 0644 less what the umask takes away, as a file created any other way.
        Set<PosixFilePermission> usual = Files.getPosixFilePermissions(Files.createFile(tmp.resolve("probe")));
        usual.retainAll(PosixFilePermissions.fromString("rw-r--r--"));
        assertThat(send(HttpMethod.PUT, "/fresh.txt", "fresh".getBytes(UTF_8)).status())
                .isEqualTo(HttpResponseStatus.CREATED);
        assertThat(Files.getPosixFilePermissions(root.resolve("fresh.txt"))).isEqualTo(usual)
                .contains(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE);
        assertThat(uploadTemps(root)).isEmpty();
    }

    @Test
    void putOutsideTheRootOrIntoAMissingDirectoryIsRefused() throws Exception {
        Files.writeString(outside.resolve("secret.txt"), SECRET);
        Files.createSymbolicLink(root.resolve("leakdir"), outside);
        Files.createSymbolicLink(root.resolve("leak.txt"), outside.resolve("secret.txt"));
        Files.createDirectory(root.resolve("dir"));
        start(FileServerConfig.of(root).withAllowUploads(true));

        byte[] evil = "EVIL".getBytes(UTF_8);
        SoftAssertions soft = new SoftAssertions();
        for (String uri : List.of("/../evil.txt", "/../outside/evil.txt", "/%2e%2e/evil.txt",
                "/dir/../../evil.txt", "/..%5cevil.txt", "/%c0%ae%c0%ae/evil.txt", "/evil%00.txt",
                "/leakdir/evil.txt", "/leakdir/secret.txt", "/leak.txt", "/missing/evil.txt",
                "/dir/missing/evil.txt", "/", "/dir/", "/dir", "/.evil")) {
            Resp r = send(HttpMethod.PUT, uri, evil);
            soft.assertThat(r.status().code()).as("PUT %s", uri).isBetween(400, 499);
        }
        soft.assertAll();
        assertThat(tmp.resolve("evil.txt")).doesNotExist();
        assertThat(outside.resolve("evil.txt")).doesNotExist();
        assertThat(Files.readString(outside.resolve("secret.txt"))).isEqualTo(SECRET);
        assertThat(root.resolve("missing")).doesNotExist();
        assertThat(root.resolve(".evil")).doesNotExist();
        assertThat(Files.isDirectory(root.resolve("dir"))).isTrue();
        try (var listing = Files.list(root.resolve("dir"))) {
            assertThat(listing).isEmpty();
        }
        assertThat(uploadTemps(root)).isEmpty();
        assertThat(uploadTemps(outside)).isEmpty();
    }

    // ------------------------------------------------------------------------------------------
    // Big files

    @Test
    @Timeout(90)
    void aLargeFileStreamsToASlowReaderWithBoundedMemory() throws Exception {
        Path big = root.resolve("big.mkv");
        long size = LARGE;
        long[] markerAt = {0, 64 * KIB - 4, MIB + 3, size / 2 - 5, size - 8};
        byte[] marker = "MARKER!!".getBytes(UTF_8);
        try (RandomAccessFile f = new RandomAccessFile(big.toFile(), "rw")) {
            f.setLength(size);
            for (long at : markerAt) {
                f.seek(at);
                f.write(marker);
            }
        }
        FileServerConfig config = FileServerConfig.of(root);
        start(config);

        HttpRequest req = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/big.mkv");
        req.headers().set(HttpHeaderNames.HOST, "localhost");
        LateCall grant = new LateCall();
        // Slower than the server manages over loopback TLS (under paranoid leak detection), yet
        // 256 MiB in about 5 s.
        PacedReader reader = new PacedReader(grant, 48 * MIB, markerAt, marker);
        synchronized (cleanups) {
            cleanups.add(reader);
        }
        long t0 = System.nanoTime();
        HttpCall call = SpdyClient.send(client, req, "https", 3, false, (HttpCall c) -> {
            grant.attach(c);
            c.onBody(reader);
            c.onClose(cause -> {
                if (cause != null) {
                    reader.done.completeExceptionally(cause);
                }
            });
        }).get(10, TimeUnit.SECONDS);
        HttpResponse head = call.response().get(10, TimeUnit.SECONDS);
        assertThat(head.status()).isEqualTo(HttpResponseStatus.OK);
        assertThat(head.headers().get(HttpHeaderNames.CONTENT_LENGTH)).isEqualTo(String.valueOf(size));

        long total = reader.done.get(75, TimeUnit.SECONDS);
        double secs = (System.nanoTime() - t0) / 1e9;
        TunnelStream sent = serverStreams.get("/big.mkv").get(5, TimeUnit.SECONDS);
        long maxUnconsumed;
        synchronized (reader) {
            maxUnconsumed = reader.maxUnconsumed;
        }
        System.out.printf("%d MiB file to a slow reader: %.1f s, server maxQueuedBytes %d,"
                + " client max unconsumed %d%n", size / MIB, secs, sent.maxQueuedBytes(), maxUnconsumed);

        assertThat(reader.wrong).as("marker mismatches").isEmpty();
        assertThat(reader.markersSeen).isEqualTo(markerAt.length * marker.length);
        assertThat(total).isEqualTo(size);
        assertThat(sent.bytesSent()).isEqualTo(size);
        // The reader keeps up in bursts, so its window may grow: the bound is the most it grows to.
        assertThat(maxUnconsumed).as("the client never holds more than its window")
                .isLessThanOrEqualTo(clientConfig.maxStreamWindow());
        assertThat(sent.maxQueuedBytes())
                .as("bytes the server stream held for sending")
                .isPositive()
                .isLessThanOrEqualTo(clientConfig.maxStreamWindow() + (long) config.chunkSize());
    }

    // ------------------------------------------------------------------------------------------
    // Real media files

    @Test
    void sharedTestMediaIsServedByteIdenticalWithItsType() throws Exception {
        Assumptions.assumeTrue(Files.isDirectory(TESTDATA), TESTDATA + " is not there");
        start(FileServerConfig.of(TESTDATA));
        Map<String, String> types = new LinkedHashMap<>();
        types.put("audio.mp3", "audio/mpeg");
        types.put("image.jpg", "image/jpeg");
        types.put("sample.avi", "video/x-msvideo");
        types.put("sample.mkv", "video/x-matroska");
        types.put("sample.mp4", "video/mp4");
        for (Map.Entry<String, String> e : types.entrySet()) {
            Path file = TESTDATA.resolve(e.getKey());
            Assumptions.assumeTrue(Files.isRegularFile(file), file + " is not there");
            Resp r = get("/" + e.getKey());
            assertThat(r.status()).as(e.getKey()).isEqualTo(HttpResponseStatus.OK);
            assertThat(mediaType(r.header(HttpHeaderNames.CONTENT_TYPE))).as(e.getKey()).isEqualTo(e.getValue());
            assertThat(r.header(HttpHeaderNames.CONTENT_LENGTH)).as(e.getKey())
                    .isEqualTo(String.valueOf(Files.size(file)));
            assertThat(r.body()).as(e.getKey()).isEqualTo(Files.readAllBytes(file));
        }

        Resp range = get("/sample.avi", "Range", "bytes=512-2047");
        assertThat(range.status()).isEqualTo(HttpResponseStatus.PARTIAL_CONTENT);
        assertThat(range.header(HttpHeaderNames.CONTENT_RANGE)).isEqualTo("bytes 512-2047/4092532");
        assertThat(range.header(HttpHeaderNames.CONTENT_LENGTH)).isEqualTo("1536");
        assertThat(range.body()).isEqualTo(
                Arrays.copyOfRange(Files.readAllBytes(TESTDATA.resolve("sample.avi")), 512, 2048));
    }

    // ------------------------------------------------------------------------------------------
    // Server and client

    private void start(FileServerConfig config) throws Exception {
        handler = new StaticFileHandler(config);
        StaticFileHandler h = handler;
        server = SpdyServer.start(new InetSocketAddress("127.0.0.1", 0),
                TlsContexts.server(TestCerts.LOCALHOST, ALPN), serverConfig, SpdyTunnelSession.listener(ex -> {
                    serverStreams.computeIfAbsent(ex.request().uri(), k -> new CompletableFuture<>())
                            .complete(ex.stream());
                    h.onRequest(ex);
                }), serverLoops);
        client = SpdyClient.connect(clientLoops, new InetSocketAddress("127.0.0.1", server.port()),
                TlsContexts.client(TestCerts.LOCALHOST.certificate(), ALPN), clientConfig,
                SpdySessionListener.refusingStreams()).get(10, TimeUnit.SECONDS);
    }

    private void restart(FileServerConfig config) throws Exception {
        stopServer();
        serverStreams.clear();
        start(config);
    }

    private void stopServer() throws Exception {
        try {
            if (client != null) {
                client.close().get(10, TimeUnit.SECONDS);
            }
        } finally {
            client = null;
            try {
                if (server != null) {
                    server.close();
                }
            } finally {
                server = null;
                if (handler != null) {
                    handler.close();
                }
                handler = null;
            }
        }
    }

    /** A response copied out of its buffers (which are released). */
    record Resp(HttpResponseStatus status, HttpHeaders headers, byte[] body) {
        String header(CharSequence name) {
            return headers.get(name);
        }

        String text() {
            return new String(body, UTF_8);
        }
    }

    private Resp get(String uri, String... headers) throws Exception {
        return send(HttpMethod.GET, uri, null, headers);
    }

    private Resp send(HttpMethod method, String uri, byte[] body, String... headers) throws Exception {
        ByteBuf content = body == null ? Unpooled.EMPTY_BUFFER : Unpooled.wrappedBuffer(body);
        // Unvalidated, so that a :path can be sent the way the original proxy sends it (decoded).
        DefaultFullHttpRequest req = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, method, onTheWire(uri), content,
                new DefaultHttpHeaders(), new DefaultHttpHeaders(), false);
        req.headers().set(HttpHeaderNames.HOST, "localhost");
        for (int i = 0; i < headers.length; i += 2) {
            req.headers().add(headers[i], headers[i + 1]);
        }
        FullHttpResponse res = SpdyClient.fetch(client, req, "https", MAX_FETCH).get(30, TimeUnit.SECONDS);
        try {
            HttpHeaders copy = new DefaultHttpHeaders();
            copy.set(res.headers());
            return new Resp(res.status(), copy, ByteBufUtil.getBytes(res.content()));
        } finally {
            res.release();
        }
    }

    /**
     * {@code s} spelled so that its UTF-8 bytes reach the wire: Netty's SPDY header encoder writes
     * each char as one byte (and its decoder reads values as UTF-8), as the original proxy's raw
     * UTF-8 path arrives.
     */
    static String onTheWire(String s) {
        return new String(s.getBytes(UTF_8), ISO_8859_1);
    }

    /** A request whose body streams from the client under flow control, and its response. */
    record Streamed(HttpCall call, BodyWriter writer, Collector body) {}

    private Streamed stream(HttpMethod method, String uri, long size, long pauseAt) throws Exception {
        HttpRequest req = new DefaultHttpRequest(HttpVersion.HTTP_1_1, method, uri);
        req.headers().set(HttpHeaderNames.HOST, "localhost");
        req.headers().set(HttpHeaderNames.CONTENT_LENGTH, size);
        LateCall grant = new LateCall();
        Collector body = new Collector(grant);
        HttpCall call = SpdyClient.send(client, req, "https", 3, true, (HttpCall c) -> {
            grant.attach(c);
            c.onBody(body);
            c.onClose(cause -> {
                if (cause != null) {
                    body.done.completeExceptionally(cause);
                }
            });
        }).get(10, TimeUnit.SECONDS);
        BodyWriter writer = new BodyWriter(call, client.channel().eventLoop(), size, pauseAt);
        writer.start();
        return new Streamed(call, writer, body);
    }

    private void assertPartial(Resp r, byte[] data, int first, int last) {
        String what = r.header(HttpHeaderNames.CONTENT_RANGE);
        assertThat(r.status()).as("status for %d-%d", first, last).isEqualTo(HttpResponseStatus.PARTIAL_CONTENT);
        assertThat(what).isEqualTo("bytes " + first + "-" + last + "/" + data.length);
        assertThat(r.header(HttpHeaderNames.CONTENT_LENGTH)).isEqualTo(String.valueOf(last - first + 1));
        assertThat(r.header(HttpHeaderNames.ACCEPT_RANGES)).isEqualTo("bytes");
        assertThat(r.header(HttpHeaderNames.ETAG)).isNotNull();
        assertThat(r.body()).as(what).isEqualTo(Arrays.copyOfRange(data, first, last + 1));
    }

    // ------------------------------------------------------------------------------------------
    // Files

    private Path write(String relative, byte[] data) throws IOException {
        Path p = root.resolve(relative);
        Files.write(p, data);
        Files.setLastModifiedTime(p, FileTime.from(MTIME));
        return p;
    }

    private static byte[] randomBytes(int n, long seed) {
        byte[] b = new byte[n];
        SplittableRandom r = new SplittableRandom(seed);
        for (int i = 0; i < n; i++) {
            b[i] = (byte) r.nextInt(256);
        }
        return b;
    }

    private static List<Path> uploadTemps(Path dir) throws IOException {
        List<Path> found = new ArrayList<>();
        try (DirectoryStream<Path> s = Files.newDirectoryStream(dir, ".upload-*.part")) {
            s.forEach(found::add);
        }
        return found;
    }

    private static String sha256(Path file) throws Exception {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        byte[] buf = new byte[1 << 20];
        try (InputStream in = Files.newInputStream(file)) {
            int n;
            while ((n = in.read(buf)) > 0) {
                md.update(buf, 0, n);
            }
        }
        return HexFormat.of().formatHex(md.digest());
    }

    /** The first offset where {@code file} differs from the request body pattern, or -1. */
    private static long firstMismatch(Path file) {
        byte[] buf = new byte[1 << 20];
        long offset = 0;
        try (InputStream in = Files.newInputStream(file)) {
            int n;
            while ((n = in.readNBytes(buf, 0, buf.length)) > 0) {
                for (int i = 0; i < n; i++) {
                    if (buf[i] != PATTERN[(int) ((offset + i) % P)]) {
                        return offset + i;
                    }
                }
                offset += n;
            }
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        return -1;
    }

    // ------------------------------------------------------------------------------------------
    // Parsing what came back

    private static String mediaType(String contentType) {
        if (contentType == null) {
            return null;
        }
        int semi = contentType.indexOf(';');
        return (semi < 0 ? contentType : contentType.substring(0, semi)).trim().toLowerCase(Locale.ROOT);
    }

    private static List<String> allow(Resp r) {
        String allow = r.header(HttpHeaderNames.ALLOW);
        assertThat(allow).as("Allow header").isNotNull();
        List<String> methods = new ArrayList<>();
        for (String m : allow.split(",")) {
            methods.add(m.trim());
        }
        return methods;
    }

    /** The href values of a listing, in page order. */
    private static List<String> hrefs(String html) {
        List<String> out = new ArrayList<>();
        int i = 0;
        while ((i = html.indexOf("href=\"", i)) >= 0) {
            int end = html.indexOf('"', i + 6);
            out.add(html.substring(i + 6, end));
            i = end;
        }
        return out;
    }

    /** The table row holding the link {@code href}. */
    private static String row(String html, String href) {
        int at = html.indexOf("href=\"" + href + "\"");
        assertThat(at).as("link %s", href).isNotNegative();
        int start = html.lastIndexOf("<tr", at);
        int end = html.indexOf("</tr>", at);
        return html.substring(start, end);
    }

    private static String boundaryOf(String contentType) {
        for (String param : contentType.split(";")) {
            String p = param.trim();
            if (p.regionMatches(true, 0, "boundary=", 0, 9)) {
                String b = p.substring(9);
                return b.startsWith("\"") ? b.substring(1, b.length() - 1) : b;
            }
        }
        throw new AssertionError("no boundary in " + contentType);
    }

    record Part(Map<String, String> headers, byte[] body) {}

    /** RFC 2046 multipart: optional preamble, delimiters "--b", parts, close delimiter "--b--". */
    private static List<Part> parseMultipart(byte[] body, String boundary) {
        String s = new String(body, ISO_8859_1);
        String delimiter = "--" + boundary;
        int at = s.startsWith(delimiter) ? 0 : s.indexOf("\r\n" + delimiter);
        assertThat(at).as("first delimiter").isNotNegative();
        at = s.indexOf(delimiter, at) + delimiter.length();
        List<Part> parts = new ArrayList<>();
        while (true) {
            if (s.startsWith("--", at)) {
                break; // close delimiter
            }
            assertThat(s.startsWith("\r\n", at)).as("CRLF after a delimiter at %d", at).isTrue();
            int headersEnd = s.indexOf("\r\n\r\n", at);
            assertThat(headersEnd).as("end of part headers").isPositive();
            Map<String, String> headers = new LinkedHashMap<>();
            for (String line : s.substring(at + 2, headersEnd).split("\r\n")) {
                int colon = line.indexOf(':');
                headers.put(line.substring(0, colon).trim().toLowerCase(Locale.ROOT), line.substring(colon + 1).trim());
            }
            int dataStart = headersEnd + 4;
            int next = s.indexOf("\r\n" + delimiter, dataStart);
            assertThat(next).as("next delimiter").isNotNegative();
            parts.add(new Part(headers, Arrays.copyOfRange(body, dataStart, next)));
            at = next + 2 + delimiter.length();
        }
        return parts;
    }

    /** Just enough JSON for a listing: objects, arrays, strings, numbers, literals. */
    static final class Json {
        private final String s;
        private int i;

        Json(String s) {
            this.s = s;
        }

        Object parse() {
            Object v = value();
            ws();
            assertThat(i).as("trailing JSON").isEqualTo(s.length());
            return v;
        }

        private Object value() {
            ws();
            char c = s.charAt(i);
            if (c == '{') {
                Map<String, Object> m = new LinkedHashMap<>();
                i++;
                ws();
                if (s.charAt(i) == '}') {
                    i++;
                    return m;
                }
                while (true) {
                    ws();
                    String k = string();
                    ws();
                    expect(':');
                    m.put(k, value());
                    ws();
                    if (s.charAt(i) == ',') {
                        i++;
                        continue;
                    }
                    expect('}');
                    return m;
                }
            }
            if (c == '[') {
                List<Object> l = new ArrayList<>();
                i++;
                ws();
                if (s.charAt(i) == ']') {
                    i++;
                    return l;
                }
                while (true) {
                    l.add(value());
                    ws();
                    if (s.charAt(i) == ',') {
                        i++;
                        continue;
                    }
                    expect(']');
                    return l;
                }
            }
            if (c == '"') {
                return string();
            }
            for (String lit : List.of("true", "false", "null")) {
                if (s.startsWith(lit, i)) {
                    i += lit.length();
                    return lit.equals("null") ? null : Boolean.valueOf(lit);
                }
            }
            int start = i;
            while (i < s.length() && "+-0123456789.eE".indexOf(s.charAt(i)) >= 0) {
                i++;
            }
            assertThat(i).as("a JSON value at %d", start).isGreaterThan(start);
            return Double.parseDouble(s.substring(start, i));
        }

        private String string() {
            expect('"');
            StringBuilder b = new StringBuilder();
            while (true) {
                char c = s.charAt(i++);
                if (c == '"') {
                    return b.toString();
                }
                if (c != '\\') {
                    assertThat((int) c).as("control character in a JSON string").isGreaterThanOrEqualTo(0x20);
                    b.append(c);
                    continue;
                }
                char e = s.charAt(i++);
                switch (e) {
                    case 'n' -> b.append('\n');
                    case 'r' -> b.append('\r');
                    case 't' -> b.append('\t');
                    case 'b' -> b.append('\b');
                    case 'f' -> b.append('\f');
                    case 'u' -> {
                        b.append((char) Integer.parseInt(s.substring(i, i + 4), 16));
                        i += 4;
                    }
                    default -> b.append(e);
                }
            }
        }

        private void ws() {
            while (i < s.length() && Character.isWhitespace(s.charAt(i))) {
                i++;
            }
        }

        private void expect(char c) {
            assertThat(s.charAt(i)).as("JSON at %d", i).isEqualTo(c);
            i++;
        }
    }

    // ------------------------------------------------------------------------------------------
    // Client-side body helpers

    /**
     * Grants window through the {@link HttpCall} it is attached to (before the stream opens, from
     * the send setup callback); grants made before then, if any, are owed.
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
            if (n <= 0) {
                return;
            }
            if (call == null) {
                owed += n;
            } else {
                call.consume(n);
            }
        }
    }

    /** Collects a small response body, releasing and consuming each chunk at once. */
    static final class Collector implements BodyListener {
        final CompletableFuture<byte[]> done = new CompletableFuture<>();
        private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        private final IntConsumer grant;

        Collector(IntConsumer grant) {
            this.grant = grant;
        }

        @Override
        public void onChunk(ByteBuf chunk, boolean last) {
            int n = chunk.readableBytes();
            try {
                if (n > 0) {
                    byte[] b = new byte[n];
                    chunk.readBytes(b);
                    bytes.write(b, 0, n);
                }
            } finally {
                chunk.release();
            }
            grant.accept(n);
            if (last) {
                done.complete(bytes.toByteArray());
            }
        }
    }

    /**
     * Writes a pattern body through a call on the session's loop, a chunk at a time while the
     * stream is writable, resuming on {@link HttpCall#onWritable}; stops at {@code pauseAt} until
     * {@link #resume}. Keeps a SHA-256 of what it wrote.
     */
    static final class BodyWriter {
        final CompletableFuture<Void> paused = new CompletableFuture<>();
        final CompletableFuture<Void> done = new CompletableFuture<>();
        private final HttpCall call;
        private final EventLoop loop;
        private final long size;
        private final MessageDigest md;
        private long pauseAt;
        private long offset;

        BodyWriter(HttpCall call, EventLoop loop, long size, long pauseAt) throws Exception {
            this.call = call;
            this.loop = loop;
            this.size = size;
            this.pauseAt = pauseAt;
            this.md = MessageDigest.getInstance("SHA-256");
        }

        void start() {
            call.onWritable(this::produce);
            loop.execute(this::produce);
        }

        void resume(long until) {
            loop.execute(() -> {
                pauseAt = until;
                produce();
            });
        }

        String digest() throws Exception {
            return loop.submit(() -> HexFormat.of().formatHex(md.digest())).get(5, TimeUnit.SECONDS);
        }

        private void produce() {
            while (offset < pauseAt && call.isWritable() && !call.stream().isClosed()) {
                int n = (int) Math.min(BODY_CHUNK, pauseAt - offset);
                int phase = (int) (offset % P);
                ByteBuf chunk = call.stream().session().channel().alloc().buffer(n);
                chunk.writeBytes(PATTERN, phase, n);
                md.update(PATTERN, phase, n);
                offset += n;
                call.write(chunk, offset == size);
            }
            if (offset == size) {
                done.complete(null);
            } else if (offset == pauseAt) {
                paused.complete(null);
            }
        }
    }

    /**
     * A reader slower than the network: chunks wait in a queue (checked for the file's markers on
     * arrival) and a token bucket on the pacer thread releases and consumes them at {@code rate}
     * bytes per second. {@link #done} completes with the bytes consumed once the last one was.
     */
    final class PacedReader implements BodyListener, AutoCloseable {
        final CompletableFuture<Long> done = new CompletableFuture<>();
        final List<String> wrong = new ArrayList<>();
        int markersSeen;
        /** Bytes received and not yet consumed, and the most there ever were. */
        long unconsumed;
        long maxUnconsumed;
        private final IntConsumer grant;
        private final long rate;
        private final long[] markerAt;
        private final byte[] marker;
        private final ArrayDeque<ByteBuf> queue = new ArrayDeque<>();
        private final java.util.concurrent.ScheduledFuture<?> ticker;
        private long offset;
        private long consumed;
        private boolean lastArrived;
        private boolean closed;
        private long tokens;
        private long lastTick = System.nanoTime();

        PacedReader(IntConsumer grant, long rate, long[] markerAt, byte[] marker) {
            this.grant = grant;
            this.rate = rate;
            this.markerAt = markerAt;
            this.marker = marker;
            this.ticker = pacer.scheduleAtFixedRate(this::tick, 1, 1, TimeUnit.MILLISECONDS);
        }

        @Override
        public void onChunk(ByteBuf chunk, boolean last) {
            int n = chunk.readableBytes();
            for (long at : markerAt) {
                for (int k = 0; k < marker.length; k++) {
                    long pos = at + k;
                    if (pos >= offset && pos < offset + n) {
                        byte b = chunk.getByte(chunk.readerIndex() + (int) (pos - offset));
                        synchronized (this) {
                            markersSeen++;
                            if (b != marker[k]) {
                                wrong.add("byte " + pos + " is " + b + ", expected " + marker[k]);
                            }
                        }
                    }
                }
            }
            offset += n;
            synchronized (this) {
                if (closed) {
                    chunk.release();
                    return;
                }
                queue.add(chunk);
                lastArrived |= last;
                unconsumed += n;
                maxUnconsumed = Math.max(maxUnconsumed, unconsumed);
            }
        }

        private void tick() {
            List<Integer> grants = new ArrayList<>();
            boolean finished = false;
            long total;
            synchronized (this) {
                long now = System.nanoTime();
                tokens = Math.min(256 * KIB, tokens + (now - lastTick) * rate / 1_000_000_000L);
                lastTick = now;
                while (tokens > 0 && !queue.isEmpty()) {
                    ByteBuf c = queue.poll();
                    int n = c.readableBytes();
                    c.release();
                    tokens -= n;
                    consumed += n;
                    unconsumed -= n;
                    grants.add(n);
                }
                if (lastArrived && queue.isEmpty() && !closed) {
                    finished = true;
                }
                total = consumed;
            }
            for (int n : grants) {
                grant.accept(n);
            }
            if (finished) {
                ticker.cancel(false);
                done.complete(total);
            }
        }

        @Override
        public void close() {
            ticker.cancel(false);
            synchronized (this) {
                closed = true;
                ByteBuf c;
                while ((c = queue.poll()) != null) {
                    c.release();
                }
            }
        }
    }
}
