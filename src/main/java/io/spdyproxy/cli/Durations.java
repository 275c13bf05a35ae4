package io.spdyproxy.cli;

import java.time.Duration;
import picocli.CommandLine.ITypeConverter;

/** Parses "250ms", "10s", "2m", "1h", a bare "0" (or ISO-8601 "PT10S") for flags and the config file. */
final class Durations implements ITypeConverter<Duration> {
    @Override
    public Duration convert(String value) {
        return parse(value);
    }

    static Duration parse(String value) {
        Duration d = parseAny(value);
        if (d.isNegative()) {
            throw new IllegalArgumentException("duration: " + value + " (expected: not negative)");
        }
        return d;
    }

    private static Duration parseAny(String value) {
        String v = value.trim().toLowerCase(java.util.Locale.ROOT);
        try {
            if (v.equals("0")) {
                return Duration.ZERO; // zero needs no unit ("0" turns a feature off)
            }
            if (v.startsWith("pt")) {
                return Duration.parse(v.toUpperCase(java.util.Locale.ROOT));
            }
            if (v.endsWith("ms")) {
                return Duration.ofMillis(Long.parseLong(v.substring(0, v.length() - 2).trim()));
            }
            long n = Long.parseLong(v.substring(0, v.length() - 1).trim());
            return switch (v.charAt(v.length() - 1)) {
                case 's' -> Duration.ofSeconds(n);
                case 'm' -> Duration.ofMinutes(n);
                case 'h' -> Duration.ofHours(n);
                default -> throw new IllegalArgumentException();
            };
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("duration: " + value + " (expected: e.g. 500ms, 10s, 2m)");
        }
    }
}
