package io.spdyproxy.testing;

import java.nio.file.Files;
import java.nio.file.Path;

/** Where the original's media files are: {@code ../shared/testdata} beside the checkout, when present. */
public final class TestData {
    private TestData() {}

    public static Path dir() {
        Path beside = Path.of("..", "shared", "testdata").toAbsolutePath().normalize();
        return Files.isDirectory(beside) ? beside : Path.of("/work/shared/testdata");
    }
}
