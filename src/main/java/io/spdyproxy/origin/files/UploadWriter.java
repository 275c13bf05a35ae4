package io.spdyproxy.origin.files;

import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.spdyproxy.spdy.SpdyError;
import io.spdyproxy.spdy.http.BodyListener;
import io.spdyproxy.spdy.http.HttpExchange;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes a PUT body to a temporary file beside the target and renames it into place only once the
 * whole body arrived, so a reader never sees a half-written file. Each chunk is consumed (window
 * granted) only after it reached the file, which bounds memory by the stream window.
 *
 * <p>Threading: chunks arrive on the session's event loop and are written, in order, on the I/O
 * executor through a chain of futures.
 */
final class UploadWriter implements BodyListener {
    private static final Logger log = LoggerFactory.getLogger(UploadWriter.class);

    private final HttpExchange exchange;
    private final Path target;
    private final boolean existed;
    private final Executor executor;
    private final Runnable stored; // after the rename: forget cached copies of the target
    private Path temp;
    private FileChannel out;
    private CompletableFuture<Void> tail;
    private volatile boolean failed;

    UploadWriter(HttpExchange exchange, Path target, boolean existed, Executor executor, Runnable stored) {
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
            temp = Files.createTempFile(target.getParent(), ".upload-", ".part");
            out = FileChannel.open(temp, StandardOpenOption.WRITE);
        } catch (IOException e) {
            throw new IllegalStateException("cannot create a temporary file: " + e.getMessage(), e);
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
        exchange.reset(SpdyError.CANCEL);
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
