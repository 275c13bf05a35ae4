package io.spdyproxy.observe.accesslog;

/** Escaping of client-chosen text for log lines. Stateless. */
final class Escapes {
    private static final char[] HEX = "0123456789ABCDEF".toCharArray();

    private Escapes() {}

    /**
     * As nginx escapes its log variables: {@code "} and {@code \} and every character outside
     * printable ASCII as {@code \xHH} (UTF-8 bytes for characters beyond Latin-1).
     */
    static void clf(StringBuilder b, String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
                b.append(c);
            } else if (c < 0x100) {
                hexByte(b, c);
            } else {
                int cp = s.codePointAt(i);
                if (Character.charCount(cp) == 2) {
                    i++;
                }
                for (byte x : new String(Character.toChars(cp)).getBytes(java.nio.charset.StandardCharsets.UTF_8)) {
                    hexByte(b, x & 0xff);
                }
            }
        }
    }

    private static void hexByte(StringBuilder b, int v) {
        b.append("\\x").append(HEX[v >> 4]).append(HEX[v & 0xf]);
    }

    /**
     * A JSON string's content (RFC 8259 section 7): quote, backslash and control characters
     * escaped, DEL and the line/paragraph separators too (they break some line readers).
     */
    static void json(StringBuilder b, String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                default -> {
                    if (c < 0x20 || c == 0x7f || c == '\u2028' || c == '\u2029') {
                        b.append("\\u").append(HEX[c >> 12]).append(HEX[(c >> 8) & 0xf])
                                .append(HEX[(c >> 4) & 0xf]).append(HEX[c & 0xf]);
                    } else {
                        b.append(c);
                    }
                }
            }
        }
    }
}
