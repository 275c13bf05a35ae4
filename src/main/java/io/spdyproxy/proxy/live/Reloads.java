package io.spdyproxy.proxy.live;

import java.util.concurrent.CopyOnWriteArrayList;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one place SIGHUP lands: every reloadable part of a proxy (tokens, certificate, and whatever
 * else registers, such as per-tunnel access control) is reloaded in registration order. One
 * failing part never stops the others.
 *
 * <p>Threading: safe from any thread; {@link #reloadAll} runs the parts on the caller's thread,
 * one caller at a time.
 */
public final class Reloads {
    private static final Logger log = LoggerFactory.getLogger(Reloads.class);

    private record Entry(String name, Reloadable part) {}

    private final CopyOnWriteArrayList<Entry> parts = new CopyOnWriteArrayList<>();

    /** Registers {@code part} under {@code name} (for logs); closing the result unregisters it. */
    public AutoCloseable register(String name, Reloadable part) {
        Entry e = new Entry(name, part);
        parts.add(e);
        return () -> parts.remove(e);
    }

    /** Reloads every registered part (SIGHUP). */
    public synchronized void reloadAll() {
        log.info("reloading {} part(s)", parts.size());
        for (Entry e : parts) {
            try {
                e.part().reload();
            } catch (RuntimeException ex) {
                log.warn("reload of {} failed; keeping the previous state", e.name(), ex);
            }
        }
    }
}
