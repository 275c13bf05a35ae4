package io.spdyproxy.origin.files;

import io.netty.buffer.ByteBuf;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Small files recently served, held in memory for a short validity (like nginx's
 * {@code open_file_cache} with its content): a hit is answered on the event loop with no file
 * system call and no thread hop. Only regular files that passed the root containment check are
 * stored, with the size and modification time their content was read at, so a cached answer is
 * always a coherent (at most {@code validity} old) version of the file. Bounded in bytes; least
 * recently used entries go first. Uploads through this server invalidate their path at once.
 *
 * <p>Threading: safe for any thread (one lock; the work under it is a map operation).
 */
final class FileCache implements AutoCloseable {

    /**
     * One file: its real path, validators and whole content. An entry returned to a caller holds
     * its own reference to the content, which the caller releases; the bytes are never written.
     */
    record Entry(Path real, long size, long lastModifiedMillis, ByteBuf content, long checkedAtNanos,
            Preconditions.Validators validators) {}

    private final long validityNanos;
    private final long maxBytes;
    private final int maxEntryBytes;
    private final LinkedHashMap<String, Entry> entries = new LinkedHashMap<>(256, 0.75f, true);
    private long bytes;
    private boolean closed;
    /** Bumped by every invalidation: a read that began before one must not be stored after it. */
    private long generation;

    FileCache(long validityNanos, long maxBytes, int maxEntryBytes) {
        this.validityNanos = validityNanos;
        this.maxBytes = maxBytes;
        this.maxEntryBytes = maxEntryBytes;
    }

    /** Whether a file of {@code size} bytes is worth storing. */
    boolean fits(long size) {
        return size <= maxEntryBytes && size <= maxBytes;
    }

    /** The entry for {@code key} if it is still valid, else null. */
    synchronized Entry get(String key) {
        Entry e = entries.get(key);
        if (e == null || System.nanoTime() - e.checkedAtNanos() > validityNanos) {
            return null; // absent or stale: the caller checks the file (and may refresh the entry)
        }
        return forCaller(e);
    }

    private static Entry forCaller(Entry e) {
        return new Entry(e.real(), e.size(), e.lastModifiedMillis(), e.content().retainedDuplicate(),
                e.checkedAtNanos(), e.validators());
    }

    /**
     * The entry for {@code key} whatever its age, when its validators still match: the file did
     * not change, so the stored content is refreshed without being read again.
     */
    synchronized Entry revalidate(String key, Path real, long size, long lastModifiedMillis) {
        Entry e = entries.get(key);
        if (e == null || !e.real().equals(real) || e.size() != size || e.lastModifiedMillis() != lastModifiedMillis) {
            return null;
        }
        Entry fresh = new Entry(real, size, lastModifiedMillis, e.content(), System.nanoTime(), e.validators());
        entries.put(key, fresh);
        return forCaller(fresh);
    }

    /** The current generation, to pass to {@link #put} for a read that starts now. */
    synchronized long generation() {
        return generation;
    }

    /**
     * Stores {@code content} (whose reference the caller keeps) and returns the entry; a file too
     * large to store, or read before an invalidation (its {@code generation} is past), comes back
     * as an entry that is not kept.
     */
    synchronized Entry put(String key, Path real, long size, long lastModifiedMillis, ByteBuf content,
            long generation) {
        Entry e = new Entry(real, size, lastModifiedMillis, content, System.nanoTime(),
                Preconditions.Validators.of(size, lastModifiedMillis));
        if (closed || !fits(size) || generation != this.generation) {
            return e;
        }
        // The cache's own reference, with indices of its own: the caller may consume its buffer.
        Entry kept = new Entry(real, size, lastModifiedMillis, content.retainedDuplicate(), e.checkedAtNanos(),
                e.validators());
        Entry old = entries.put(key, kept);
        if (old != null) {
            bytes -= old.size();
            old.content().release();
        }
        bytes += size;
        Iterator<Map.Entry<String, Entry>> it = entries.entrySet().iterator();
        while (bytes > maxBytes && it.hasNext()) {
            Entry eldest = it.next().getValue();
            it.remove();
            bytes -= eldest.size();
            eldest.content().release();
        }
        return e;
    }

    synchronized void invalidate(String key) {
        generation++;
        Entry old = entries.remove(key);
        if (old != null) {
            bytes -= old.size();
            old.content().release();
        }
    }

    @Override
    public synchronized void close() {
        closed = true;
        for (Entry e : entries.values()) {
            e.content().release();
        }
        entries.clear();
        bytes = 0;
    }
}
