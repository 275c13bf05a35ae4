package io.spdyproxy.origin.files;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.DateFormatter;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.spdyproxy.tunnel.BodyListener;
import io.spdyproxy.tunnel.TunnelExchange;
import io.spdyproxy.tunnel.RequestHandler;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Date;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A static file server for SPDY streams, for media players as much as browsers: GET and HEAD with
 * validators, conditional requests, byte ranges (single, suffix, open-ended and multipart),
 * directory listings (HTML or JSON), POST answered like GET after its body is drained (what the
 * original's clients relied on), and PUT uploads behind a flag.
 *
 * <p>Threading: {@link #onRequest} runs on a session's event loop and registers body listeners
 * there; every file system call runs on this handler's I/O executor.
 */
public final class StaticFileHandler implements RequestHandler, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(StaticFileHandler.class);
    private static final String TEXT = "text/plain; charset=utf-8";
    private static volatile CachedDate cachedDate = new CachedDate(-1, "");
    private static final String ALLOW_READ = "GET, HEAD, POST";
    private static final String ALLOW_WRITE = "GET, HEAD, POST, PUT";

    private final FileServerConfig config;
    private final Path realRoot;
    private final ExecutorService io;
    private final SecureRandom random = new SecureRandom();
    private final FileCache cache;

    public StaticFileHandler(FileServerConfig config) throws IOException {
        this.config = config;
        this.realRoot = config.root().toRealPath();
        if (!Files.isDirectory(realRoot)) {
            throw new IOException("root: " + config.root() + " (expected: a directory)");
        }
        this.io = Executors.newFixedThreadPool(config.ioThreads(), new DefaultThreadFactory("file-io", true));
        this.cache = config.cacheValidity().isZero() ? null
                : new FileCache(config.cacheValidity().toNanos(), config.cacheBytes(), config.chunkSize());
    }

    public Path root() {
        return realRoot;
    }

    @Override
    public void onRequest(TunnelExchange ex) {
        HttpMethod method = ex.request().method();
        if (method.equals(HttpMethod.GET) || method.equals(HttpMethod.HEAD)) {
            boolean headOnly = method.equals(HttpMethod.HEAD);
            if (!serveCached(ex, headOnly)) {
                io.execute(() -> serve(ex, headOnly));
            }
        } else if (method.equals(HttpMethod.POST)) {
            if (!ex.requestHasBody()) {
                io.execute(() -> serve(ex, false));
                return;
            }
            // Drain the body as it streams (never held whole), then answer as GET would.
            ex.onBody(new BodyListener() {
                @Override
                public void onChunk(ByteBuf chunk, boolean last) {
                    int n = chunk.readableBytes();
                    chunk.release();
                    ex.consume(n);
                    if (last) {
                        io.execute(() -> serve(ex, false));
                    }
                }
            });
        } else if (method.equals(HttpMethod.PUT) && config.allowUploads()) {
            startUpload(ex);
        } else {
            HttpResponse r = response(HttpResponseStatus.METHOD_NOT_ALLOWED);
            r.headers().set(HttpHeaderNames.ALLOW, config.allowUploads() ? ALLOW_WRITE : ALLOW_READ);
            sendText(ex, r, "method not allowed\n");
        }
    }

    /** Answers from the cache, on the event loop, when it holds a valid copy of the file. */
    private boolean serveCached(TunnelExchange ex, boolean headOnly) {
        if (cache == null) {
            return false;
        }
        String key;
        try {
            key = cacheKey(RequestPaths.decode(ex.request().uri()));
        } catch (RequestPaths.BadPath e) {
            return false; // the I/O path answers it
        }
        FileCache.Entry e = cache.get(key);
        if (e == null) {
            return false;
        }
        try {
            serveFile(ex, e.real(), e.size(), e.validators(), e.content(), headOnly);
        } catch (IOException | RuntimeException x) { // memory only: not expected
            log.warn("serving {} from memory failed: {}", ex.request().uri(), x.toString());
            error(ex, HttpResponseStatus.INTERNAL_SERVER_ERROR, "internal error");
        }
        return true;
    }

    /** One key per file however its path is spelled ({@code //a/./b} is {@code /a/b}). */
    private static String cacheKey(RequestPaths.Decoded d) {
        return "/" + String.join("/", d.segments()) + (d.directoryForm() && !d.segments().isEmpty() ? "/" : "");
    }

    private void serve(TunnelExchange ex, boolean headOnly) {
        // Taken before the file is looked at: an upload finishing meanwhile keeps what this
        // request reads out of the cache.
        long generation = cache == null ? 0 : cache.generation();
        try {
            RequestPaths.Decoded d = RequestPaths.decode(ex.request().uri());
            if (!config.showHidden() && hasHidden(d.segments())) {
                error(ex, HttpResponseStatus.NOT_FOUND, "not found");
                return;
            }
            Path path = realRoot;
            for (String seg : d.segments()) {
                path = path.resolve(seg);
            }
            Path real;
            try {
                real = path.toRealPath();
            } catch (NoSuchFileException e) {
                error(ex, HttpResponseStatus.NOT_FOUND, "not found");
                return;
            }
            if (!real.startsWith(realRoot)) {
                error(ex, HttpResponseStatus.FORBIDDEN, "forbidden");
                return;
            }
            BasicFileAttributes attrs = Files.readAttributes(real, BasicFileAttributes.class);
            if (attrs.isDirectory()) {
                if (!d.directoryForm()) {
                    redirectToSlash(ex);
                    return;
                }
                Path index = real.resolve("index.html");
                if (Files.isRegularFile(index, LinkOption.NOFOLLOW_LINKS)) {
                    serveFile(ex, null, generation, index, Files.readAttributes(index, BasicFileAttributes.class),
                            headOnly);
                } else {
                    list(ex, d.path(), real, headOnly);
                }
            } else if (attrs.isRegularFile()) {
                serveFile(ex, cacheKey(d), generation, real, attrs, headOnly);
            } else {
                error(ex, HttpResponseStatus.FORBIDDEN, "not a regular file");
            }
        } catch (RequestPaths.BadPath e) {
            error(ex, HttpResponseStatus.valueOf(e.status), e.getMessage());
        } catch (IOException | RuntimeException e) {
            log.warn("serving {} failed: {}", ex.request().uri(), e.toString());
            error(ex, HttpResponseStatus.INTERNAL_SERVER_ERROR, "internal error");
        }
    }

    /**
     * Serves a regular file found on disk (on the I/O executor). A small one is read whole and,
     * when {@code cacheKey} is given, kept in the cache for the next requests.
     */
    private void serveFile(TunnelExchange ex, String cacheKey, long generation, Path file, BasicFileAttributes attrs,
            boolean headOnly) throws IOException {
        long size = attrs.size();
        long modified = attrs.lastModifiedTime().toMillis();
        for (int attempt = 0; cacheKey != null && cache != null && cache.fits(size) && attempt < 3; attempt++) {
            FileCache.Entry e = cache.revalidate(cacheKey, file, size, modified);
            if (e != null) {
                serveFile(ex, file, size, e.validators(), e.content(), headOnly);
                return;
            }
            ByteBuf content = readWhole(file, size);
            // The file may have been replaced while it was read: only bytes that match the
            // validators checked before and after go out (and into the cache).
            BasicFileAttributes after = Files.readAttributes(file, BasicFileAttributes.class);
            if (content != null && after.size() == size && after.lastModifiedTime().toMillis() == modified) {
                e = cache.put(cacheKey, file, size, modified, content, generation);
                serveFile(ex, file, size, e.validators(), e.content(), headOnly);
                return;
            }
            if (content != null) {
                content.release();
            }
            size = after.size();
            modified = after.lastModifiedTime().toMillis();
        }
        serveFile(ex, file, size, Preconditions.Validators.of(size, modified), null, headOnly);
    }

    /** The whole file if it still has {@code size} bytes, else null (it changed meanwhile). */
    private static ByteBuf readWhole(Path file, long size) throws IOException {
        ByteBuf content = Unpooled.directBuffer((int) size);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            while (content.isWritable()) {
                if (content.writeBytes(ch, content.readableBytes(), content.writableBytes()) < 0) {
                    content.release();
                    return null; // shorter than it was
                }
            }
            return content;
        } catch (IOException | RuntimeException e) {
            if (content.refCnt() > 0) {
                content.release();
            }
            throw e;
        }
    }

    /**
     * Answers for one regular file: from {@code content} when given (its whole bytes, a reference
     * this method releases), else read from {@code file} as the stream can take it.
     */
    private void serveFile(TunnelExchange ex, Path file, long size, Preconditions.Validators v, ByteBuf content,
            boolean headOnly) throws IOException {
        try {
            serveFile0(ex, file, size, v, content, headOnly);
        } finally {
            if (content != null) {
                content.release();
            }
        }
    }

    private void serveFile0(TunnelExchange ex, Path file, long size, Preconditions.Validators v, ByteBuf content,
            boolean headOnly) throws IOException {
        HttpHeaders req = ex.request().headers();
        switch (Preconditions.evaluate(req, v, true)) {
            case NOT_MODIFIED -> {
                HttpResponse r = response(HttpResponseStatus.NOT_MODIFIED);
                validators(r, v);
                ex.respond(r, true);
                return;
            }
            case PRECONDITION_FAILED -> {
                error(ex, HttpResponseStatus.PRECONDITION_FAILED, "precondition failed");
                return;
            }
            case PROCEED -> { }
        }
        String type = MimeTypes.forName(file.getFileName().toString());
        ByteRanges.Result ranges = Preconditions.rangeApplies(req, v)
                ? ByteRanges.parse(req.get(HttpHeaderNames.RANGE), size) : new ByteRanges.Ignore();
        if (ranges instanceof ByteRanges.Unsatisfiable) {
            HttpResponse r = response(HttpResponseStatus.REQUESTED_RANGE_NOT_SATISFIABLE);
            r.headers().set(HttpHeaderNames.CONTENT_RANGE, "bytes */" + size);
            r.headers().set(HttpHeaderNames.ACCEPT_RANGES, "bytes");
            sendText(ex, r, "range not satisfiable\n");
            return;
        }
        HttpResponse r;
        List<FileBodyProducer.Part> parts = new ArrayList<>();
        long length;
        if (ranges instanceof ByteRanges.Satisfiable s && s.ranges().size() == 1) {
            ByteRanges.Range one = s.ranges().get(0);
            r = response(HttpResponseStatus.PARTIAL_CONTENT);
            r.headers().set(HttpHeaderNames.CONTENT_TYPE, type);
            r.headers().set(HttpHeaderNames.CONTENT_RANGE,
                    "bytes " + one.first() + "-" + one.last() + "/" + size);
            parts.add(part(content, one.first(), one.length()));
            length = one.length();
        } else if (ranges instanceof ByteRanges.Satisfiable s) {
            // RFC 9110 section 14.6: multipart/byteranges, each part with its own Content-Range.
            String boundary = newBoundary();
            r = response(HttpResponseStatus.PARTIAL_CONTENT);
            r.headers().set(HttpHeaderNames.CONTENT_TYPE, "multipart/byteranges; boundary=" + boundary);
            length = 0;
            for (ByteRanges.Range range : s.ranges()) {
                String head = "\r\n--" + boundary + "\r\nContent-Type: " + type + "\r\nContent-Range: bytes "
                        + range.first() + "-" + range.last() + "/" + size + "\r\n\r\n";
                ByteBuf h = Unpooled.copiedBuffer(head, StandardCharsets.US_ASCII);
                length += h.readableBytes() + range.length();
                parts.add(new FileBodyProducer.Bytes(h));
                parts.add(part(content, range.first(), range.length()));
            }
            ByteBuf end = Unpooled.copiedBuffer("\r\n--" + boundary + "--\r\n", StandardCharsets.US_ASCII);
            length += end.readableBytes();
            parts.add(new FileBodyProducer.Bytes(end));
        } else {
            r = response(HttpResponseStatus.OK);
            r.headers().set(HttpHeaderNames.CONTENT_TYPE, type);
            if (size > 0) {
                parts.add(part(content, 0, size));
            }
            length = size;
        }
        r.headers().set(HttpHeaderNames.CONTENT_LENGTH, length);
        r.headers().set(HttpHeaderNames.ACCEPT_RANGES, "bytes");
        validators(r, v);
        if (headOnly || length == 0) {
            releaseParts(parts);
            ex.respond(r, true);
            return;
        }
        if (content != null) {
            if (parts.size() == 1) {
                ex.respond(r, false);
                ex.write(((FileBodyProducer.Bytes) parts.get(0)).content(), true);
            } else {
                ex.respond(r, false);
                new FileBodyProducer(ex, null, parts, io, config.chunkSize()).start();
            }
            return;
        }
        FileChannel ch;
        try {
            ch = FileChannel.open(file, StandardOpenOption.READ);
        } catch (IOException e) {
            releaseParts(parts);
            error(ex, HttpResponseStatus.FORBIDDEN, "cannot open file");
            return;
        }
        if (parts.size() == 1 && parts.get(0) instanceof FileBodyProducer.Region one && one.length() <= config.chunkSize()) {
            // Small file: read it here and send head and body together, no producer round trip.
            ByteBuf body = ex.stream().session().alloc().directBuffer((int) one.length());
            try (ch) {
                while (body.isWritable()) {
                    if (body.writeBytes(ch, one.position() + body.readableBytes(), body.writableBytes()) < 0) {
                        throw new IOException("file shrank while being read");
                    }
                }
            } catch (IOException | RuntimeException e) {
                body.release();
                throw e;
            }
            ex.respond(r, false);
            ex.write(body, true);
            return;
        }
        ex.respond(r, false);
        new FileBodyProducer(ex, ch, parts, io, config.chunkSize()).start();
    }

    /** A part of the body: a slice of the file's bytes in memory, or a region to read. */
    private static FileBodyProducer.Part part(ByteBuf content, long position, long length) {
        return content != null ? new FileBodyProducer.Bytes(content.retainedSlice((int) position, (int) length))
                : new FileBodyProducer.Region(position, length);
    }

    private void list(TunnelExchange ex, String requestPath, Path dir, boolean headOnly) throws IOException {
        List<DirectoryListing.Entry> entries = DirectoryListing.read(dir, config.showHidden());
        String accept = ex.request().headers().get(HttpHeaderNames.ACCEPT, "");
        boolean json = accept.contains("application/json");
        String body = json ? DirectoryListing.json(entries) : DirectoryListing.html(requestPath, entries);
        HttpResponse r = response(HttpResponseStatus.OK);
        r.headers().set(HttpHeaderNames.CONTENT_TYPE, json ? "application/json" : "text/html; charset=utf-8");
        r.headers().set(HttpHeaderNames.VARY, "Accept");
        r.headers().set(HttpHeaderNames.CACHE_CONTROL, "no-cache");
        ByteBuf content = Unpooled.copiedBuffer(body, StandardCharsets.UTF_8);
        r.headers().set(HttpHeaderNames.CONTENT_LENGTH, content.readableBytes());
        if (headOnly) {
            content.release();
            ex.respond(r, true);
        } else {
            ex.respond(r, false);
            ex.write(content, true);
        }
    }

    private void redirectToSlash(TunnelExchange ex) {
        String uri = ex.request().uri();
        int q = uri.indexOf('?');
        String location = q < 0 ? uri + "/" : uri.substring(0, q) + "/" + uri.substring(q);
        HttpResponse r = response(HttpResponseStatus.MOVED_PERMANENTLY);
        r.headers().set(HttpHeaderNames.LOCATION, location);
        sendText(ex, r, "moved to " + location + "\n");
    }

    private void startUpload(TunnelExchange ex) {
        Path target;
        boolean existed;
        String key;
        try {
            RequestPaths.Decoded d = RequestPaths.decode(ex.request().uri());
            key = cacheKey(d);
            if (d.directoryForm() || d.segments().isEmpty()
                    || (!config.showHidden() && hasHidden(d.segments()))) {
                error(ex, HttpResponseStatus.FORBIDDEN, "cannot upload here");
                return;
            }
            Path parent = realRoot;
            for (String seg : d.segments().subList(0, d.segments().size() - 1)) {
                parent = parent.resolve(seg);
            }
            // Quick checks only: this runs on the event loop. The parent's real path guards symlinks.
            Path realParent = parent.toRealPath();
            if (!realParent.startsWith(realRoot) || !Files.isDirectory(realParent)) {
                error(ex, HttpResponseStatus.FORBIDDEN, "cannot upload here");
                return;
            }
            target = realParent.resolve(d.segments().get(d.segments().size() - 1));
            if (Files.isSymbolicLink(target) || Files.isDirectory(target)) {
                error(ex, HttpResponseStatus.FORBIDDEN, "cannot overwrite that");
                return;
            }
            existed = Files.exists(target);
        } catch (RequestPaths.BadPath e) {
            error(ex, HttpResponseStatus.valueOf(e.status), e.getMessage());
            return;
        } catch (IOException e) {
            error(ex, HttpResponseStatus.NOT_FOUND, "no such directory");
            return;
        }
        UploadWriter writer = new UploadWriter(ex, target, existed, io, () -> {
            if (cache != null) {
                cache.invalidate(key);
            }
        });
        if (ex.requestHasBody()) {
            ex.onBody(writer);
        } else {
            writer.onChunk(Unpooled.EMPTY_BUFFER, true);
        }
    }

    private String newBoundary() {
        byte[] b = new byte[12];
        random.nextBytes(b);
        return HexFormat.of().formatHex(b);
    }

    private static boolean hasHidden(List<String> segments) {
        for (String s : segments) {
            if (s.startsWith(".")) {
                return true;
            }
        }
        return false;
    }

    private static void releaseParts(List<FileBodyProducer.Part> parts) {
        for (FileBodyProducer.Part p : parts) {
            if (p instanceof FileBodyProducer.Bytes b) {
                b.content().release();
            }
        }
    }

    private static void validators(HttpResponse r, Preconditions.Validators v) {
        r.headers().set(HttpHeaderNames.ETAG, v.etag());
        r.headers().set(HttpHeaderNames.LAST_MODIFIED, v.lastModified());
    }

    private static HttpResponse response(HttpResponseStatus status) {
        HttpResponse r = new DefaultHttpResponse(HttpVersion.HTTP_1_1, status);
        r.headers().set(HttpHeaderNames.DATE, now());
        return r;
    }

    /** The Date header's value, formatted once a second rather than for every response. */
    private static String now() {
        long second = System.currentTimeMillis() / 1000;
        CachedDate d = cachedDate;
        if (d.second() != second) {
            d = new CachedDate(second, DateFormatter.format(new Date(second * 1000)));
            cachedDate = d;
        }
        return d.value();
    }

    private record CachedDate(long second, String value) {}

    private static void error(TunnelExchange ex, HttpResponseStatus status, String message) {
        sendText(ex, response(status), message + "\n");
    }

    private static void sendText(TunnelExchange ex, HttpResponse r, String body) {
        ByteBuf content = Unpooled.copiedBuffer(body, StandardCharsets.UTF_8);
        r.headers().set(HttpHeaderNames.CONTENT_TYPE, TEXT);
        r.headers().set(HttpHeaderNames.CONTENT_LENGTH, content.readableBytes());
        HttpRequest req = ex.request();
        boolean headOnly = req != null && req.method().equals(HttpMethod.HEAD);
        if (headOnly) {
            content.release();
            ex.respond(r, true);
        } else {
            ex.respond(r, false);
            ex.write(content, true);
        }
    }

    @Override
    public void close() {
        io.shutdownNow();
        if (cache != null) {
            cache.close();
        }
    }
}
