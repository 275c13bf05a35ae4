package io.spdyproxy.observe.accesslog;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.encoder.EncoderBase;
import io.spdyproxy.observe.RequestRecord;
import java.nio.charset.StandardCharsets;

/**
 * Turns a logging event whose one argument is a {@link RequestRecord} into its access log line.
 * It runs on the async appender's writer thread, so formatting costs the event loop nothing.
 *
 * <p>Threading: called by one writer thread.
 */
final class RecordEncoder extends EncoderBase<ILoggingEvent> {
    private static final byte[] NOTHING = new byte[0];
    private final AccessLogFormat format;

    RecordEncoder(AccessLogFormat format) {
        this.format = format;
    }

    @Override
    public byte[] headerBytes() {
        return null;
    }

    @Override
    public byte[] encode(ILoggingEvent event) {
        Object[] args = event.getArgumentArray();
        if (args == null || args.length != 1 || !(args[0] instanceof RequestRecord r)) {
            return NOTHING;
        }
        return (format.line(r) + "\n").getBytes(StandardCharsets.UTF_8);
    }

    @Override
    public byte[] footerBytes() {
        return null;
    }
}
