package io.spdyproxy.observe.accesslog;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.FileAppender;
import ch.qos.logback.core.OutputStreamAppender;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;
import io.spdyproxy.observe.RequestListener;
import io.spdyproxy.observe.RequestRecord;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.LoggerFactory;

/**
 * The access log: one line per finished request, to a file or stdout, in {@link AccessLogFormat}.
 * The event loop only hands the record to a {@link RecordWriter} (a bounded queue, never
 * blocking: when the writer falls behind, lines are dropped and counted); its thread formats each
 * record ({@link RecordEncoder}) and Logback's file or console appender writes it.
 *
 * <p>For logrotate: after the file was renamed, {@link #reopen()} (the proxy calls it on SIGHUP)
 * opens a new file of the configured name; lines keep going to the old one until then. Lines
 * reach the file in blocks, at the latest {@link #FLUSH_INTERVAL} after they were written.
 *
 * <p>Threading: {@link #requestEnded} from any thread, never blocking; {@link #reopen} and
 * {@link #close} from any thread.
 */
public final class AccessLog implements RequestListener, MeterBinder, AutoCloseable {
    /** Lines that may wait for the writer; beyond it they are dropped (and counted). */
    public static final int QUEUE_SIZE = 8192;
    /**
     * How long a written line may sit in the writer's buffer (nginx's {@code flush=}): a system
     * call per line costs a busy machine the CPU its event loops need.
     */
    public static final java.time.Duration FLUSH_INTERVAL = java.time.Duration.ofSeconds(1);
    private static final java.util.concurrent.ScheduledExecutorService FLUSHER =
            java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "access-log-flush");
                t.setDaemon(true);
                return t;
            });
    private static final AtomicInteger INSTANCES = new AtomicInteger();

    private final RecordWriter writer;
    private final OutputStreamAppender<ILoggingEvent> out;
    private final String target;
    private final java.util.concurrent.ScheduledFuture<?> flushing;

    private AccessLog(RecordWriter writer, OutputStreamAppender<ILoggingEvent> out, String target) {
        this.writer = writer;
        this.out = out;
        this.target = target;
        long ms = FLUSH_INTERVAL.toMillis();
        this.flushing = FLUSHER.scheduleWithFixedDelay(this::flush, ms, ms, java.util.concurrent.TimeUnit.MILLISECONDS);
    }

    /** Pushes buffered lines out (the buffered stream's own lock orders it with the writer's writes). */
    private void flush() {
        try {
            java.io.OutputStream s = out.getOutputStream();
            if (s != null) {
                s.flush();
            }
        } catch (IOException | RuntimeException e) {
            // the appender reports write errors itself; the next flush tries again
        }
    }

    /**
     * Starts logging to {@code target}: a file name (appended to, created when missing) or
     * {@code -} for stdout. Fails when the file cannot be opened.
     */
    public static AccessLog open(String target, AccessLogFormat format) {
        return open(target, format, QUEUE_SIZE);
    }

    static AccessLog open(String target, AccessLogFormat format, int queueSize) {
        LoggerContext ctx = (LoggerContext) LoggerFactory.getILoggerFactory();
        RecordEncoder encoder = new RecordEncoder(format);
        encoder.setContext(ctx);
        encoder.start();
        OutputStreamAppender<ILoggingEvent> out;
        if (target.equals("-")) {
            ConsoleAppender<ILoggingEvent> console = new ConsoleAppender<>();
            out = console;
        } else {
            FileAppender<ILoggingEvent> file = new FileAppender<>();
            file.setContext(ctx);
            file.setFile(Path.of(target).toAbsolutePath().toString());
            file.setAppend(true);
            file.setBufferSize(new ch.qos.logback.core.util.FileSize(64 * 1024));
            out = file;
        }
        int n = INSTANCES.incrementAndGet();
        out.setName("access-out-" + n);
        out.setContext(ctx);
        out.setEncoder(encoder);
        out.setImmediateFlush(false); // flushed every FLUSH_INTERVAL, and on close
        out.start();
        if (!out.isStarted()) {
            throw new UncheckedIOException(new IOException("access log " + target + ": cannot open it"));
        }
        Logger logger = ctx.getLogger("io.spdyproxy.access." + n); // names the events; no appender of its own
        logger.setAdditive(false);
        logger.setLevel(Level.INFO);
        return new AccessLog(new RecordWriter(queueSize, out, logger, "access-log-" + n), out, target);
    }

    @Override
    public void requestEnded(RequestRecord record) {
        writer.offer(record);
    }

    /** Opens the file anew (after logrotate renamed it); a no-op on stdout. */
    public void reopen() throws IOException {
        if (out instanceof FileAppender<ILoggingEvent> f) {
            f.openFile(f.getFile()); // closes the old stream under the appender's lock
        }
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

    /** Writes what is queued (waiting up to a second) and closes the file. */
    @Override
    public void close() {
        flushing.cancel(false);
        writer.close();
        out.stop();
    }
}
