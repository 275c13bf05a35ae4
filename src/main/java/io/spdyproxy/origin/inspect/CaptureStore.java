package io.spdyproxy.origin.inspect;

import io.netty.handler.codec.http.HttpRequest;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;

/**
 * The ring of recent captures: at most {@code maxEntries}, holding at most {@code maxBytes} of
 * copied heads and bodies; the oldest go first when either bound is reached, in flight or not, so
 * memory is fixed whatever the traffic does. A version number counts every change, for the page's
 * cheap "anything new?" question.
 *
 * <p>Threading: every method locks this object (captures lock it too while they copy).
 */
final class CaptureStore {
    private final int maxEntries;
    private final long maxBytes;
    private final int bodyLimit;
    private final LinkedHashMap<Long, Capture> entries = new LinkedHashMap<>();
    private long nextId = 1;
    private long bytes;
    private long version;

    CaptureStore(int maxEntries, long maxBytes, int bodyLimit) {
        if (maxEntries <= 0) {
            throw new IllegalArgumentException("maxEntries: " + maxEntries + " (expected: > 0)");
        }
        if (maxBytes < 2L * bodyLimit) {
            throw new IllegalArgumentException("maxBytes: " + maxBytes + " (expected: >= " + 2L * bodyLimit + ")");
        }
        this.maxEntries = maxEntries;
        this.maxBytes = maxBytes;
        this.bodyLimit = bodyLimit;
    }

    /** A new capture for {@code request}, the newest entry; {@code replayOf} 0 when not a replay. */
    synchronized Capture begin(HttpRequest request, String scheme, long replayOf) {
        Capture c = new Capture(this, nextId++, replayOf, request, scheme, bodyLimit);
        entries.put(c.id, c);
        while (entries.size() > maxEntries) {
            evictOldest();
        }
        charge(c, c.headBytes());
        return c;
    }

    /** Called by {@code c} under this lock for bytes it copied. */
    void charge(Capture c, long n) {
        version++;
        if (n <= 0) {
            return;
        }
        if (!entries.containsKey(c.id)) {
            c.drop(); // already evicted: keep nothing
            return;
        }
        c.charge(n);
        bytes += n;
        while (bytes > maxBytes && !entries.isEmpty()) {
            evictOldest();
        }
    }

    void changed() {
        version++;
    }

    synchronized Capture get(long id) {
        return entries.get(id);
    }

    /** Newest first. */
    synchronized List<Capture> newestFirst() {
        List<Capture> out = new ArrayList<>(entries.values());
        java.util.Collections.reverse(out);
        return out;
    }

    synchronized long version() {
        return version;
    }

    synchronized long bytes() {
        return bytes;
    }

    synchronized int size() {
        return entries.size();
    }

    synchronized void clear() {
        while (!entries.isEmpty()) {
            evictOldest();
        }
        version++;
    }

    private void evictOldest() {
        Iterator<Capture> it = entries.values().iterator();
        Capture c = it.next();
        it.remove();
        bytes -= c.charged();
        c.drop();
        version++;
    }
}
