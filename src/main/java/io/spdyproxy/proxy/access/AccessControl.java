package io.spdyproxy.proxy.access;

import io.spdyproxy.proxy.live.FileWatcher;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Visitor access control and limits per tunnel name, from a YAML file ({@code --access-control}):
 * the rules ({@link AccessFile}), reloaded when the file changes and on {@link #reload()}, and what
 * outlives a reload, each tunnel's in-flight count and bandwidth buckets. {@link #admit} checks a
 * request against the rules of the moment ({@link Gate}).
 *
 * <p>A bad file at start is an {@link AccessConfigException}; a bad file on a reload keeps the
 * previous rules and says why at WARN.
 *
 * <p>Threading: thread-safe. The rules are one immutable snapshot behind a volatile field;
 * reloads are serialized; counters and buckets are thread-safe themselves.
 */
public final class AccessControl implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(AccessControl.class);

    private final Path file;
    private final Map<String, TunnelLimits> limits = new ConcurrentHashMap<>();
    private final PasswordCheck passwords = new PasswordCheck(2);
    private final Gate gate = new Gate(this, passwords);
    private volatile Map<String, TunnelPolicy> rules = Map.of();
    /** The shared watcher's hold on the file (its directory, so a rename over the file is seen). */
    private AutoCloseable watch;
    /** The file's bytes last read, good or bad: a watch event that changed nothing is ignored. */
    private byte[] lastRead;
    private CompletableFuture<Boolean> nextReload = new CompletableFuture<>();

    private AccessControl(Path file) {
        this.file = file;
    }

    /** No file: every tunnel open, no limits. */
    public static AccessControl none() {
        return new AccessControl(null);
    }

    /**
     * Reads {@code file} and watches it for changes.
     *
     * @throws AccessConfigException when it is missing or wrong (the message names file, tunnel, key)
     */
    public static AccessControl open(Path file) {
        AccessControl a = new AccessControl(file);
        try {
            byte[] bytes = read(file);
            a.apply(AccessFile.parse(file, new String(bytes, java.nio.charset.StandardCharsets.UTF_8)), bytes);
            a.watch = FileWatcher.shared().watch(file, a::reloadIfChanged);
        } catch (IOException e) {
            a.close();
            throw new AccessConfigException("--access-control " + file + ": " + e.getMessage());
        } catch (AccessConfigException e) {
            a.close();
            throw new AccessConfigException("--access-control " + e.getMessage());
        }
        log.info("access control: {} tunnel(s) with rules, from {}", a.rules.size(), file);
        return a;
    }

    /**
     * Checks {@code request} for {@code tunnel} against the rules of the moment and hands the
     * {@link Admission} to {@code then} on {@code loop} (at once, or after a bcrypt check run
     * elsewhere). Order: address (403), credentials (401, or 503 when too many passwords wait),
     * concurrency (429). A request let in holds a concurrency slot until {@link Admission#release}.
     *
     * @param peer the client connection's remote address
     * @param trustForwardedFor the visitor is the last {@code X-Forwarded-For} entry (the one the
     *     trusted load balancer in front appended), not the TCP peer
     */
    public void admit(String tunnel, io.netty.handler.codec.http.HttpRequest request,
            java.net.SocketAddress peer, boolean trustForwardedFor, java.util.concurrent.Executor loop,
            java.util.function.Consumer<Admission> then) {
        gate.admit(tunnel, request, peer, trustForwardedFor, loop, then);
    }

    /**
     * Reads the file again and applies it (what SIGHUP does). Returns false, keeping the previous
     * rules, when it is missing or wrong; the reason goes to the log at WARN.
     */
    public boolean reload() {
        return reload(false);
    }

    /**
     * Completes after the next reload that read a changed file (or after the next {@link #reload()}):
     * true when its rules now apply, false when it was refused.
     */
    public synchronized CompletableFuture<Boolean> nextReload() {
        return nextReload;
    }

    /** Requests of {@code tunnel} in flight right now, as its concurrency limit counts them. */
    public int inFlight(String tunnel) {
        TunnelLimits l = limits.get(tunnel);
        return l == null ? 0 : l.inFlight.get();
    }

    private void reloadIfChanged() {
        reload(true);
    }

    private boolean reload(boolean onlyIfChanged) {
        if (file == null) {
            return true;
        }
        boolean ok;
        synchronized (this) {
            byte[] bytes = null;
            try {
                bytes = read(file);
                if (onlyIfChanged && Arrays.equals(bytes, lastRead)) {
                    return true;
                }
                lastRead = bytes;
                apply(AccessFile.parse(file, new String(bytes, java.nio.charset.StandardCharsets.UTF_8)), bytes);
                log.info("access control: reloaded {} ({} tunnel(s) with rules)", file, rules.size());
                ok = true;
            } catch (IOException | RuntimeException e) {
                // RuntimeException: whatever the parser may still throw must not cost the rules.
                if (onlyIfChanged && bytes == null && lastRead == null) {
                    return false; // still missing: said so already
                }
                lastRead = bytes;
                log.warn("access control: {}; keeping the previous rules", e instanceof AccessConfigException
                        ? e.getMessage() : file + ": " + e);
                ok = false;
            }
        }
        CompletableFuture<Boolean> done;
        synchronized (this) {
            done = nextReload;
            nextReload = new CompletableFuture<>();
        }
        done.complete(ok);
        return ok;
    }

    private static byte[] read(Path file) throws IOException {
        try {
            return Files.readAllBytes(file);
        } catch (java.nio.file.NoSuchFileException e) {
            throw new IOException("no such file");
        }
    }

    private void apply(Map<String, TunnelPolicy> next, byte[] bytes) {
        for (TunnelPolicy p : next.values()) {
            limits.computeIfAbsent(p.name(), n -> new TunnelLimits()).configure(p.bytesPerSecond(), p.burst());
        }
        lastRead = bytes;
        rules = Map.copyOf(next);
    }

    TunnelPolicy policy(String tunnel) {
        return tunnel == null ? null : rules.get(tunnel);
    }

    TunnelLimits limits(String tunnel) {
        return limits.computeIfAbsent(tunnel, n -> new TunnelLimits());
    }

    @Override
    public void close() {
        if (watch != null) {
            try {
                watch.close();
            } catch (Exception e) {
                log.debug("closing the watch on {}: {}", file, e.toString());
            }
        }
        passwords.close();
    }

    /**
     * What a tunnel's limits need across requests and reloads: its in-flight count, and a bucket per
     * direction (kept while the rate stays the same, so a reload does not hand out a fresh burst).
     */
    static final class TunnelLimits {
        final AtomicInteger inFlight = new AtomicInteger();
        private volatile Pace upload = Pace.UNLIMITED;
        private volatile Pace download = Pace.UNLIMITED;
        private long rate;
        private long burst;

        synchronized void configure(long bytesPerSecond, long burstBytes) {
            if (bytesPerSecond == rate && burstBytes == burst) {
                return;
            }
            rate = bytesPerSecond;
            burst = burstBytes;
            upload = rate == 0 ? Pace.UNLIMITED : new Pace(rate, burst);
            download = rate == 0 ? Pace.UNLIMITED : new Pace(rate, burst);
        }

        Pace upload() {
            return upload;
        }

        Pace download() {
            return download;
        }
    }
}
