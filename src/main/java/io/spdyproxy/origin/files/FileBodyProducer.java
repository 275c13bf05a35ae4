package io.spdyproxy.origin.files;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.spdyproxy.tunnel.StreamError;
import io.spdyproxy.tunnel.TunnelExchange;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.util.ArrayDeque;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Streams a response body made of file regions and literal bytes (multipart boundaries), paced by
 * the stream's window: it reads a chunk only while the stream is writable, so a 50 GiB file costs
 * the same memory as a 5 KiB one, and a reader that stops stops the reads.
 *
 * <p>Threading: {@link #pump} runs on the blocking I/O executor, never twice at once (a
 * work-in-progress counter serialises it); loop callbacks only schedule it.
 */
final class FileBodyProducer {
    private static final Logger log = LoggerFactory.getLogger(FileBodyProducer.class);

    /** One piece of the body. */
    sealed interface Part permits Bytes, Region {}

    /** Literal bytes, owned by the producer until sent. */
    record Bytes(ByteBuf content) implements Part {}

    /** {@code length} bytes of the file from {@code position}. */
    record Region(long position, long length) implements Part {}

    private final TunnelExchange exchange;
    private final FileChannel file; // null when every part is in memory
    private final ArrayDeque<Part> parts;
    private final Executor executor;
    private final int chunkSize;
    private final ByteBufAllocator alloc;
    private final AtomicInteger wip = new AtomicInteger();
    private volatile boolean closed;
    private boolean finished;
    private long regionOffset;

    FileBodyProducer(TunnelExchange exchange, FileChannel file, List<Part> parts, Executor executor,
            int chunkSize) {
        this.exchange = exchange;
        this.file = file;
        this.parts = new ArrayDeque<>(parts);
        this.executor = executor;
        this.chunkSize = chunkSize;
        this.alloc = exchange.stream().session().alloc();
    }

    /** Starts producing; called on the I/O executor, so the first chunks go out without a hop. */
    void start() {
        exchange.onWritable(this::schedule);
        exchange.onClose(cause -> {
            closed = true;
            schedule();
        });
        if (wip.getAndIncrement() == 0) {
            pump();
        }
    }

    private void schedule() {
        if (wip.getAndIncrement() == 0) {
            executor.execute(this::pump);
        }
    }

    private void pump() {
        int missed = 1;
        do {
            if (!finished) {
                try {
                    produce();
                } catch (IOException | RuntimeException e) {
                    log.warn("reading file for stream {} failed: {}", exchange.stream().id(), e.toString());
                    exchange.reset(StreamError.INTERNAL_ERROR); // never a silently short body
                    finish();
                }
            }
            missed = wip.addAndGet(-missed);
        } while (missed != 0);
    }

    private void produce() throws IOException {
        while (!closed && !parts.isEmpty() && exchange.isWritable()) {
            Part part = parts.peek();
            if (part instanceof Bytes b) {
                parts.poll();
                exchange.write(b.content(), parts.isEmpty());
            } else {
                Region r = (Region) part;
                long left = r.length() - regionOffset;
                int n = (int) Math.min(chunkSize, left);
                ByteBuf buf = alloc.directBuffer(n);
                try {
                    long pos = r.position() + regionOffset;
                    while (buf.isWritable()) {
                        int read = buf.writeBytes(file, pos + buf.readableBytes(), buf.writableBytes());
                        if (read < 0) {
                            throw new IOException("file shrank while being sent");
                        }
                    }
                } catch (IOException | RuntimeException e) {
                    buf.release();
                    throw e;
                }
                regionOffset += n;
                if (regionOffset == r.length()) {
                    parts.poll();
                    regionOffset = 0;
                }
                exchange.write(buf, parts.isEmpty());
            }
        }
        if (closed || parts.isEmpty()) {
            finish();
        }
    }

    private void finish() {
        if (finished) {
            return;
        }
        finished = true;
        for (Part p : parts) {
            if (p instanceof Bytes b) {
                b.content().release();
            }
        }
        parts.clear();
        if (file == null) {
            return; // a body from memory
        }
        try {
            file.close();
        } catch (IOException e) {
            log.debug("closing file failed", e);
        }
    }
}
