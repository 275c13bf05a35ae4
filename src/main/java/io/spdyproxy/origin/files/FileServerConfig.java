package io.spdyproxy.origin.files;

import java.nio.file.Path;
import java.util.Objects;

/**
 * How the static file server behaves.
 *
 * @param root the directory served; nothing outside its real path is ever read or written
 * @param showHidden list and serve dot-files
 * @param allowUploads accept PUT into the root (written to a temporary file, renamed when complete)
 * @param chunkSize bytes read from a file per chunk sent
 * @param ioThreads threads for file system calls, which may block and so stay off event loops
 */
public record FileServerConfig(Path root, boolean showHidden, boolean allowUploads, int chunkSize, int ioThreads) {

    public FileServerConfig {
        Objects.requireNonNull(root, "root");
        if (chunkSize <= 0) {
            throw new IllegalArgumentException("chunkSize: " + chunkSize + " (expected: > 0)");
        }
        if (ioThreads <= 0) {
            throw new IllegalArgumentException("ioThreads: " + ioThreads + " (expected: > 0)");
        }
    }

    /** Serves {@code root} read-only, hidden files hidden, 64 KiB chunks. */
    public static FileServerConfig of(Path root) {
        return new FileServerConfig(root, false, false, 64 * 1024,
                Math.max(4, 2 * Runtime.getRuntime().availableProcessors()));
    }

    public FileServerConfig withShowHidden(boolean v) {
        return new FileServerConfig(root, v, allowUploads, chunkSize, ioThreads);
    }

    public FileServerConfig withAllowUploads(boolean v) {
        return new FileServerConfig(root, showHidden, v, chunkSize, ioThreads);
    }
}
