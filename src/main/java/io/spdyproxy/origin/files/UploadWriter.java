package io.spdyproxy.origin.files;

import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.spdyproxy.tunnel.StreamError;
import io.spdyproxy.tunnel.BodyListener;
import io.spdyproxy.tunnel.TunnelExchange;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.EnumSet;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.ThreadLocalRandom;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes a PUT body to a temporary file beside the target and renames it into place only once the
 * whole body arrived, so a reader never sees a half-written file; a replaced file's mode is kept.
 * Each chunk is consumed (window granted) only after it reached the file, which bounds memory by
 * the stream window.
 *
 * <p>Threading: chunks arrive on the session's event loop and are written, in order, on the I/O
 * executor through a chain of futures.
 */
final class UploadWriter implements BodyListener {
    private static final Logger log = LoggerFactory.getLogger(UploadWriter.class);
    private static final Set<PosixFilePermission> NEW_FILE_MODE = PosixFilePermissions.fromString("rw-r--r--");

    private final TunnelExchange exchange;
    private final Path target;
    private final boolean existed;
    private final Executor executor;
    private final Runnable stored; // after the rename: forget cached copies of the target
    private Path temp;
    private FileChannel out;
    private CompletableFuture<Void> tail;
    private volatile boolean failed;

    UploadWriter(TunnelExchange exchange, Path target, boolean existed, Executor executor, Runnable stored) {
        this.exchange = exchange;
        this.target = target;
        this.existed = existed;
        this.executor = executor;
        this.stored = stored;
        this.tail = CompletableFuture.runAsync(this::open, executor);
        exchange.onClose(cause -> {
            if (cause != null) {
                failed = true;
                tail = tail.handle((v, e) -> null).thenRunAsync(this::discard, executor);
            }
        });
    }

    private void open() {
        try {
            for (int attempt = 0; out == null; attempt++) {
                Path p = target.resolveSibling(".upload-"
                        + Long.toUnsignedString(ThreadLocalRandom.current().nextLong(), 36) + ".part");
                try {
                    out = create(p);
                    temp = p;
                } catch (FileAlreadyExistsException e) {
                    if (attempt == 8) {
                        throw e;
                    }
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot create a temporary file: " + e.getMessage(), e);
        }
    }

    /**
     * Creates the file exclusively (O_EXCL: a planted link is never followed) with mode 0644, from
     * which the process umask takes away as for any file created; {@code createTempFile} would give
     * 0600, and a new upload would be unreadable to the group and others where a copy is not.
     */
    private static FileChannel create(Path p) throws IOException {
        Set<StandardOpenOption> options = EnumSet.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        try {
            return FileChannel.open(p, options, PosixFilePermissions.asFileAttribute(NEW_FILE_MODE));
        } catch (UnsupportedOperationException e) { // not a POSIX file system: its defaults
            return FileChannel.open(p, options);
        }
    }

    /** The replaced file's permission bits go to its replacement (owner and group cannot follow). */
    private void keepMode() throws IOException {
        try {
            PosixFileAttributes old = Files.readAttributes(target, PosixFileAttributes.class,
                    LinkOption.NOFOLLOW_LINKS);
            if (old.isRegularFile()) {
                Files.setPosixFilePermissions(temp, old.permissions());
            }
        } catch (NoSuchFileException | UnsupportedOperationException e) {
            // a new file, or no POSIX modes: keep the mode it was created with
        }
    }

    @Override
    public void onChunk(ByteBuf chunk, boolean last) {
        int n = chunk.readableBytes();
        tail = tail.thenRunAsync(() -> {
            if (failed) {
                return;
            }
            try {
                // nioBuffers() gives this thread its own views: readBytes(channel) on a slice would
                // move the position of a ByteBuffer shared with the connection's read buffer, which
                // the event loop is filling at the same time.
                for (java.nio.ByteBuffer b : chunk.nioBuffers()) {
                    while (b.hasRemaining()) {
                        out.write(b);
                    }
                }
            } catch (IOException e) {
                throw new IllegalStateException("write failed: " + e.getMessage(), e);
            }
        }, executor).whenComplete((v, e) -> {
            // Written, skipped or failed: the chunk is done with either way.
            if (chunk.refCnt() > 0) {
                chunk.release();
            }
            exchange.consume(n);
        });
        if (last) {
            tail = tail.thenRunAsync(this::commit, executor);
        }
        tail = tail.exceptionally(e -> {
            if (!failed) {
                fail(e);
            }
            return null;
        });
    }

    private void commit() {
        if (failed) {
            return;
        }
        try {
            out.force(false);
            out.close();
            keepMode();
            Files.move(temp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new IllegalStateException("cannot store the upload: " + e.getMessage(), e);
        }
        stored.run();
        if (existed) {
            // RFC 9110 section 15.3.5: a 204 has neither body nor Content-Length.
            exchange.respond(new io.netty.handler.codec.http.DefaultHttpResponse(
                    io.netty.handler.codec.http.HttpVersion.HTTP_1_1, HttpResponseStatus.NO_CONTENT), true);
        } else {
            exchange.respond(HttpResponseStatus.CREATED, "text/plain; charset=utf-8", "created\n");
        }
    }

    private void fail(Throwable e) {
        log.warn("upload to {} failed: {}", target, e.toString());
        failed = true;
        discard();
        // Answer at once, then stop the rest of the body: RST after the reply (SPDY/3 2.4.2).
        exchange.respond(HttpResponseStatus.INTERNAL_SERVER_ERROR, "text/plain; charset=utf-8",
                "upload failed\n");
        exchange.reset(StreamError.CANCEL);
    }

    private void discard() {
        try {
            if (out != null) {
                out.close();
            }
            if (temp != null) {
                Files.deleteIfExists(temp);
            }
        } catch (IOException e) {
            log.debug("cleaning up {} failed", temp, e);
        }
    }
}
