package io.spdyproxy.http;

import java.nio.charset.StandardCharsets;

/**
 * Turns a SYN_STREAM's {@code :path} into a valid HTTP/1.1 origin-form request target (RFC 9112
 * section 3.2.1), whichever way the peer spelled it.
 *
 * <p>SPDY/3 section 3.2.1 asks for the path as in a URL, percent-encoded (RFC 3986 section 3.3),
 * and that is what our proxy sends. The original Go proxy puts the <em>decoded</em> path there
 * instead (PROTOCOL.md, "The legacy proxy puts the decoded URL path into :path"): {@code /a b.txt},
 * {@code /a#b.txt} and {@code /café.txt} arrive as such, the query as the client sent it. The two
 * are told apart by what an encoded path cannot hold:
 * <ul>
 *   <li>A path holding a character that RFC 3986 never allows unescaped and that browsers always
 *       escape (WHATWG URL, path percent-encode set): a control, space, {@code " # < > ` { }}, or
 *       anything outside ASCII; or a {@code %} not followed by two hex digits (RFC 3986 section
 *       2.1). Such a path is decoded already and is taken literally: every character outside
 *       {@code pchar} and {@code /} (RFC 3986 section 3.3) is percent-encoded as UTF-8, {@code %}
 *       included, so {@code /100%.txt} names the file {@code 100%.txt}.</li>
 *   <li>Any other path is taken as encoded and passes unchanged, to be decoded once by whoever
 *       reads it, as before.</li>
 * </ul>
 * The ambiguity is inherent: a decoded name that looks encoded and holds nothing else to mark it
 * ({@code 100%25.txt} sent by the original proxy) is decoded once more ({@code 100%.txt}).
 *
 * <p>The path ends at the first {@code ?}. {@code #} never starts a fragment here: a fragment is
 * not part of a request target (RFC 9112 section 3.2), so in {@code :path} it belongs to the name.
 * The query stays as sent, except that characters which cannot appear in a request line (controls,
 * space, {@code " # < > ` { }}, non-ASCII) are percent-encoded: nothing a peer sends may split or
 * extend the request line an HTTP/1.1 app will read.
 */
public final class RequestTargets {
    private static final char REPLACEMENT = '\uFFFD';
    private static final char[] HEX = "0123456789ABCDEF".toCharArray();

    private RequestTargets() {}

    /**
     * The request target for {@code :path}. Netty's SPDY header decoder reads values as UTF-8 (its
     * encoder writes one byte per char), so the raw UTF-8 bytes of a decoded path arrive here as the
     * characters they spell, and U+FFFD in place of bytes that were not UTF-8: the name the peer
     * meant is lost, and that throws {@link IllegalArgumentException} (answered with 400).
     */
    public static String fromSpdyPath(String path) {
        if (path.indexOf(REPLACEMENT) >= 0) {
            throw new IllegalArgumentException(":path is not valid UTF-8");
        }
        int q = path.indexOf('?');
        String rawPath = q < 0 ? path : path.substring(0, q);
        String query = q < 0 ? null : path.substring(q + 1);
        String target = isDecoded(rawPath) ? encode(rawPath, true) : rawPath;
        if (query == null) {
            return target;
        }
        return target + "?" + (needsEscape(query) ? encode(query, false) : query);
    }

    /** True when {@code path} cannot be an encoded path (see the class comment). */
    static boolean isDecoded(String path) {
        for (int i = 0; i < path.length(); i++) {
            char c = path.charAt(i);
            if (neverRaw(c)) {
                return true;
            }
            if (c == '%' && (i + 2 >= path.length() || !isHex(path.charAt(i + 1)) || !isHex(path.charAt(i + 2)))) {
                return true;
            }
        }
        return false;
    }

    private static boolean needsEscape(String s) {
        for (int i = 0; i < s.length(); i++) {
            if (neverRaw(s.charAt(i))) {
                return true;
            }
        }
        return false;
    }

    /** Characters no encoded URI holds and no browser sends unescaped. */
    private static boolean neverRaw(char c) {
        return c <= 0x20 || c >= 0x7F || c == '"' || c == '#' || c == '<' || c == '>' || c == '`' || c == '{'
                || c == '}';
    }

    /**
     * Percent-encodes, as UTF-8, every character of a literal path outside {@code pchar / "/"}
     * ({@code wholePath}); or, in a query, only those {@link #neverRaw} (its escapes stay as sent).
     */
    private static String encode(String s, boolean wholePath) {
        StringBuilder b = new StringBuilder(s.length() + 16);
        for (int i = 0; i < s.length(); ) {
            int cp = s.codePointAt(i);
            int n = Character.charCount(cp);
            if (cp >= Character.MIN_SURROGATE && cp <= Character.MAX_SURROGATE) {
                throw new IllegalArgumentException(":path holds an unpaired surrogate"); // no UTF-8 for it
            }
            boolean keep = cp < 0x80 && (wholePath ? isPathChar((char) cp) : !neverRaw((char) cp));
            if (keep) {
                b.append((char) cp);
            } else {
                for (byte x : s.substring(i, i + n).getBytes(StandardCharsets.UTF_8)) {
                    b.append('%').append(HEX[(x >> 4) & 0xF]).append(HEX[x & 0xF]);
                }
            }
            i += n;
        }
        return b.toString();
    }

    /** RFC 3986 section 3.3: {@code pchar = unreserved / sub-delims / ":" / "@"}, plus "/". */
    private static boolean isPathChar(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                || "-._~!$&'()*+,;=:@/".indexOf(c) >= 0;
    }

    private static boolean isHex(char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    }
}
