package io.spdyproxy.proxy.access;

import at.favre.lib.crypto.bcrypt.BCrypt;
import at.favre.lib.crypto.bcrypt.LongPasswordStrategies;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Checks a basic-auth password against its bcrypt hash. bcrypt is slow on purpose (tens of
 * milliseconds at cost 10), so it never runs on an event loop: a credential that passed once is
 * remembered in a bounded cache keyed by a SHA-256 of tunnel, user, password and hash (so a changed
 * hash forgets it, and no password is kept), and every other check runs on a small pool with a
 * bounded queue. A flood of wrong passwords fills the queue and is answered "busy" (503), while the
 * event loops and visitors with remembered credentials go on.
 *
 * <p>Threading: thread-safe. Answers come on the executor the caller passes.
 */
final class PasswordCheck implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(PasswordCheck.class);
    private static final int CACHE_ENTRIES = 4096;
    private static final int QUEUE = 64;

    enum Result { OK, WRONG, BUSY }

    private final Map<String, Boolean> passed = new LinkedHashMap<>(64, 0.75f, true) {
        private static final long serialVersionUID = 1L;

        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Boolean> eldest) {
            return size() > CACHE_ENTRIES;
        }
    };
    private final ThreadPoolExecutor pool;
    private final BCrypt.Verifyer bcrypt = BCrypt.verifyer(null, LongPasswordStrategies.truncate(BCrypt.Version.VERSION_2A));

    PasswordCheck(int threads) {
        pool = new ThreadPoolExecutor(threads, threads, 30, TimeUnit.SECONDS, new ArrayBlockingQueue<>(QUEUE), r -> {
            Thread t = new Thread(r, "access-bcrypt");
            t.setDaemon(true);
            return t;
        }, new ThreadPoolExecutor.AbortPolicy());
        pool.allowCoreThreadTimeOut(true);
    }

    /**
     * Answers whether {@code password} matches {@code hash} (null: no such user; the check still
     * costs the same, so timing does not tell which users exist). A remembered credential is
     * answered at once, on the caller's thread; otherwise on {@code answerOn}.
     */
    void check(String tunnel, String user, String password, String hash, Executor answerOn, Consumer<Result> then) {
        String key = hash == null ? null : key(tunnel, user, password, hash);
        if (key != null && remembered(key)) {
            then.accept(Result.OK);
            return;
        }
        try {
            pool.execute(() -> {
                boolean ok = verify(password, hash == null ? Dummy.HASH : hash) && hash != null;
                if (ok) {
                    synchronized (passed) {
                        passed.put(key, Boolean.TRUE);
                    }
                }
                try {
                    answerOn.execute(() -> then.accept(ok ? Result.OK : Result.WRONG));
                } catch (RejectedExecutionException e) {
                    log.debug("the loop that asked is gone: {}", e.toString()); // shutting down
                }
            });
        } catch (RejectedExecutionException e) {
            then.accept(Result.BUSY);
        }
    }

    private boolean remembered(String key) {
        synchronized (passed) {
            return passed.get(key) != null;
        }
    }

    private boolean verify(String password, String hash) {
        try {
            return bcrypt.verify(password.getBytes(StandardCharsets.UTF_8), hash.getBytes(StandardCharsets.US_ASCII))
                    .verified;
        } catch (RuntimeException e) {
            log.debug("bcrypt check failed: {}", e.toString());
            return false;
        }
    }

    private static String key(String tunnel, String user, String password, String hash) {
        try {
            MessageDigest d = MessageDigest.getInstance("SHA-256");
            for (String s : new String[] {tunnel, user, password, hash}) {
                d.update(s.getBytes(StandardCharsets.UTF_8));
                d.update((byte) 0);
            }
            return Base64.getEncoder().encodeToString(d.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e); // every JVM has SHA-256
        }
    }

    @Override
    public void close() {
        pool.shutdownNow();
    }

    /** A hash no password matches, made once, for users that do not exist. */
    private static final class Dummy {
        static final String HASH = BCrypt.withDefaults().hashToString(10,
                Long.toHexString(new java.security.SecureRandom().nextLong()).toCharArray());
    }
}
