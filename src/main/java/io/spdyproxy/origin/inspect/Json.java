package io.spdyproxy.origin.inspect;

/**
 * A minimal JSON writer (RFC 8259) for the inspector's API: objects, arrays, strings, numbers,
 * booleans, with commas placed by nesting level. Strings are escaped so that any header or path
 * a peer sent stays inert text, including {@code </script>}.
 *
 * <p>Threading: one writer per response, used by one thread.
 */
final class Json {
    private final StringBuilder out = new StringBuilder(256);
    /** Whether the current container already holds a value (one bit per nesting level). */
    private long nonEmpty;
    private int depth;
    private boolean afterKey;

    Json beginObject() {
        return open('{');
    }

    Json endObject() {
        return close('}');
    }

    Json beginArray() {
        return open('[');
    }

    Json endArray() {
        return close(']');
    }

    Json key(String name) {
        separate();
        string(name);
        out.append(':');
        afterKey = true;
        return this;
    }

    Json value(String s) {
        separate();
        if (s == null) {
            out.append("null");
        } else {
            string(s);
        }
        return this;
    }

    Json value(long n) {
        separate();
        out.append(n);
        return this;
    }

    Json value(boolean b) {
        separate();
        out.append(b);
        return this;
    }

    Json field(String name, String s) {
        return key(name).value(s);
    }

    Json field(String name, long n) {
        return key(name).value(n);
    }

    Json field(String name, boolean b) {
        return key(name).value(b);
    }

    @Override
    public String toString() {
        return out.toString();
    }

    private Json open(char c) {
        separate();
        out.append(c);
        depth++;
        nonEmpty &= ~(1L << depth);
        return this;
    }

    private Json close(char c) {
        out.append(c);
        depth--;
        return this;
    }

    private void separate() {
        if (afterKey) {
            afterKey = false;
            return;
        }
        if ((nonEmpty & (1L << depth)) != 0) {
            out.append(',');
        }
        nonEmpty |= 1L << depth;
    }

    private void string(String s) {
        out.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default -> {
                    if (c < 0x20 || c == '<' || c == '>' || c == '&' || c == 0x2028 || c == 0x2029) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        out.append('"');
    }
}
