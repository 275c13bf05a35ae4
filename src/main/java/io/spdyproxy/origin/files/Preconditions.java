package io.spdyproxy.origin.files;

import io.netty.handler.codec.DateFormatter;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import java.util.Date;

/**
 * Validators of a file and the evaluation of conditional requests in the order of RFC 9110
 * section 13.2.2: If-Match, If-Unmodified-Since, If-None-Match, If-Modified-Since; and If-Range
 * (section 13.1.5), which decides whether a Range is honoured.
 */
final class Preconditions {

    /** What the preconditions say to do. */
    enum Outcome {
        PROCEED,
        NOT_MODIFIED,
        PRECONDITION_FAILED
    }

    /** A file's validators: a strong ETag from size and mtime, and Last-Modified in seconds. */
    record Validators(String etag, long lastModifiedMillis, String lastModified) {
        static Validators of(long size, long mtimeMillis) {
            return new Validators('"' + Long.toHexString(size) + '-' + Long.toHexString(mtimeMillis) + '"',
                    mtimeMillis, DateFormatter.format(new Date(mtimeMillis)));
        }

        long lastModifiedSeconds() {
            return lastModifiedMillis / 1000;
        }
    }

    private Preconditions() {}

    static Outcome evaluate(HttpHeaders h, Validators v, boolean getOrHead) {
        String ifMatch = h.get(HttpHeaderNames.IF_MATCH);
        if (ifMatch != null) {
            if (!matches(ifMatch, v.etag(), true)) {
                return Outcome.PRECONDITION_FAILED;
            }
        } else {
            Long since = date(h.get(HttpHeaderNames.IF_UNMODIFIED_SINCE));
            if (since != null && v.lastModifiedSeconds() > since) {
                return Outcome.PRECONDITION_FAILED;
            }
        }
        String ifNoneMatch = h.get(HttpHeaderNames.IF_NONE_MATCH);
        if (ifNoneMatch != null) {
            if (matches(ifNoneMatch, v.etag(), false)) {
                return getOrHead ? Outcome.NOT_MODIFIED : Outcome.PRECONDITION_FAILED;
            }
        } else if (getOrHead) {
            Long since = date(h.get(HttpHeaderNames.IF_MODIFIED_SINCE));
            if (since != null && v.lastModifiedSeconds() <= since) {
                return Outcome.NOT_MODIFIED;
            }
        }
        return Outcome.PROCEED;
    }

    /** True when a Range may be honoured: no If-Range, or one that still names this file. */
    static boolean rangeApplies(HttpHeaders h, Validators v) {
        String ifRange = h.get(HttpHeaderNames.IF_RANGE);
        if (ifRange == null) {
            return true;
        }
        String t = ifRange.trim();
        if (t.startsWith("\"") || t.startsWith("W/")) {
            return t.equals(v.etag()); // strong comparison; a weak tag never matches
        }
        Long date = date(t);
        return date != null && date == v.lastModifiedSeconds();
    }

    private static boolean matches(String header, String etag, boolean strong) {
        String opaque = etag;
        for (String raw : header.split(",")) {
            String t = raw.trim();
            if (t.equals("*")) {
                return true;
            }
            if (t.startsWith("W/")) {
                if (strong) {
                    continue;
                }
                t = t.substring(2);
            }
            if (t.equals(opaque)) {
                return true;
            }
        }
        return false;
    }

    private static Long date(String value) {
        if (value == null) {
            return null;
        }
        Date d = DateFormatter.parseHttpDate(value.trim());
        return d == null ? null : d.getTime() / 1000;
    }
}
