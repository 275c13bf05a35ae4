package io.spdyproxy.observe.accesslog;

import ch.qos.logback.classic.AsyncAppender;
import ch.qos.logback.classic.spi.ILoggingEvent;
import java.util.concurrent.atomic.LongAdder;

/**
 * Logback's {@link AsyncAppender} that counts the events it drops: with {@code neverBlock} a full
 * queue drops silently, and an operator needs to know lines are missing. The count is read at the
 * moment of the append, so a line racing the writer may be counted as dropped when it just fit (or
 * the reverse); it is exact whenever the queue stays full.
 *
 * <p>Threading: as {@link AsyncAppender}: any thread appends.
 */
final class CountingAsyncAppender extends AsyncAppender {
    private final LongAdder dropped = new LongAdder();

    @Override
    protected void append(ILoggingEvent event) {
        if (getRemainingCapacity() == 0) {
            dropped.increment();
            return;
        }
        super.append(event);
    }

    long dropped() {
        return dropped.sum();
    }
}
