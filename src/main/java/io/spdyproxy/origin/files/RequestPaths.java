package io.spdyproxy.origin.files;

import io.spdyproxy.http.RequestTargets;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Turns a request target into the path segments of a file under the root, refusing anything that
 * could name a file outside it. A path the original proxy sent decoded ({@code /a b.txt},
 * {@code /a#b.txt}, {@code /100%.txt}) is first escaped by {@link RequestTargets} (which says how
 * the two forms are told apart); then decoding is done once and strictly: invalid or overlong UTF-8
 * (e.g. {@code %c0%ae}), NUL, backslashes and dot segments are errors, never silently repaired.
 * Double encoding ({@code %252e}) decodes to a literal {@code %2e} name.
 */
final class RequestPaths {

    /** Why a path was refused, as an HTTP status. */
    static final class BadPath extends Exception {
        private static final long serialVersionUID = 1L;
        final int status;

        BadPath(int status, String message) {
            super(message, null, false, false);
            this.status = status;
        }
    }

    /** The decoded path and its segments; {@code directoryForm} when it ends with '/'. */
    record Decoded(String path, List<String> segments, boolean directoryForm) {}

    private RequestPaths() {}

    static Decoded decode(String uri) throws BadPath {
        String target;
        try {
            target = RequestTargets.fromSpdyPath(uri); // unchanged when already encoded
        } catch (IllegalArgumentException e) {
            throw new BadPath(400, e.getMessage());
        }
        // No fragment to cut: a '#' in :path is part of the name and arrives escaped.
        int q = target.indexOf('?');
        String raw = q < 0 ? target : target.substring(0, q);
        if (raw.isEmpty() || raw.charAt(0) != '/') {
            throw new BadPath(400, "request target must start with '/'");
        }
        String path = percentDecode(raw);
        if (path.indexOf('\0') >= 0 || path.indexOf('\\') >= 0) {
            throw new BadPath(400, "NUL or backslash in path");
        }
        List<String> segments = new ArrayList<>();
        for (String seg : path.split("/", -1)) {
            if (seg.isEmpty() || seg.equals(".")) {
                continue;
            }
            if (seg.equals("..")) {
                throw new BadPath(400, "'..' in path");
            }
            segments.add(seg);
        }
        return new Decoded(path, List.copyOf(segments), path.endsWith("/"));
    }

    private static String percentDecode(String raw) throws BadPath {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(raw.length());
        for (int i = 0; i < raw.length(); i++) {
            char c = raw.charAt(i);
            if (c == '%') {
                if (i + 2 >= raw.length()) {
                    throw new BadPath(400, "truncated percent escape");
                }
                int hi = Character.digit(raw.charAt(i + 1), 16);
                int lo = Character.digit(raw.charAt(i + 2), 16);
                if (hi < 0 || lo < 0) {
                    throw new BadPath(400, "malformed percent escape");
                }
                bytes.write(hi << 4 | lo);
                i += 2;
            } else if (c > 0x7F) {
                throw new BadPath(400, "unescaped non-ASCII in path"); // RequestTargets escaped it
            } else {
                bytes.write(c);
            }
        }
        try {
            // Strict: the JDK decoder rejects overlong forms and surrogates when told to report.
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes.toByteArray()))
                    .toString();
        } catch (CharacterCodingException e) {
            throw new BadPath(400, "path is not valid UTF-8");
        }
    }
}
