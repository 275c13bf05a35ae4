package io.spdyproxy.tunnel.h2;

import io.netty.channel.Channel;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The memory one HTTP/2 session holds for sending, the HTTP/2 twin of the SPDY session's
 * SendBudget: every DATA byte a stream accepted whose write has not completed yet, wherever it
 * sits (Netty's remote flow controller queue, the channel's outbound buffer, TLS). The flow
 * controller queues without bound for a stream whose window is closed, and a peer may grant
 * 2^31-1 and then stop reading; so the session is writable only while the channel is (Netty's
 * write-buffer high-water mark) and while it holds less than {@code limit}. Once over, it stays
 * closed until the queues drained to half, then wakes every stream whose producer found it
 * closed. A producer that ignores writability altogether is stopped at twice the limit: its
 * stream is reset.
 *
 * <p>Threading: {@link #queued}, {@link #isOpen} and {@link #await} may be called from any
 * thread; {@link #dequeued} and {@link #wakeIfOpen} run on the session's event loop.
 */
final class H2SendBudget {
    private final Channel channel;
    private final long limit;
    private final AtomicLong queued = new AtomicLong();
    private final AtomicLong maxQueued = new AtomicLong();
    private final Set<H2TunnelStream> waiters = ConcurrentHashMap.newKeySet();
    private volatile boolean overLimit;
    /** Loop-confined: a wake is running (wakes requested meanwhile are folded into it). */
    private boolean waking;
    private boolean wakeAgain;

    H2SendBudget(Channel channel, long limit) {
        this.channel = channel;
        this.limit = limit;
    }

    long hardLimit() {
        return 2 * limit;
    }

    /** A stream accepted {@code bytes} to send; returns what the session then holds in all. */
    long queued(int bytes) {
        long held = queued.addAndGet(bytes);
        maxQueued.accumulateAndGet(held, Math::max);
        if (held >= limit) {
            overLimit = true;
        }
        return held;
    }

    /** {@code bytes} were written (or dropped). Call {@link #wakeIfOpen} after. */
    void dequeued(long bytes) {
        queued.addAndGet(-bytes);
    }

    boolean isOpen() {
        return !overLimit && channel.isWritable();
    }

    /** Registers a stream whose producer found the session closed, for a wake once it opens. */
    void await(H2TunnelStream stream) {
        if (waiters.add(stream) && isOpen()) {
            try {
                channel.eventLoop().execute(this::wakeIfOpen);
            } catch (RejectedExecutionException e) {
                // The loop is gone with the session: nobody is left to wake.
            }
        }
    }

    void forget(H2TunnelStream stream) {
        waiters.remove(stream);
    }

    /** On the loop, after anything that may have drained the session. */
    void wakeIfOpen() {
        if (overLimit && queued.get() <= limit / 2) {
            overLimit = false;
        }
        if (waking) {
            wakeAgain = true;
            return;
        }
        waking = true;
        try {
            do {
                wakeAgain = false;
                if (waiters.isEmpty() || !isOpen()) {
                    return;
                }
                List<H2TunnelStream> batch = new ArrayList<>(waiters);
                for (H2TunnelStream s : batch) {
                    if (!isOpen()) {
                        return;
                    }
                    if (waiters.remove(s)) {
                        s.notifyWritability();
                    }
                }
            } while (wakeAgain);
        } finally {
            waking = false;
        }
    }

    long queuedBytes() {
        return queued.get();
    }

    long maxQueuedBytes() {
        return maxQueued.get();
    }
}
