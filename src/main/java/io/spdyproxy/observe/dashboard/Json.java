package io.spdyproxy.observe.dashboard;

/**
 * A JSON text built by appending (RFC 8259). Every string is escaped, and the output is pure ASCII:
 * whatever a record holds (paths, hosts and addresses are attacker-controlled) stays inside its
 * string, whatever the page or a proxy in between does with the bytes.
 *
 * <p>Threading: not thread-safe; one per document.
 */
final class Json {
    private static final char[] HEX = "0123456789abcdef".toCharArray();

    /** Longest string kept, in chars; longer ones end in "…" (bounds one event's size). */
    static final int MAX_STRING = 512;

    private final StringBuilder b;
    /** Whether the next member or element needs a comma before it. */
    private boolean comma;

    Json(int capacity) {
        b = new StringBuilder(capacity);
    }

    Json beginObject() {
        sep();
        b.append('{');
        comma = false;
        return this;
    }

    Json endObject() {
        b.append('}');
        comma = true;
        return this;
    }

    Json beginArray(String name) {
        key(name);
        b.append('[');
        comma = false;
        return this;
    }

    Json endArray() {
        b.append(']');
        comma = true;
        return this;
    }

    Json field(String name, String value) {
        key(name);
        if (value == null) {
            b.append("null");
        } else {
            string(value);
        }
        comma = true;
        return this;
    }

    Json field(String name, long value) {
        key(name);
        b.append(value);
        comma = true;
        return this;
    }

    Json field(String name, double value) {
        key(name);
        // Finite by construction (rates over a positive interval); JSON has no NaN or Infinity.
        b.append(Double.isFinite(value) ? Math.round(value * 10) / 10.0 : 0);
        comma = true;
        return this;
    }

    /** Appends an already-built JSON value (a member {@code name} when non-null). */
    Json raw(String name, String json) {
        if (name != null) {
            key(name);
        } else {
            sep();
        }
        b.append(json);
        comma = true;
        return this;
    }

    private void key(String name) {
        sep();
        string(name);
        b.append(':');
    }

    private void sep() {
        if (comma) {
            b.append(',');
        }
        comma = false;
    }

    private void string(String s) {
        int n = Math.min(s.length(), MAX_STRING);
        b.append('"');
        for (int i = 0; i < n; i++) {
            char c = s.charAt(i);
            if (c == '"' || c == '\\') {
                b.append('\\').append(c);
            } else if (c >= 0x20 && c < 0x7f && c != '<' && c != '>' && c != '&' && c != '\'') {
                b.append(c);
            } else {
                // Controls must be escaped (RFC 8259 section 7); the rest are so that the text is
                // ASCII and never looks like markup or closes a quote, even to a sniffer.
                b.append("\\u").append(HEX[c >> 12 & 15]).append(HEX[c >> 8 & 15]).append(HEX[c >> 4 & 15])
                        .append(HEX[c & 15]);
            }
        }
        if (s.length() > n) {
            b.append("\\u2026");
        }
        b.append('"');
    }

    @Override
    public String toString() {
        return b.toString();
    }
}
