package io.spdyproxy.tunnel.handshake;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.UnknownHostException;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the tunnel listener remembers per source address, in the manner of fail2ban: failed
 * authentications within a window ({@link TunnelAcceptor.Limits#maxFailures} in
 * {@link TunnelAcceptor.Limits#failureWindow}) ban the address for a while, each further ban twice as
 * long up to a cap; and how many of its connections are still in their handshake (sshd's
 * MaxStartups, per address). Operators choose tokens, and short ones would fall to a plain
 * guessing loop without this.
 *
 * <p>Memory stays bounded whatever an attacker does: the failure table holds at most
 * {@link TunnelAcceptor.Limits#maxTrackedAddresses} entries (least recently seen forgotten first,
 * stale ones dropped as they are met), each with at most {@code maxFailures} timestamps; the
 * pending table holds only addresses with a connection open. IPv6 addresses count per /64, the
 * block one host gets (RFC 4291 section 2.5.1: 64-bit interface identifiers), or one host would
 * have 2^64 addresses to rotate through. A success changes nothing: it cannot unlock a ban or reset
 * the count of any address, its own included.
 *
 * <p>Threading: shared by all of the listener's event loops; every method holds this object's lock
 * for a few map operations (handshakes are rare next to requests, so contention does not matter).
 */
final class AuthThrottle {
    private static final Logger log = LoggerFactory.getLogger(AuthThrottle.class);

    /** A failure counted: how many in the window, and the ban it started (0: none). */
    record Failure(int recentFailures, long banNanos) {}

    private static final class Entry {
        final ArrayDeque<Long> recent = new ArrayDeque<>();
        long lastFailure;
        long bannedUntil;
        int bans;
    }

    private final TunnelAcceptor.Limits limits;
    private final LongSupplier clock;
    private final Map<String, Entry> byAddress;
    private final Map<String, Integer> pending = new HashMap<>();
    private long lastFullWarning;
    private boolean warnedFull;

    AuthThrottle(TunnelAcceptor.Limits limits) {
        this.limits = limits;
        this.clock = limits.nanoClock();
        this.byAddress = new LinkedHashMap<>(64, 0.75f, true) {
            private static final long serialVersionUID = 1L;

            @Override
            protected boolean removeEldestEntry(Map.Entry<String, Entry> eldest) {
                if (size() <= limits.maxTrackedAddresses()) {
                    return false;
                }
                tableFull();
                return true;
            }
        };
    }

    /** The address a peer is counted under: IPv4 as is, IPv6 by its /64. */
    static String key(SocketAddress remote) {
        if (!(remote instanceof InetSocketAddress isa) || isa.getAddress() == null) {
            return String.valueOf(remote);
        }
        InetAddress a = isa.getAddress();
        if (!(a instanceof Inet6Address)) {
            return a.getHostAddress();
        }
        byte[] b = a.getAddress();
        if (isV4Mapped(b)) {
            return (b[12] & 0xff) + "." + (b[13] & 0xff) + "." + (b[14] & 0xff) + "." + (b[15] & 0xff);
        }
        for (int i = 8; i < 16; i++) {
            b[i] = 0;
        }
        try {
            return InetAddress.getByAddress(b).getHostAddress() + "/64";
        } catch (UnknownHostException e) {
            throw new IllegalStateException(e); // 16 bytes are always a valid address
        }
    }

    private static boolean isV4Mapped(byte[] b) {
        for (int i = 0; i < 10; i++) {
            if (b[i] != 0) {
                return false;
            }
        }
        return b[10] == (byte) 0xff && b[11] == (byte) 0xff;
    }

    /** A connection from {@code key} starts its handshake; false when it already has too many. */
    synchronized boolean enter(String key) {
        int n = pending.getOrDefault(key, 0);
        if (n >= limits.maxPendingPerAddress()) {
            return false;
        }
        pending.put(key, n + 1);
        return true;
    }

    /** A connection that {@link #enter}ed finished its handshake or closed. */
    synchronized void leave(String key) {
        pending.computeIfPresent(key, (k, n) -> n <= 1 ? null : n - 1);
    }

    /** How long {@code key} stays banned, 0 when it is not. */
    synchronized long banRemainingNanos(String key) {
        long now = clock.getAsLong();
        Entry e = live(key, now);
        return e == null || now - e.bannedUntil >= 0 ? 0 : e.bannedUntil - now;
    }

    /** Counts a failed authentication from {@code key}; bans it when that makes too many. */
    synchronized Failure failed(String key) {
        long now = clock.getAsLong();
        Entry e = live(key, now);
        if (e == null) {
            e = new Entry();
            byAddress.put(key, e);
        }
        if (now - e.bannedUntil < 0) {
            // A parallel attempt that passed the ban check before the ban began: the ban stands.
            return new Failure(limits.maxFailures(), 0);
        }
        long window = limits.failureWindow().toNanos();
        while (!e.recent.isEmpty() && now - e.recent.peekFirst() >= window) {
            e.recent.removeFirst();
        }
        e.recent.addLast(now);
        e.lastFailure = now;
        int count = e.recent.size();
        if (count < limits.maxFailures()) {
            return new Failure(count, 0);
        }
        e.recent.clear();
        long max = limits.maxBanTime().toNanos();
        long ban = limits.banTime().toNanos();
        for (int i = 0; i < e.bans && ban < max; i++) {
            ban *= 2;
        }
        ban = Math.min(ban, max);
        e.bans++;
        e.bannedUntil = now + ban;
        return new Failure(count, ban);
    }

    /** Addresses whose failures are remembered right now (for tests and status). */
    synchronized int trackedAddresses() {
        return byAddress.size();
    }

    /** Addresses with a handshake in progress right now (for tests and status). */
    synchronized int pendingAddresses() {
        return pending.size();
    }

    /**
     * The entry of {@code key} unless it went stale: no failure and no ban for
     * {@code maxBanTime}, after which an address starts over at the first ban. Drops a couple of
     * stale entries at the cold end of the table on the way, so that it shrinks once an attack
     * stops.
     */
    private Entry live(String key, long now) {
        Iterator<Entry> it = byAddress.values().iterator();
        for (int i = 0; i < 2 && it.hasNext(); i++) {
            if (stale(it.next(), now)) {
                it.remove();
            }
        }
        Entry e = byAddress.get(key);
        if (e != null && stale(e, now)) {
            byAddress.remove(key);
            return null;
        }
        return e;
    }

    private boolean stale(Entry e, long now) {
        long lastActive = e.bannedUntil - e.lastFailure > 0 ? e.bannedUntil : e.lastFailure;
        return now - lastActive >= limits.maxBanTime().toNanos();
    }

    private void tableFull() {
        long now = clock.getAsLong();
        if (!warnedFull || now - lastFullWarning >= TimeUnit.MINUTES.toNanos(1)) {
            warnedFull = true;
            lastFullWarning = now;
            log.warn("tunnel authentication failures come from more than {} addresses; forgetting the least"
                    + " recently seen (an attack from many addresses?)", limits.maxTrackedAddresses());
        }
    }
}
