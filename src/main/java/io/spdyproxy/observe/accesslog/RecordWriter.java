package io.spdyproxy.observe.accesslog;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.LoggingEvent;
import ch.qos.logback.core.OutputStreamAppender;
import io.spdyproxy.observe.RequestRecord;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;

/**
 * Hands records from the event loops to one writer thread that formats and appends them (Logback's
 * appender and {@link RecordEncoder} do the writing). Logback's own {@code AsyncAppender} wakes its
 * worker for every event (a futex call and a context switch per request: on two cores that cost a
 * quarter of the small-response rate in the {@code ops} benchmark); here the writer is never woken
 * by a producer. It drains the bounded queue every {@link #DRAIN_INTERVAL_NANOS}, so a producer
 * pays one uncontended lock and nothing else, and a full queue drops the record and counts it
 * (never blocks).
 *
 * <p>Threading: {@link #offer} from any thread; one writer thread; {@link #close} from any thread.
 */
final class RecordWriter implements AutoCloseable {
    /** How long records may wait for the writer: 8,192 slots then carry 800,000 requests/s. */
    static final long DRAIN_INTERVAL_NANOS = TimeUnit.MILLISECONDS.toNanos(10);
    private static final String FQCN = RecordWriter.class.getName();

    private final ArrayBlockingQueue<RequestRecord> queue;
    private final OutputStreamAppender<ILoggingEvent> out;
    private final Logger logger;
    private final LongAdder dropped = new LongAdder();
    private final Thread thread;
    private volatile boolean running = true;

    RecordWriter(int capacity, OutputStreamAppender<ILoggingEvent> out, Logger logger, String name) {
        this.queue = new ArrayBlockingQueue<>(capacity);
        this.out = out;
        this.logger = logger;
        this.thread = new Thread(this::run, name);
        thread.setDaemon(true);
        thread.start();
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

    private void run() {
        List<RequestRecord> batch = new ArrayList<>();
        while (running) {
            LockSupport.parkNanos(this, DRAIN_INTERVAL_NANOS);
            drain(batch);
        }
    }

    private void drain(List<RequestRecord> batch) {
        while (queue.drainTo(batch, 1024) > 0) {
            for (RequestRecord r : batch) {
                try {
                    out.doAppend(new LoggingEvent(FQCN, logger, Level.INFO, "", null, new Object[] {r}));
                } catch (RuntimeException e) {
                    // the appender reports write errors itself (its status); the next line tries again
                }
            }
            batch.clear();
        }
    }

    /** Writes what is queued, then stops the thread. */
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
    }
}
