package io.spdyproxy.observe.accesslog;

import io.spdyproxy.observe.RequestRecord;
import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.Locale;

/**
 * The access log's line formats. Every field that a client chose (path, host, headers, even the
 * method) is escaped so that no line can forge another: no raw control character, quote or
 * backslash ever reaches the file. Stateless.
 */
public enum AccessLogFormat {
    /**
     * Apache/nginx "combined" ({@code %h - %u [%t] "%r" %>s %b "%{Referer}i" "%{User-Agent}i"}),
     * then {@code "tunnel" "host" bytes_in duration_ms outcome}: log analysers that read combined
     * read the prefix and ignore the rest. Escaping as nginx does: {@code "}, {@code \} and bytes
     * outside printable ASCII become {@code \xHH}.
     */
    COMBINED {
        @Override
        String line(RequestRecord r) {
            StringBuilder b = new StringBuilder(256);
            plain(b, r.client());
            b.append(" - ");
            plain(b, r.user());
            b.append(" [").append(CLF_TIME.format(Instant.ofEpochMilli(r.startMillis()))).append("] \"");
            Escapes.clf(b, r.method());
            b.append(' ');
            Escapes.clf(b, r.target());
            b.append(' ');
            Escapes.clf(b, r.protocol());
            b.append("\" ").append(r.status() == 0 ? "000" : Integer.toString(r.status())).append(' ');
            if (r.bytesOut() == 0) {
                b.append('-');
            } else {
                b.append(r.bytesOut());
            }
            quoted(b, r.referer());
            quoted(b, r.userAgent());
            quoted(b, r.tunnel());
            quoted(b, r.host());
            b.append(' ').append(r.bytesIn()).append(' ');
            millis(b, r.durationNanos());
            b.append(' ').append(r.outcome().label());
            return b.toString();
        }

        private void plain(StringBuilder b, String s) {
            if (s == null || s.isEmpty()) {
                b.append('-');
            } else {
                Escapes.clf(b, s);
            }
        }

        private void quoted(StringBuilder b, String s) {
            b.append(" \"");
            plain(b, s);
            b.append('"');
        }
    },

    /** One JSON object per line, with stable field names (see the README); absent values are null. */
    JSON {
        @Override
        String line(RequestRecord r) {
            StringBuilder b = new StringBuilder(320);
            b.append("{\"time\":\"").append(ISO_TIME.format(Instant.ofEpochMilli(r.startMillis()))).append('"');
            field(b, "client", r.client());
            field(b, "user", r.user());
            field(b, "tunnel", r.tunnel());
            field(b, "method", r.method());
            field(b, "host", r.host());
            field(b, "path", r.target());
            field(b, "protocol", r.protocol());
            field(b, "scheme", r.scheme());
            b.append(",\"status\":").append(r.status());
            b.append(",\"bytes_in\":").append(r.bytesIn());
            b.append(",\"bytes_out\":").append(r.bytesOut());
            b.append(",\"first_byte_ms\":");
            if (r.firstByteNanos() < 0) {
                b.append("null");
            } else {
                millis(b, r.firstByteNanos());
            }
            b.append(",\"duration_ms\":");
            millis(b, r.durationNanos());
            field(b, "outcome", r.outcome().label());
            field(b, "referer", r.referer());
            field(b, "user_agent", r.userAgent());
            return b.append('}').toString();
        }

        private void field(StringBuilder b, String name, String value) {
            b.append(",\"").append(name).append("\":");
            if (value == null) {
                b.append("null");
            } else {
                b.append('"');
                Escapes.json(b, value);
                b.append('"');
            }
        }
    };

    private static final DateTimeFormatter CLF_TIME =
            DateTimeFormatter.ofPattern("dd/MMM/yyyy:HH:mm:ss Z", Locale.ENGLISH).withZone(ZoneId.systemDefault());
    private static final DateTimeFormatter ISO_TIME =
            DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSXXX", Locale.ROOT).withZone(ZoneId.systemDefault());

    /** The record as one line, without its line end. */
    abstract String line(RequestRecord r);

    /** {@code combined} or {@code json}, as the flag spells it. */
    public static AccessLogFormat parse(String s) {
        return switch (s.toLowerCase(Locale.ROOT)) {
            case "combined" -> COMBINED;
            case "json" -> JSON;
            default -> throw new IllegalArgumentException("access log format: " + s + " (expected: combined or json)");
        };
    }

    /** Milliseconds with three decimals, without String.format's cost. */
    static void millis(StringBuilder b, long nanos) {
        long micros = Math.max(0, nanos) / 1000;
        b.append(micros / 1000).append('.');
        long frac = micros % 1000;
        if (frac < 100) {
            b.append('0');
        }
        if (frac < 10) {
            b.append('0');
        }
        b.append(frac);
    }
}
