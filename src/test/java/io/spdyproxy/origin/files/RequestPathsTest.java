package io.spdyproxy.origin.files;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatNoException;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Request targets to path segments under the root; anything that could escape it is refused. */
class RequestPathsTest {

    private static RequestPaths.Decoded decode(String uri) throws RequestPaths.BadPath {
        return RequestPaths.decode(uri);
    }

    private static int refusal(String uri) {
        RequestPaths.BadPath e = catchThrowableOfType(RequestPaths.BadPath.class, () -> RequestPaths.decode(uri));
        assertThat(e).as("%s must be refused", uri).isNotNull();
        return e.status;
    }

    @Test
    void plainPaths() throws Exception {
        RequestPaths.Decoded root = decode("/");
        assertThat(root.segments()).isEmpty();
        assertThat(root.directoryForm()).isTrue();
        assertThat(root.path()).isEqualTo("/");

        RequestPaths.Decoded file = decode("/music/a.mp3");
        assertThat(file.segments()).containsExactly("music", "a.mp3");
        assertThat(file.directoryForm()).isFalse();
        assertThat(file.path()).isEqualTo("/music/a.mp3");

        assertThat(decode("/music/").directoryForm()).isTrue();
        assertThat(decode("/music/").segments()).containsExactly("music");
    }

    @Test
    void theQueryIsNotPartOfThePath() throws Exception {
        RequestPaths.Decoded d = decode("/a/b.txt?x=1&y=/../..#frag");
        assertThat(d.segments()).containsExactly("a", "b.txt");
        assertThat(d.path()).isEqualTo("/a/b.txt");
        assertThat(decode("/dir/?sort=name").directoryForm()).isTrue();
    }

    /** What the original Go proxy sends (PROTOCOL.md): the decoded path, '#' part of the name. */
    @Test
    void decodedPathsNameTheFileLiterally() throws Exception {
        assertThat(decode("/a b.txt").segments()).containsExactly("a b.txt");
        assertThat(decode("/a#b.txt").segments()).containsExactly("a#b.txt");
        assertThat(decode("/café.txt").segments()).containsExactly("café.txt");
        assertThat(decode("/dir name/a#b c.txt?x=1").segments()).containsExactly("dir name", "a#b c.txt");
        assertThat(decode("/x#/").directoryForm()).isTrue();
        assertThat(decode("/100% sure.txt").segments()).containsExactly("100% sure.txt");
        assertThat(decode("/a b%20c.txt").segments()).as("literal: no second decode").containsExactly("a b%20c.txt");
        // A '%' not followed by two hex digits cannot start an escape: a literal '%'.
        for (String name : List.of("%", "a%", "a%4", "%zz", "%g0", "%%41", "100%.txt")) {
            assertThat(decode("/" + name).segments()).as(name).containsExactly(name);
        }
        // What our proxy sends for the same names.
        assertThat(decode("/a%20b.txt").segments()).containsExactly("a b.txt");
        assertThat(decode("/a%23b.txt").segments()).containsExactly("a#b.txt");
        assertThat(decode("/caf%C3%A9.txt").segments()).containsExactly("café.txt");
    }

    @Test
    void decodedPathsCannotEscapeTheRootEither() {
        for (String uri : List.of("/a b/../../etc/passwd", "/../a b", "/a b/..", "/ ..\\etc", "/a b\\..\\x",
                "/a b\u0000.txt", "/#/../x", "/café/../../x")) {
            assertThat(refusal(uri)).as(uri).isEqualTo(400);
        }
        // Escapes inside a decoded path are literal characters: "%2e%2e" is a name, not "..".
        assertThatNoException().isThrownBy(() -> assertThat(decode("/a b/%2e%2e/x").segments())
                .containsExactly("a b", "%2e%2e", "x"));
        // Bytes that were not UTF-8 arrive as U+FFFD from the header decoder: the name is lost.
        assertThat(refusal("/caf\uFFFD.txt")).isEqualTo(400);
    }

    @Test
    void percentEscapesDecodeOnceAsUtf8() throws Exception {
        assertThat(decode("/with%20space.txt").segments()).containsExactly("with space.txt");
        assertThat(decode("/100%25.txt").segments()).containsExactly("100%.txt");
        assertThat(decode("/%3Ca%26b%3E.mp4").segments()).containsExactly("<a&b>.mp4");
        assertThat(decode("/caf%C3%A9/%e2%82%ac").segments()).containsExactly("café", "€");
        assertThat(decode("/café").segments()).containsExactly("café");
        assertThat(decode("/%F0%9F%8E%B5.mp3").segments()).containsExactly("\uD83C\uDFB5.mp3");
        // Double encoding: one decode gives the literal name "%2e%2e", which is harmless.
        assertThat(decode("/%252e%252e/etc/passwd").segments()).containsExactly("%2e%2e", "etc", "passwd");
        assertThat(decode("/%252e%252e/").segments()).containsExactly("%2e%2e");
    }

    @Test
    void emptyAndDotSegmentsCollapse() throws Exception {
        assertThat(decode("/./a//b/./").segments()).containsExactly("a", "b");
        assertThat(decode("//a").segments()).containsExactly("a");
        assertThat(decode("/...").segments()).containsExactly("...");
        assertThat(decode("/..a/b..").segments()).containsExactly("..a", "b..");
    }

    @Test
    void dotDotInAnySpellingIsRefused() {
        for (String uri : List.of("/..", "/../", "/../etc/passwd", "/a/../../etc/passwd", "/a/..",
                "/%2e%2e/etc/passwd", "/%2E%2E/etc/passwd", "/.%2e/x", "/%2e./x",
                "/%2e%2e%2fetc%2fpasswd", "/a%2f..%2f..%2fx")) {
            assertThat(refusal(uri)).as(uri).isEqualTo(400);
        }
    }

    @Test
    void backslashesAndNulAreRefused() {
        for (String uri : List.of("/..\\etc\\passwd", "/a\\b", "/..%5cetc%5cpasswd", "/%5C", "/a%00",
                "/a%00.jpg", "/%00")) {
            assertThat(refusal(uri)).as(uri).isEqualTo(400);
        }
    }

    @Test
    void invalidOrOverlongUtf8IsRefused() {
        for (String uri : List.of("/%c0%ae%c0%ae/etc/passwd", "/%c0%af", "/%e0%80%ae%e0%80%ae/x",
                "/%c1%9c", "/%ff", "/%80", "/%c3", "/%ed%a0%80", "/%f8%80%80%80%ae")) {
            assertThat(refusal(uri)).as(uri).isEqualTo(400);
        }
    }

    @Test
    void onlyOriginFormIsAccepted() {
        for (String uri : List.of("", "a/b", "*", "https://example.com/x", "?x=1")) {
            assertThat(refusal(uri)).as(uri).isEqualTo(400);
        }
        assertThatThrownBy(() -> decode("../x")).isInstanceOf(RequestPaths.BadPath.class);
    }
}
