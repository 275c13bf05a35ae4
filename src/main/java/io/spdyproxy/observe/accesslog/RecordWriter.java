package io.spdyproxy.observe.accesslog;

import io.spdyproxy.observe.RequestRecord;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Hands records from the event loops to one writer thread that formats them and writes the lines.
 * Logback's {@code AsyncAppender}, which this replaces, wakes its worker for every event (a futex
 * call and a context switch per request: on two cores that cost a fifth of the 100-connection
 * small-response rate in the {@code ops} benchmark). Here no producer ever wakes the writer: it
 * drains the bounded queue every {@link #DRAIN_INTERVAL_NANOS}, formats a batch into one buffer and
 * writes it with one call, so a producer pays one uncontended lock, and a full queue drops the
 * record and counts it (never blocks). Lines reach the file at the latest {@link #FLUSH_NANOS}
 * after they were formatted (nginx's {@code flush=}).
 *
 * <p>Threading: {@link #offer} from any thread; the stream is the writer thread's alone (a
 * {@link #reopen} is done by it, {@link #close} joins it first); {@link #reopen} and
 * {@link #close} from any thread.
 */
final class RecordWriter implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(RecordWriter.class);
    /** How long records may wait for the writer: 8,192 slots then carry 800,000 requests/s. */
    static final long DRAIN_INTERVAL_NANOS = TimeUnit.MILLISECONDS.toNanos(10);
    static final long FLUSH_NANOS = TimeUnit.SECONDS.toNanos(1);
    private static final int BUFFER = 64 * 1024;

    private final ArrayBlockingQueue<RequestRecord> queue;
    private final AccessLogFormat format;
    /** The file, or null for stdout. */
    private final Path file;
    private final LongAdder dropped = new LongAdder();
    private final Thread thread;
    private final StringBuilder lines = new StringBuilder(BUFFER);
    private OutputStream out;
    private long lastFlush = System.nanoTime();
    private boolean unflushed;
    private boolean failing;
    private volatile boolean running = true;
    private volatile CompletableFuture<Void> reopenRequest;

    /** Opens {@code file} (appending; null: stdout) on the caller's thread, so that a bad path fails here. */
    RecordWriter(int capacity, AccessLogFormat format, Path file, String name) throws IOException {
        this.queue = new ArrayBlockingQueue<>(capacity);
        this.format = format;
        this.file = file;
        this.out = open();
        this.thread = new Thread(this::run, name);
        thread.setDaemon(true);
        thread.start();
    }

    private OutputStream open() throws IOException {
        return file == null ? System.out : new FileOutputStream(file.toFile(), true);
    }

    /** Queues {@code r}; false (and counted) when the writer is a whole queue behind. */
    boolean offer(RequestRecord r) {
        if (queue.offer(r)) {
            return true;
        }
        dropped.increment();
        return false;
    }

    long dropped() {
        return dropped.sum();
    }

    /**
     * Closes the file and opens a new one of the same name (after logrotate renamed it); returns
     * once done, so records offered afterwards go to the new file.
     */
    void reopen() throws IOException {
        if (file == null) {
            return;
        }
        CompletableFuture<Void> done = new CompletableFuture<>();
        reopenRequest = done;
        LockSupport.unpark(thread);
        try {
            done.get(5, TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException e) {
            throw e.getCause() instanceof IOException io ? io : new IOException(e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while reopening " + file);
        } catch (java.util.concurrent.TimeoutException e) {
            throw new IOException("the access log writer did not reopen " + file + " within 5 s");
        }
    }

    private void run() {
        List<RequestRecord> batch = new ArrayList<>();
        while (running) {
            LockSupport.parkNanos(this, DRAIN_INTERVAL_NANOS);
            drain(batch);
        }
    }

    private void drain(List<RequestRecord> batch) {
        do {
            CompletableFuture<Void> reopen = reopenRequest;
            if (reopen != null) {
                reopenRequest = null;
                reopenNow(reopen);
            }
            int n = queue.drainTo(batch, 1024);
            if (n == 0) {
                break;
            }
            for (RequestRecord r : batch) {
                lines.append(format.line(r)).append('\n');
            }
            batch.clear();
            write(lines.toString().getBytes(StandardCharsets.UTF_8));
            lines.setLength(0);
        } while (true);
        if (unflushed && System.nanoTime() - lastFlush >= FLUSH_NANOS) {
            flush();
        }
    }

    private void write(byte[] bytes) {
        try {
            out.write(bytes);
            unflushed = true;
            failing = false;
        } catch (IOException e) {
            if (!failing) { // once per run of failures, not once per batch
                failing = true;
                log.warn("access log {}: cannot write ({}); lines are lost until it works again",
                        file == null ? "stdout" : file, e.toString());
            }
        }
    }

    private void flush() {
        try {
            out.flush();
        } catch (IOException e) {
            // the next write reports it
        }
        unflushed = false;
        lastFlush = System.nanoTime();
    }

    private void reopenNow(CompletableFuture<Void> done) {
        flush();
        try {
            OutputStream fresh = open();
            OutputStream old = out;
            out = fresh;
            old.close();
            done.complete(null);
        } catch (IOException e) {
            done.completeExceptionally(e); // keeps writing to the old file
        }
    }

    /** Writes what is queued, then stops the thread and closes the file. */
    @Override
    public void close() {
        running = false;
        LockSupport.unpark(thread);
        try {
            thread.join(TimeUnit.SECONDS.toMillis(5));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        drain(new ArrayList<>()); // what came in while it stopped
        flush();
        if (file != null) {
            try {
                out.close();
            } catch (IOException e) {
                // closing anyway
            }
        }
    }
}
