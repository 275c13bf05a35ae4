package io.spdyproxy.origin.files;

import static org.assertj.core.api.Assertions.assertThat;

import io.spdyproxy.origin.files.ByteRanges.Ignore;
import io.spdyproxy.origin.files.ByteRanges.Range;
import io.spdyproxy.origin.files.ByteRanges.Result;
import io.spdyproxy.origin.files.ByteRanges.Satisfiable;
import io.spdyproxy.origin.files.ByteRanges.Unsatisfiable;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@code Range: bytes=...} against a representation's size, per RFC 9110 section 14. */
class ByteRangesTest {
    private static final long SIZE = 10_000;

    private static List<Range> ranges(String header, long size) {
        Result r = ByteRanges.parse(header, size);
        assertThat(r).as(header).isInstanceOf(Satisfiable.class);
        return ((Satisfiable) r).ranges();
    }

    @Test
    void noHeaderIsIgnored() {
        assertThat(ByteRanges.parse(null, SIZE)).isInstanceOf(Ignore.class);
    }

    @Test
    void firstAndLastPositions() {
        assertThat(ranges("bytes=0-499", SIZE)).containsExactly(new Range(0, 499));
        assertThat(ranges("bytes=500-999", SIZE)).containsExactly(new Range(500, 999));
        assertThat(ranges("bytes=0-0", SIZE)).containsExactly(new Range(0, 0));
        assertThat(ranges("bytes=9999-9999", SIZE)).containsExactly(new Range(9999, 9999));
        assertThat(ranges("bytes=0-499", SIZE).get(0).length()).isEqualTo(500);
        // Case-insensitive unit, optional whitespace around the list.
        assertThat(ranges("Bytes=1-2", SIZE)).containsExactly(new Range(1, 2));
        assertThat(ranges(" bytes=1-2 , 4-5 ", SIZE)).containsExactly(new Range(1, 2), new Range(4, 5));
    }

    @Test
    void aLastPositionPastTheEndIsClamped() {
        assertThat(ranges("bytes=9500-20000", SIZE)).containsExactly(new Range(9500, 9999));
        assertThat(ranges("bytes=0-" + Long.MAX_VALUE, SIZE)).containsExactly(new Range(0, 9999));
    }

    @Test
    void openEnded() {
        assertThat(ranges("bytes=9500-", SIZE)).containsExactly(new Range(9500, 9999));
        assertThat(ranges("bytes=0-", SIZE)).containsExactly(new Range(0, 9999));
        assertThat(ranges("bytes=9999-", SIZE)).containsExactly(new Range(9999, 9999));
    }

    @Test
    void suffix() {
        assertThat(ranges("bytes=-500", SIZE)).containsExactly(new Range(9500, 9999));
        assertThat(ranges("bytes=-1", SIZE)).containsExactly(new Range(9999, 9999));
        // A suffix longer than the representation is all of it.
        assertThat(ranges("bytes=-10000", SIZE)).containsExactly(new Range(0, 9999));
        assertThat(ranges("bytes=-20000", SIZE)).containsExactly(new Range(0, 9999));
    }

    @Test
    void severalRangesInRequestOrder() {
        assertThat(ranges("bytes=0-9,100-199,-20", SIZE))
                .containsExactly(new Range(0, 9), new Range(100, 199), new Range(9980, 9999));
        assertThat(ranges("bytes=500-599,0-99", SIZE)).containsExactly(new Range(500, 599), new Range(0, 99));
    }

    @Test
    void unsatisfiableParts() {
        assertThat(ByteRanges.parse("bytes=10000-", SIZE)).isInstanceOf(Unsatisfiable.class);
        assertThat(ByteRanges.parse("bytes=10000-10005", SIZE)).isInstanceOf(Unsatisfiable.class);
        assertThat(ByteRanges.parse("bytes=-0", SIZE)).isInstanceOf(Unsatisfiable.class);
        assertThat(ByteRanges.parse("bytes=20000-,30000-40000", SIZE)).isInstanceOf(Unsatisfiable.class);
        // An unsatisfiable part next to a satisfiable one is just left out.
        assertThat(ranges("bytes=20000-,0-9", SIZE)).containsExactly(new Range(0, 9));
        // A zero-length representation satisfies no range at all.
        assertThat(ByteRanges.parse("bytes=0-", 0)).isInstanceOf(Unsatisfiable.class);
        assertThat(ByteRanges.parse("bytes=-5", 0)).isInstanceOf(Unsatisfiable.class);
        assertThat(ByteRanges.parse("bytes=0-0", 0)).isInstanceOf(Unsatisfiable.class);
    }

    @Test
    void otherUnitsAndSyntaxErrorsAreIgnored() {
        for (String h : List.of("items=0-10", "bytes 0-10", "bytes=abc", "bytes=10", "bytes=5-2",
                "bytes=--5", "bytes=-", "bytes=1-2-3", "bytes=0x1-2", "bytes=0-9,abc")) {
            assertThat(ByteRanges.parse(h, SIZE)).as(h).isInstanceOf(Ignore.class);
        }
    }

    @Test
    void anEmptyRangeSetIsASyntaxErrorAndIgnored() {
        // RFC 9110 section 14.1.1: ranges-specifier = range-unit "=" range-set, and range-set is
        // 1#range-spec (at least one). "bytes=" is not a valid ranges-specifier, so (section
        // 14.2) the field is ignored and the whole representation is sent, not a 416.
        assertThat(ByteRanges.parse("bytes=", SIZE)).isInstanceOf(Ignore.class);
        assertThat(ByteRanges.parse("bytes=,", SIZE)).isInstanceOf(Ignore.class);
    }

    @Test
    void abusivePatternsAreServedWhole() {
        StringBuilder many = new StringBuilder("bytes=");
        for (int i = 0; i <= ByteRanges.MAX_RANGES; i++) {
            many.append(i == 0 ? "" : ",").append(i * 10).append('-').append(i * 10 + 1);
        }
        assertThat(ByteRanges.parse(many.toString(), SIZE)).isInstanceOf(Ignore.class);
        // Overlapping ranges asking for more than the file.
        assertThat(ByteRanges.parse("bytes=0-,0-", SIZE)).isInstanceOf(Ignore.class);
        assertThat(ByteRanges.parse("bytes=0-9999,-1", SIZE)).isInstanceOf(Ignore.class);
    }
}
