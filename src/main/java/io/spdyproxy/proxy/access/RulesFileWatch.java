package io.spdyproxy.proxy.access;

import java.io.IOException;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.FileSystems;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Watches the directory of the access-control file and calls back on any change in it. The
 * directory, not the file: an editor or a deployment replaces the file by renaming a new one over
 * it (or swaps a symlink, as Kubernetes does for a ConfigMap), which a watch on the old file would
 * never see. The callback decides whether the file really changed.
 *
 * <p>Threading: one daemon thread of its own, which runs the callback; {@link #close} from any
 * thread ends it.
 */
final class RulesFileWatch implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(RulesFileWatch.class);

    private final WatchService watch;
    private final Thread thread;

    RulesFileWatch(Path file, Runnable changed) throws IOException {
        Path dir = file.toAbsolutePath().getParent();
        watch = FileSystems.getDefault().newWatchService();
        dir.register(watch, StandardWatchEventKinds.ENTRY_CREATE, StandardWatchEventKinds.ENTRY_MODIFY,
                StandardWatchEventKinds.ENTRY_DELETE);
        thread = new Thread(() -> run(changed), "access-control-watch");
        thread.setDaemon(true);
        thread.start();
    }

    private void run(Runnable changed) {
        try {
            while (true) {
                WatchKey key = watch.take();
                key.pollEvents(); // which entry changed does not matter: the callback compares contents
                try {
                    changed.run();
                } catch (RuntimeException e) {
                    log.warn("access control: reload failed: {}", e.toString());
                }
                if (!key.reset()) {
                    log.warn("access control: its directory is gone; changes are no longer seen");
                    return;
                }
            }
        } catch (ClosedWatchServiceException | InterruptedException e) {
            // closed: done
        }
    }

    @Override
    public void close() {
        try {
            watch.close();
        } catch (IOException e) {
            log.debug("closing the watch: {}", e.toString());
        }
    }
}
