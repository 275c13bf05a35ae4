package io.spdyproxy.spdy;

import io.netty.channel.Channel;
import io.netty.channel.ChannelOutboundBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The memory one session holds for sending: the bytes its streams queued and the connection has
 * not taken yet, plus the channel's outbound buffer (which includes what TLS holds). A stream's
 * own bound follows the window the peer grants, and a peer may grant 2^31-1 and then stop
 * reading; so the session as a whole is writable only while the channel is (Netty's write-buffer
 * high-water mark) and while it holds less than {@code maxSessionQueuedBytes}. Once over that,
 * it stays closed until the stream queues drained to half, and then wakes every stream whose
 * producer found it closed. A producer that ignores writability altogether is stopped at twice
 * the limit: its stream is reset (see {@link #hardLimit()}).
 *
 * <p>Threading: {@link #queued}, {@link #isOpen} and {@link #await} may be called from any thread
 * (producers pace themselves off the loop); {@link #dequeued} and {@link #wakeIfOpen} run on the
 * session's event loop, which re-evaluates the limit after every change it makes and after every
 * task a producer hands it, so a close that races a drain is always re-checked there.
 */
final class SendBudget {
    private final Channel channel;
    private final long limit;
    private final AtomicLong queued = new AtomicLong();
    private final AtomicLong maxQueued = new AtomicLong();
    private final Set<SpdyStream> waiters = ConcurrentHashMap.newKeySet();
    private volatile boolean overLimit;
    /** Loop-confined: a wake is running (wakes requested meanwhile are folded into it). */
    private boolean waking;
    private boolean wakeAgain;

    SendBudget(Channel channel, long limit) {
        this.channel = channel;
        this.limit = limit;
    }

    /** Past this a sendData is refused and its stream reset: bounds even a producer that never looks. */
    long hardLimit() {
        return 2 * limit;
    }

    /** A stream accepted {@code bytes} to send; returns what the session then holds in all. */
    long queued(int bytes) {
        long held = queued.addAndGet(bytes) + channelPending();
        maxQueued.accumulateAndGet(held, Math::max);
        if (held >= limit) {
            overLimit = true;
        }
        return held;
    }

    /** {@code bytes} left the stream queues (written to the channel, or dropped). */
    void dequeued(long bytes) {
        queued.addAndGet(-bytes);
    }

    /** True while producers may hand the session more data. */
    boolean isOpen() {
        return !overLimit && channel.isWritable();
    }

    /**
     * Registers {@code stream}, whose producer found the session closed, for a writability
     * callback once it opens. When it opened meanwhile, the loop may have woken the waiters just
     * before the add: it is asked to look again.
     */
    void await(SpdyStream stream) {
        if (waiters.add(stream) && isOpen()) {
            try {
                channel.eventLoop().execute(this::wakeIfOpen);
            } catch (RejectedExecutionException e) {
                // The loop is gone with the session: nobody is left to wake.
            }
        }
    }

    /** A closed stream waits for nothing any more. */
    void forget(SpdyStream stream) {
        waiters.remove(stream);
    }

    /**
     * On the loop, after anything that may have drained the session: reopens once the stream
     * queues drained to half the limit, then calls back each stream whose producer waits.
     */
    void wakeIfOpen() {
        // The channel's share drains without an event of ours (the socket takes it), so reopening
        // looks at the stream queues only; the channel's writability bounds its own buffer.
        if (overLimit && queued.get() <= limit / 2) {
            overLimit = false;
        }
        if (waking) {
            // A woken producer wrote, and its write asks again: the loop below goes round once more
            // instead of recursing through every waiting stream.
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
                // A snapshot: a stream that finds the session closed again while being woken
                // registers anew for the next opening instead of being woken in a loop here.
                List<SpdyStream> batch = new ArrayList<>(waiters);
                for (SpdyStream s : batch) {
                    if (!isOpen()) {
                        return; // the rest stay registered
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

    /** Bytes the streams of the session hold for sending now. */
    long queuedBytes() {
        return queued.get();
    }

    /** The most the session ever held for sending (stream queues plus the channel's buffer). */
    long maxQueuedBytes() {
        return maxQueued.get();
    }

    private long channelPending() {
        ChannelOutboundBuffer out = channel.unsafe().outboundBuffer();
        return out == null ? 0 : out.totalPendingWriteBytes();
    }
}
