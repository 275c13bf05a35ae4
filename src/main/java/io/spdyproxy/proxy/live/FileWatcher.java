package io.spdyproxy.proxy.live;

import java.io.IOException;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchEvent;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Calls back when a file changes, however it changes: written in place, replaced by a rename (as
 * editors, {@code mv} and our own atomic writes do), deleted and created again, or, for a symbolic
 * link, re-pointed (certbot renews by replacing the links under {@code live/} that point into
 * {@code archive/}). It watches the file's directory, since a watch on the file itself is lost
 * when the file is replaced, and for a symbolic link also the directory of its target. Bursts of
 * events (an editor's write, then rename) are coalesced: the callback runs once, {@link #DEBOUNCE_MILLIS}
 * after the last event.
 *
 * <p>One watch service and one thread serve the whole JVM, whatever the number of proxies in it
 * (tests start hundreds; inotify instances are limited per user).
 *
 * <p>Threading: {@link #watch} and closing a watch are safe from any thread; callbacks run on the
 * single "file-watch" thread, one at a time.
 */
public final class FileWatcher {
    private static final Logger log = LoggerFactory.getLogger(FileWatcher.class);
    static final long DEBOUNCE_MILLIS = 150;
    private static final FileWatcher SHARED = new FileWatcher();

    private final ScheduledExecutorService thread = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "file-watch");
        t.setDaemon(true);
        return t;
    });
    private final Object lock = new Object();
    private WatchService service; // guarded by lock; created on first use
    private final Map<Path, WatchKey> keys = new HashMap<>(); // guarded by lock
    private final Map<Path, List<Watch>> byDir = new HashMap<>(); // guarded by lock

    private FileWatcher() {}

    /** The JVM's watcher. */
    public static FileWatcher shared() {
        return SHARED;
    }

    /**
     * Calls {@code onChange} after {@code file} changes; closing the result stops that. The file
     * need not exist yet, but its directory must.
     */
    public AutoCloseable watch(Path file, Runnable onChange) throws IOException {
        Path abs = file.toAbsolutePath().normalize();
        List<Path[]> targets = new ArrayList<>();
        targets.add(new Path[] {abs.getParent(), abs.getFileName()});
        if (Files.isSymbolicLink(abs)) {
            Path real = abs.toRealPath();
            targets.add(new Path[] {real.getParent(), null}); // any change there: re-read and compare
        }
        List<Watch> made = new ArrayList<>();
        synchronized (lock) {
            for (Path[] t : targets) {
                Watch w = new Watch(t[0], t[1], onChange);
                register(w);
                made.add(w);
            }
        }
        return () -> {
            synchronized (lock) {
                made.forEach(this::unregister);
            }
        };
    }

    private void register(Watch w) throws IOException {
        if (service == null) {
            service = FileSystems.getDefault().newWatchService();
            Thread poller = new Thread(this::poll, "file-watch-poll");
            poller.setDaemon(true);
            poller.start();
        }
        if (!keys.containsKey(w.dir)) {
            keys.put(w.dir, w.dir.register(service, StandardWatchEventKinds.ENTRY_CREATE,
                    StandardWatchEventKinds.ENTRY_MODIFY, StandardWatchEventKinds.ENTRY_DELETE));
        }
        byDir.computeIfAbsent(w.dir, d -> new ArrayList<>()).add(w);
    }

    private void unregister(Watch w) {
        w.cancel();
        List<Watch> list = byDir.get(w.dir);
        if (list != null && list.remove(w) && list.isEmpty()) {
            byDir.remove(w.dir);
            WatchKey k = keys.remove(w.dir);
            if (k != null) {
                k.cancel();
            }
        }
    }

    private void poll() {
        WatchService s;
        synchronized (lock) {
            s = service;
        }
        while (true) {
            WatchKey key;
            try {
                key = s.take();
            } catch (InterruptedException | ClosedWatchServiceException e) {
                return;
            }
            Path dir = (Path) key.watchable();
            List<Path> names = new ArrayList<>();
            boolean overflow = false;
            for (WatchEvent<?> ev : key.pollEvents()) {
                if (ev.kind() == StandardWatchEventKinds.OVERFLOW) {
                    overflow = true; // events were lost: anyone in this directory may have changed
                } else {
                    names.add((Path) ev.context());
                }
            }
            key.reset();
            synchronized (lock) {
                for (Watch w : byDir.getOrDefault(dir, List.of())) {
                    if (overflow || w.name == null || names.contains(w.name)) {
                        w.changed();
                    }
                }
            }
        }
    }

    /** One subscriber's interest in one directory (one name in it, or any when name is null). */
    private final class Watch {
        final Path dir;
        final Path name;
        final Runnable onChange;
        private ScheduledFuture<?> pending; // guarded by FileWatcher.lock
        private boolean cancelled; // guarded by FileWatcher.lock

        Watch(Path dir, Path name, Runnable onChange) {
            this.dir = dir;
            this.name = name;
            this.onChange = onChange;
        }

        /** Called under the lock: (re)starts the debounce delay. */
        void changed() {
            if (cancelled) {
                return;
            }
            if (pending != null) {
                pending.cancel(false);
            }
            pending = thread.schedule(this::fire, DEBOUNCE_MILLIS, TimeUnit.MILLISECONDS);
        }

        private void fire() {
            synchronized (lock) {
                if (cancelled) {
                    return;
                }
            }
            try {
                onChange.run();
            } catch (RuntimeException e) {
                log.warn("reload after a change in {} failed", dir, e);
            }
        }

        void cancel() {
            cancelled = true;
            if (pending != null) {
                pending.cancel(false);
            }
        }
    }
}
