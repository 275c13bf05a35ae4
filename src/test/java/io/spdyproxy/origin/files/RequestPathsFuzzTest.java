package io.spdyproxy.origin.files;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.params.provider.Arguments.arguments;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Coverage-guided fuzzing of {@link RequestPaths#decode}, the file server's only defence (with a
 * {@code toRealPath} check behind it) against requests for files outside its root. The request
 * target arrives as SPDY's {@code :path}, which Netty decodes as UTF-8, so the input's bytes are
 * decoded the same way. For any target:
 * <ul>
 *   <li>it is refused with {@link RequestPaths.BadPath} (400) or decoded; nothing else is thrown;
 *   <li>a decoded path's segments are each one plain file name: not empty, not {@code .} or
 *       {@code ..}, without {@code /}, {@code \} or NUL;
 *   <li>resolved under a root the way {@code StaticFileHandler} does, they name a path inside the
 *       root that normalizing does not change, one name per segment;
 *   <li>percent-encoding the segments again and decoding gives the same segments.
 * </ul>
 * Timeout: see {@code SpdySessionFuzzTest}.
 */
@Timeout(value = 1, unit = TimeUnit.DAYS)
class RequestPathsFuzzTest {
    private static final Path ROOT = Path.of("/srv/files");

    @MethodSource("seeds")
    @FuzzTest(maxDuration = "10s")
    void requestTarget(byte[] input) {
        String uri = new String(input, UTF_8);
        RequestPaths.Decoded d;
        try {
            d = RequestPaths.decode(uri);
        } catch (RequestPaths.BadPath e) {
            if (e.status != 400) {
                throw new AssertionError("refused with " + e.status + ": " + uri);
            }
            return;
        }
        Path resolved = ROOT;
        for (String seg : d.segments()) {
            if (seg.isEmpty() || seg.equals(".") || seg.equals("..") || seg.indexOf('/') >= 0
                    || seg.indexOf('\\') >= 0 || seg.indexOf('\0') >= 0) {
                throw new AssertionError("segment '" + seg + "' from " + uri);
            }
            resolved = resolved.resolve(seg);
        }
        if (!resolved.startsWith(ROOT) || !resolved.normalize().equals(resolved)
                || resolved.getNameCount() != ROOT.getNameCount() + d.segments().size()) {
            throw new AssertionError(uri + " resolves to " + resolved);
        }
        if (d.path().indexOf('\0') >= 0 || d.path().indexOf('\\') >= 0) {
            throw new AssertionError("decoded path with NUL or backslash: " + d.path());
        }
        // Round trip: the segments, encoded again, decode to themselves.
        StringBuilder again = new StringBuilder();
        for (String seg : d.segments()) {
            again.append('/').append(encode(seg));
        }
        if (again.length() == 0 || d.directoryForm()) {
            again.append('/');
        }
        RequestPaths.Decoded twice;
        try {
            twice = RequestPaths.decode(again.toString());
        } catch (RequestPaths.BadPath e) {
            throw new AssertionError(uri + " decodes, but its segments encoded again (" + again + ") do not");
        }
        // Directory form is compared only below the root: "/." and "//." are the root without a slash.
        if (!twice.segments().equals(d.segments())
                || !d.segments().isEmpty() && twice.directoryForm() != d.directoryForm()) {
            throw new AssertionError(uri + " -> " + d.segments() + ", encoded again -> " + twice.segments());
        }
    }

    /** Percent-encodes everything but RFC 3986 unreserved characters, as UTF-8. */
    private static String encode(String segment) {
        StringBuilder sb = new StringBuilder();
        for (byte b : segment.getBytes(UTF_8)) {
            char c = (char) (b & 0xFF);
            if (c < 0x80 && (Character.isLetterOrDigit(c) || "-._~".indexOf(c) >= 0)) {
                sb.append(c);
            } else {
                sb.append('%').append(Character.forDigit((b >> 4) & 0xF, 16)).append(Character.forDigit(b & 0xF, 16));
            }
        }
        return sb.toString();
    }

    static Stream<Arguments> seeds() {
        return List.of("/", "/music/a.mp3", "/dir/?sort=name", "/a/b.txt?x=1&y=/../..#frag", "/with%20space.txt",
                "/100%25.txt", "/caf%C3%A9/%e2%82%ac", "/café", "/%F0%9F%8E%B5.mp3", "/%252e%252e/etc/passwd",
                "/./a//b/./", "/..a/b..", "/../etc/passwd", "/%2e%2e/x", "/.%2e/x", "/a%2f..%2f..%2fx", "/a%00.jpg",
                "/..%5cetc", "/%c0%ae%c0%ae/x", "/%ed%a0%80", "/%", "/%4", "/%zz", "a/b", "", "/a b.txt", "/a#b.txt")
                .stream().map(s -> arguments(Named.of(s.isEmpty() ? "(empty)" : s, s.getBytes(UTF_8))));
    }
}
