package io.spdyproxy.origin.files;

import java.util.ArrayList;
import java.util.List;

/** Parses a {@code Range: bytes=...} header against a representation's length (RFC 9110 14.1.2). */
final class ByteRanges {

    /** An inclusive byte range, already clamped to the file. */
    record Range(long first, long last) {
        long length() {
            return last - first + 1;
        }
    }

    /** More ranges than this is an abuse pattern (many tiny parts); the whole file is served. */
    static final int MAX_RANGES = 64;

    /** The outcome: ignore the header (serve 200), not satisfiable (416), or these ranges (206). */
    sealed interface Result permits Ignore, Unsatisfiable, Satisfiable {}

    record Ignore() implements Result {}

    record Unsatisfiable() implements Result {}

    record Satisfiable(List<Range> ranges) implements Result {}

    private ByteRanges() {}

    static Result parse(String header, long size) {
        if (header == null) {
            return new Ignore();
        }
        String h = header.trim();
        if (!h.regionMatches(true, 0, "bytes=", 0, 6)) {
            return new Ignore(); // another unit: RFC 9110 says ignore
        }
        String[] specs = h.substring(6).split(",");
        if (specs.length > MAX_RANGES) {
            return new Ignore();
        }
        List<Range> ranges = new ArrayList<>();
        boolean any = false;
        for (String spec : specs) {
            String s = spec.trim();
            if (s.isEmpty()) {
                continue;
            }
            any = true;
            int dash = s.indexOf('-');
            if (dash < 0) {
                return new Ignore(); // syntax error: the whole header is ignored
            }
            String a = s.substring(0, dash).trim();
            String b = s.substring(dash + 1).trim();
            try {
                if (a.isEmpty()) {
                    if (b.isEmpty()) {
                        return new Ignore();
                    }
                    long suffix = position(b);
                    if (suffix < 0) {
                        return new Ignore();
                    }
                    if (suffix == 0 || size == 0) {
                        continue; // unsatisfiable part
                    }
                    ranges.add(new Range(Math.max(0, size - suffix), size - 1));
                } else {
                    long first = position(a);
                    long last = b.isEmpty() ? Long.MAX_VALUE : position(b);
                    if (first < 0 || last < first) {
                        return new Ignore();
                    }
                    if (first >= size) {
                        continue; // unsatisfiable part
                    }
                    ranges.add(new Range(first, Math.min(last, size - 1)));
                }
            } catch (NumberFormatException e) {
                return new Ignore();
            }
        }
        if (!any) {
            return new Ignore(); // "bytes=" with no range at all: a syntax error, so ignored
        }
        if (ranges.isEmpty()) {
            return new Unsatisfiable();
        }
        long total = 0;
        for (Range r : ranges) {
            total += r.length();
        }
        if (ranges.size() > 1 && total > size) {
            return new Ignore(); // overlapping ranges asking for more than the file: serve it whole
        }
        return new Satisfiable(List.copyOf(ranges));
    }

    /**
     * A byte position: {@code 1*DIGIT}, ASCII digits only (RFC 9110 section 14.1.1). Long.parseLong
     * alone also takes a sign and other scripts' digits ({@code +5}, fullwidth or Arabic-Indic digits).
     */
    private static long position(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < '0' || c > '9') {
                throw new NumberFormatException("not a byte position: " + s);
            }
        }
        return Long.parseLong(s);
    }
}
