package io.spdyproxy.proxy.live;

import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The tunnel tokens in force: the tokens file's, with the configured ones ({@code --token}, YAML)
 * on top (a configured token wins for its name, as at start). {@link #reload} re-reads the file;
 * a file that does not parse changes nothing and is logged at WARN with its file and line. When a
 * reload takes a name's token away or changes it, {@code onRevoked} hears the names, so that their
 * live sessions can be closed.
 *
 * <p>Threading: {@link #hashes} is safe from any thread (a volatile immutable map); reloads are
 * serialized.
 */
public final class LiveTokens implements Reloadable {
    private static final Logger log = LoggerFactory.getLogger(LiveTokens.class);

    private final TokensFile file;
    private final Map<String, String> fixed;
    private final Consumer<Set<String>> onRevoked;
    private volatile Map<String, String> current;
    private CompletableFuture<Map<String, String>> nextChange = new CompletableFuture<>(); // guarded by this

    /**
     * @param initial the tokens in force now (as read at start)
     * @param fixed configured tokens, which no file change touches
     * @param onRevoked called (on the reloading thread) with names whose token went away or changed
     */
    public LiveTokens(TokensFile file, Map<String, String> initial, Map<String, String> fixed,
            Consumer<Set<String>> onRevoked) {
        this.file = Objects.requireNonNull(file, "file");
        this.current = Map.copyOf(initial);
        this.fixed = Map.copyOf(fixed);
        this.onRevoked = onRevoked;
    }

    /** Tunnel name to hex SHA-256 of its token, as of now. */
    public Map<String, String> hashes() {
        return current;
    }

    public TokensFile file() {
        return file;
    }

    /** Whether {@code name}'s token comes from the configuration, so no file edit changes it. */
    public boolean configured(String name) {
        return fixed.containsKey(name);
    }

    /** Completes with the new tokens at the next reload that changes them. */
    public synchronized CompletableFuture<Map<String, String>> nextChange() {
        return nextChange;
    }

    @Override
    public void reload() {
        Set<String> revoked = new TreeSet<>();
        CompletableFuture<Map<String, String>> changed;
        synchronized (this) { // a read and its swap together: an older read never lands last
            Map<String, String> next;
            try {
                next = new LinkedHashMap<>(file.read());
            } catch (IOException e) {
                log.warn("tokens not reloaded, the previous ones stay in force: {}", e.getMessage());
                return;
            }
            next.putAll(fixed);
            Map<String, String> before = current;
            if (before.equals(next)) {
                return;
            }
            for (var e : before.entrySet()) {
                if (!e.getValue().equals(next.get(e.getKey()))) {
                    revoked.add(e.getKey());
                }
            }
            Set<String> added = new TreeSet<>(next.keySet());
            added.removeAll(before.keySet());
            current = Map.copyOf(next);
            log.info("tokens reloaded from {}: {} tunnel(s); added {}, removed or changed {}", file.path(),
                    next.size(), added, revoked);
            changed = nextChange;
            nextChange = new CompletableFuture<>();
        }
        if (!revoked.isEmpty()) {
            onRevoked.accept(revoked);
        }
        changed.complete(current);
    }
}
