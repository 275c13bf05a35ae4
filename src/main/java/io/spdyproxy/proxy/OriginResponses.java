package io.spdyproxy.proxy;

import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.spdyproxy.tunnel.ResponseHead;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Turns an origin's response heads and trailers into what the proxy writes to a client, trusting nothing:
 * the proxy owns the HTTP/1.1 framing towards clients, so a header that could change where one
 * response ends and the next begins (a second or malformed {@code Content-Length}, a
 * {@code Transfer-Encoding}, CR/LF/NUL anywhere) never reaches a client. A violation throws
 * {@link IllegalArgumentException} with a message for the 502 page or the log.
 *
 * <p>Stateless.
 */
final class OriginResponses {
    /** Fields that frame or route a message: never taken from trailers (RFC 9110 section 6.5.1). */
    private static final Set<String> NOT_IN_TRAILERS = Set.of("content-length", "transfer-encoding", "host",
            "content-type", "content-range", "trailer", "connection", "keep-alive", "upgrade", "te",
            "proxy-connection", "cache-control", "expect", "max-forwards", "pragma", "range", "authorization",
            "set-cookie", "content-encoding");

    private OriginResponses() {}

    /**
     * The response head for the client. Drops what SPDY/3 (section 3.2.2) calls hop-by-hop,
     * and from a 304 the {@code Content-Type} (the original origin labels every reply text/html,
     * and a cache merging the 304 would relabel the file; the original proxy dropped it too).
     */
    static HttpResponse head(ResponseHead head) {
        return head(head, false);
    }

    /**
     * As {@link #head(ResponseHead)}; when {@code upgradeRequested} (the client asked to switch
     * protocols and the stream was left open for it) a {@code 101} is allowed too, and keeps the
     * {@code Upgrade} field the app answered with, with {@code Connection: upgrade}.
     */
    static HttpResponse head(ResponseHead head, boolean upgradeRequested) {
        HttpResponseStatus status = status(head.status(), upgradeRequested);
        String upgrade = null;
        HttpHeaders out = new DefaultHttpHeaders();
        String length = null;
        for (Map.Entry<String, String> e : head.headers()) {
            String name = e.getKey().toString();
            if (name.startsWith(":")) {
                continue;
            }
            checkName(name);
            String value = e.getValue().toString();
            checkValue(name, value);
            String lower = name.toLowerCase(Locale.ROOT);
            switch (lower) {
                case "content-length" -> length = contentLength(length, value);
                case "upgrade" -> upgrade = value;
                case "transfer-encoding", "connection", "keep-alive", "proxy-connection", "te",
                        "trailer", "host" -> { } // hop-by-hop (SPDY/3 section 3.2.2): the proxy frames the reply
                default -> out.add(name, value);
            }
        }
        int code = status.code();
        if (code == 101) {
            if (upgrade == null) {
                throw new IllegalArgumentException("101 without an upgrade header");
            }
            out.set(HttpHeaderNames.UPGRADE, upgrade);
            out.set(HttpHeaderNames.CONNECTION, HttpHeaderValues.UPGRADE);
            return new DefaultHttpResponse(HttpVersion.HTTP_1_1, status, out);
        }
        if (code == 304) {
            out.remove(HttpHeaderNames.CONTENT_TYPE);
        }
        if (length != null && code != 204) {
            out.set(HttpHeaderNames.CONTENT_LENGTH, length);
        }
        return new DefaultHttpResponse(HttpVersion.HTTP_1_1, status, out);
    }

    /** Trailers for the client: checked like headers; framing and routing fields are dropped. */
    static HttpHeaders trailers(HttpHeaders h) {
        HttpHeaders out = new DefaultHttpHeaders();
        for (Map.Entry<String, String> e : h) {
            String name = e.getKey().toString();
            if (name.startsWith(":")) {
                throw new IllegalArgumentException("pseudo-header " + name + " in trailers");
            }
            checkName(name);
            String value = e.getValue().toString();
            checkValue(name, value);
            if (!NOT_IN_TRAILERS.contains(name.toLowerCase(Locale.ROOT))) {
                out.add(name, value);
            }
        }
        return out;
    }

    /**
     * The declared body length of {@code response}, or -1 when it has none (chunked to the client).
     * Only called on heads this class made, whose Content-Length is one run of digits.
     */
    static long declaredLength(HttpResponse response) {
        String v = response.headers().get(HttpHeaderNames.CONTENT_LENGTH);
        return v == null ? -1 : Long.parseLong(v);
    }

    /** {@code :status} as "200" or "200 OK"; SPDY carries no interim (1xx) responses. */
    private static HttpResponseStatus status(String status, boolean upgradeRequested) {
        if (status == null || status.isEmpty()) {
            throw new IllegalArgumentException("missing :status header");
        }
        String s = status.trim();
        int space = s.indexOf(' ');
        String digits = space < 0 ? s : s.substring(0, space);
        if (digits.length() != 3 || !allDigits(digits)) {
            throw new IllegalArgumentException(":status: " + printable(s) + " (expected: a 3-digit code)");
        }
        int code = Integer.parseInt(digits);
        if ((code < 200 || code > 599) && !(code == 101 && upgradeRequested)) {
            throw new IllegalArgumentException(":status: " + code + " (expected: 200 to 599)");
        }
        if (space < 0) {
            return HttpResponseStatus.valueOf(code);
        }
        String reason = s.substring(space + 1);
        for (int i = 0; i < reason.length(); i++) {
            char c = reason.charAt(i);
            if (c < 0x20 && c != '\t' || c == 0x7f) {
                throw new IllegalArgumentException(":status reason phrase contains control characters");
            }
        }
        return new HttpResponseStatus(code, reason);
    }

    /** Repeated or comma-joined values must all be the same run of digits (RFC 9110 section 8.6). */
    private static String contentLength(String previous, String value) {
        for (String part : value.split(",", -1)) {
            String v = part.trim();
            if (v.isEmpty() || v.length() > 18 || !allDigits(v)) {
                throw new IllegalArgumentException("content-length: " + printable(value) + " (expected: digits)");
            }
            String normalized = Long.toString(Long.parseLong(v));
            if (previous != null && !previous.equals(normalized)) {
                throw new IllegalArgumentException("conflicting content-length values: " + previous + " and "
                        + normalized);
            }
            previous = normalized;
        }
        return previous;
    }

    /** A field name is a token (RFC 9110 section 5.1). */
    private static void checkName(String name) {
        if (name.isEmpty()) {
            throw new IllegalArgumentException("empty header name");
        }
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            if (!isTchar(c)) {
                throw new IllegalArgumentException("header name " + printable(name) + " is not a token");
            }
        }
    }

    /** No NUL, CR or LF in a value (RFC 9110 section 5.5): they would split the client's stream. */
    private static void checkValue(String name, String value) {
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (c == '\r' || c == '\n' || c == 0) {
                throw new IllegalArgumentException("header " + name + " has a CR, LF or NUL in its value");
            }
        }
    }

    private static boolean isTchar(char c) {
        return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
                || c < 0x7f && "!#$%&'*+-.^_`|~".indexOf(c) >= 0;
    }

    private static boolean allDigits(String s) {
        for (int i = 0; i < s.length(); i++) {
            if (s.charAt(i) < '0' || s.charAt(i) > '9') {
                return false;
            }
        }
        return true;
    }

    private static String printable(String s) {
        String t = s.length() > 40 ? s.substring(0, 40) + "..." : s;
        return t.replaceAll("[^\\x20-\\x7e]", "?");
    }
}
