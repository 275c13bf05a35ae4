package io.spdyproxy.origin.files;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;

/**
 * How the static file server behaves.
 *
 * @param root the directory served; nothing outside its real path is ever read or written
 * @param showHidden list and serve dot-files
 * @param allowUploads accept PUT into the root (written to a temporary file, renamed when complete)
 * @param chunkSize bytes read from a file per chunk sent
 * @param ioThreads threads for file system calls, which may block and so stay off event loops
 * @param cacheValidity how long a small file (up to {@code chunkSize}) read once is answered from
 *     memory without looking at the disk again; zero turns the cache off
 * @param cacheBytes the most bytes of file content held in memory by that cache
 */
public record FileServerConfig(Path root, boolean showHidden, boolean allowUploads, int chunkSize, int ioThreads,
        Duration cacheValidity, long cacheBytes) {

    /** The default cache validity: a changed file shows within a second. */
    public static final Duration DEFAULT_CACHE_VALIDITY = Duration.ofSeconds(1);

    public FileServerConfig {
        Objects.requireNonNull(root, "root");
        if (chunkSize <= 0) {
            throw new IllegalArgumentException("chunkSize: " + chunkSize + " (expected: > 0)");
        }
        if (ioThreads <= 0) {
            throw new IllegalArgumentException("ioThreads: " + ioThreads + " (expected: > 0)");
        }
        Objects.requireNonNull(cacheValidity, "cacheValidity");
        if (cacheValidity.isNegative() || cacheBytes < 0) {
            throw new IllegalArgumentException("cacheValidity: " + cacheValidity + ", cacheBytes: " + cacheBytes
                    + " (expected: >= 0)");
        }
    }

    /** Serves {@code root} read-only, hidden files hidden, 64 KiB chunks, small files cached 1 s (64 MiB). */
    public static FileServerConfig of(Path root) {
        return new FileServerConfig(root, false, false, 64 * 1024,
                Math.max(4, 2 * Runtime.getRuntime().availableProcessors()), DEFAULT_CACHE_VALIDITY, 64L << 20);
    }

    public FileServerConfig withShowHidden(boolean v) {
        return new FileServerConfig(root, v, allowUploads, chunkSize, ioThreads, cacheValidity, cacheBytes);
    }

    public FileServerConfig withAllowUploads(boolean v) {
        return new FileServerConfig(root, showHidden, v, chunkSize, ioThreads, cacheValidity, cacheBytes);
    }

    public FileServerConfig withCacheValidity(Duration v) {
        return new FileServerConfig(root, showHidden, allowUploads, chunkSize, ioThreads, v, cacheBytes);
    }
}
