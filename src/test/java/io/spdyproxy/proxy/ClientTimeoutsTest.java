package io.spdyproxy.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.spdyproxy.testing.LeakCheckExtension;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The request-body idle deadline, on an embedded channel with a clock the test moves. */
@ExtendWith(LeakCheckExtension.class)
class ClientTimeoutsTest {

    /**
     * The front end may ask for the next read inside the read batch that delivered bytes (its
     * stream took them inline, on the same loop): the batch's end must not cancel that wait, or a
     * client that stalls mid-body is never closed.
     */
    @Test
    void aReadAskedForWithinTheBatchKeepsItsDeadline() {
        ClientTimeouts timeouts = new ClientTimeouts(Duration.ofMillis(300), Duration.ofSeconds(20));
        EmbeddedChannel ch = new EmbeddedChannel(timeouts);
        ch.config().setAutoRead(false);
        timeouts.headReceived(); // a request whose body is coming
        ch.read();
        ch.pipeline().fireChannelRead(Unpooled.copiedBuffer(new byte[] {1, 2, 3}));
        ch.read(); // asked for more while handling those bytes
        ch.pipeline().fireChannelReadComplete();
        ch.releaseInbound();
        ch.advanceTimeBy(301, TimeUnit.MILLISECONDS);
        ch.runScheduledPendingTasks();
        assertThat(ch.isOpen()).as("a client that stopped sending its body is closed").isFalse();
        ch.finishAndReleaseAll();
    }

    @Test
    void aReadThatGotItsBytesHasNoDeadline() {
        ClientTimeouts timeouts = new ClientTimeouts(Duration.ofMillis(300), Duration.ofSeconds(20));
        EmbeddedChannel ch = new EmbeddedChannel(timeouts);
        ch.config().setAutoRead(false);
        timeouts.headReceived();
        ch.read();
        ch.pipeline().fireChannelRead(Unpooled.copiedBuffer(new byte[] {1, 2, 3}));
        ch.pipeline().fireChannelReadComplete(); // the front end holds the bytes; it asks no more
        ch.releaseInbound();
        ch.advanceTimeBy(1, TimeUnit.SECONDS);
        ch.runScheduledPendingTasks();
        assertThat(ch.isOpen()).as("waiting on the origin is not the client's idle time").isTrue();
        ch.finishAndReleaseAll();
    }
}
