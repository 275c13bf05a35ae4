package io.spdyproxy.testing;

import io.netty.channel.ChannelHandler;
import io.netty.channel.embedded.EmbeddedChannel;

/**
 * An {@code EmbeddedChannel} on which, as on an event loop, no queued task runs while a read is in
 * progress. {@code EmbeddedChannel.close()} runs the queued tasks first; so a second
 * {@code close()} within one read (a no-op on a socket) ran the first one's
 * {@code channelInactive}, and a decoder freed its buffer while it was still reading it
 * (IllegalReferenceCountException, on the embedded channel only). Closing itself stays immediate,
 * as on a socket: the close future completes and writes fail at once; {@code channelInactive}
 * follows once the read is over. Tasks queued during a read run at the next
 * {@link #runPendingTasks()} after it.
 *
 * <p>Threading: the test thread.
 */
public final class SocketLikeChannel extends EmbeddedChannel {
    private boolean reading;

    /** An unregistered channel: set its allocator and options, then {@link #register()}. */
    public SocketLikeChannel(ChannelHandler... handlers) {
        super(EmbeddedChannel.builder().register(false).handlers(handlers));
    }

    @Override
    public boolean writeInbound(Object... msgs) {
        reading = true;
        try {
            return super.writeInbound(msgs);
        } finally {
            reading = false;
        }
    }

    @Override
    public void runPendingTasks() {
        if (!reading) {
            super.runPendingTasks();
        }
    }
}
