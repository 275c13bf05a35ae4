package io.spdyproxy.origin.files;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.params.provider.Arguments.arguments;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.spdyproxy.origin.files.ByteRanges.Range;
import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Coverage-guided fuzzing of {@link ByteRanges#parse}, which decides what part of a file a
 * {@code Range} header gets (RFC 9110 section 14). For any header and file size:
 * <ul>
 *   <li>nothing is thrown;
 *   <li>satisfiable ranges are 1 to {@link ByteRanges#MAX_RANGES}, each within the file
 *       ({@code 0 <= first <= last < size}), and several together never ask for more bytes than
 *       the file has (the parser's promise against overlapping-range amplification);
 *   <li>a header is only honoured (206 or 416) when it is a well-formed {@code bytes} range set:
 *       positions are ASCII digits (RFC 9110 section 14.1.1, {@code 1*DIGIT}); anything else is a
 *       syntax error, and the header is ignored as the parser documents.
 * </ul>
 *
 * <p>Input layout: bytes 0-6 are the file size (big-endian, below 2^53), the rest is the header
 * value as UTF-8 (SPDY header values are decoded as UTF-8). Timeout: see {@code SpdySessionFuzzTest}.
 */
@Timeout(value = 1, unit = TimeUnit.DAYS)
class ByteRangesFuzzTest {
    /** One range-spec as the parser reads it: whitespace it trims, positions of ASCII digits. */
    private static final Pattern SPEC = Pattern.compile("[0-9]+[\\x00-\\x20]*-[\\x00-\\x20]*[0-9]*|-[\\x00-\\x20]*[0-9]+");

    @MethodSource("seeds")
    @FuzzTest(maxDuration = "10s")
    void rangeHeader(byte[] input) {
        long size = 0;
        for (int i = 0; i < 7 && i < input.length; i++) {
            size = size << 8 | (input[i] & 0xFF);
        }
        size &= (1L << 53) - 1;
        String header = input.length > 7 ? new String(input, 7, input.length - 7, UTF_8) : null;
        ByteRanges.Result r = ByteRanges.parse(header, size);
        if (r instanceof ByteRanges.Ignore) {
            return;
        }
        if (!wellFormed(header)) {
            throw new AssertionError("'" + header + "' is not a well-formed range set, yet it got " + r);
        }
        if (r instanceof ByteRanges.Satisfiable s) {
            if (s.ranges().isEmpty() || s.ranges().size() > ByteRanges.MAX_RANGES) {
                throw new AssertionError(s.ranges().size() + " ranges for '" + header + "'");
            }
            long total = 0;
            for (Range range : s.ranges()) {
                if (range.first() < 0 || range.first() > range.last() || range.last() >= size) {
                    throw new AssertionError(range + " of a " + size + "-byte file, for '" + header + "'");
                }
                total += range.length();
            }
            if (s.ranges().size() > 1 && total > size) {
                throw new AssertionError(total + " bytes of a " + size + "-byte file, for '" + header + "'");
            }
        }
    }

    /** {@code bytes=} (any case) and a list of range-specs, empty elements allowed, at least one spec. */
    private static boolean wellFormed(String header) {
        String h = header.trim();
        if (!h.regionMatches(true, 0, "bytes=", 0, 6)) {
            return false;
        }
        boolean any = false;
        for (String spec : h.substring(6).split(",", -1)) {
            String s = spec.trim();
            if (s.isEmpty()) {
                continue;
            }
            if (!SPEC.matcher(s).matches()) {
                return false;
            }
            any = true;
        }
        return any;
    }

    static Stream<Arguments> seeds() {
        return Stream.of(
                seed(10_000, "bytes=0-499"), seed(10_000, "bytes=9500-"), seed(10_000, "bytes=-500"),
                seed(10_000, " bytes=1-2 , 4-5 "), seed(10_000, "bytes=0-9,100-199,-20"), seed(10_000, "Bytes=1-2"),
                seed(10_000, "bytes=20000-,0-9"), seed(0, "bytes=0-"), seed(10_000, "bytes=0-,0-"),
                seed(10_000, "bytes=0-9999,-1"), seed(10_000, "items=0-10"), seed(10_000, "bytes=5-2"),
                seed(10_000, "bytes="), seed(10_000, "bytes=,"), seed(1, "bytes=0-0"),
                seed(10_000, "bytes=0-" + Long.MAX_VALUE), seed(10_000, "bytes=-0"));
    }

    private static Arguments seed(long size, String header) {
        byte[] h = header.getBytes(UTF_8);
        ByteBuffer b = ByteBuffer.allocate(7 + h.length);
        for (int i = 6; i >= 0; i--) {
            b.put((byte) (size >>> (8 * i)));
        }
        b.put(h);
        return arguments(Named.of(size + " " + header, b.array()));
    }
}
