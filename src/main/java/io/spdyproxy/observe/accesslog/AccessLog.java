package io.spdyproxy.observe.accesslog;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;
import io.spdyproxy.observe.RequestListener;
import io.spdyproxy.observe.RequestRecord;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The access log: one line per finished request, to a file or stdout, in {@link AccessLogFormat}.
 * The event loop only hands the record to a {@link RecordWriter} (a bounded queue, never
 * blocking: when the writer falls behind, lines are dropped and counted); its thread formats the
 * records and writes them in batches.
 *
 * <p>For logrotate: after the file was renamed, {@link #reopen()} (the proxy calls it on SIGHUP)
 * opens a new file of the configured name; lines keep going to the old one until then. Lines
 * reach the file in blocks, at the latest a second after they were formatted.
 *
 * <p>Threading: {@link #requestEnded} from any thread, never blocking; {@link #reopen} and
 * {@link #close} from any thread.
 */
public final class AccessLog implements RequestListener, MeterBinder, AutoCloseable {
    /** Lines that may wait for the writer; beyond it they are dropped (and counted). */
    public static final int QUEUE_SIZE = 8192;
    private static final AtomicInteger INSTANCES = new AtomicInteger();

    private final RecordWriter writer;
    private final String target;

    private AccessLog(RecordWriter writer, String target) {
        this.writer = writer;
        this.target = target;
    }

    /**
     * Starts logging to {@code target}: a file name (appended to, created when missing) or
     * {@code -} for stdout. Fails when the file cannot be opened.
     */
    public static AccessLog open(String target, AccessLogFormat format) {
        return open(target, format, QUEUE_SIZE);
    }

    static AccessLog open(String target, AccessLogFormat format, int queueSize) {
        Path file = target.equals("-") ? null : Path.of(target).toAbsolutePath();
        try {
            return new AccessLog(new RecordWriter(queueSize, format, file, "access-log-" + INSTANCES.incrementAndGet()),
                    target);
        } catch (IOException e) {
            throw new UncheckedIOException(new IOException("access log " + target + ": cannot open it ("
                    + e.getMessage() + ")", e));
        }
    }

    @Override
    public void requestEnded(RequestRecord record) {
        writer.offer(record);
    }

    /** Opens the file anew (after logrotate renamed it); a no-op on stdout. */
    public void reopen() throws IOException {
        writer.reopen();
    }

    /** Lines dropped because the writer fell {@link #QUEUE_SIZE} lines behind. */
    public long dropped() {
        return writer.dropped();
    }

    public String target() {
        return target;
    }

    @Override
    public void bindTo(MeterRegistry registry) {
        FunctionCounter.builder("spdyproxy.access.log.dropped", this, AccessLog::dropped)
                .description("Access log lines dropped because the writer fell behind").register(registry);
    }

    /** Writes what is queued and closes the file. */
    @Override
    public void close() {
        writer.close();
    }
}
