package io.spdyproxy.testing;

import io.netty.buffer.ByteBuf;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.spdy.SpdyFrame;
import io.netty.handler.codec.spdy.SpdyFrameCodec;
import io.netty.handler.codec.spdy.SpdyVersion;
import io.netty.util.ReferenceCountUtil;
import io.spdyproxy.spdy.SpdySession;
import io.spdyproxy.spdy.SpdySessionConfig;
import io.spdyproxy.spdy.SpdySessionListener;
import java.util.ArrayList;
import java.util.List;

/**
 * A scripted SPDY peer for protocol tests: our {@link SpdySession} runs on one {@link
 * EmbeddedChannel}, and the test plays the other side with Netty's own frame codec on a second
 * one. {@link #send} encodes frames into the session; {@link #received} decodes what the session
 * wrote. Everything runs on the test thread.
 *
 * <p>Call {@link #close()} at the end of a test: it releases every frame not yet read.
 */
public final class ScriptedPeer implements AutoCloseable {
    public final EmbeddedChannel channel;
    public final SpdySession session;
    private final EmbeddedChannel peer;
    private final List<Object> received = new ArrayList<>();

    public ScriptedPeer(SpdySessionConfig config, SpdySessionListener listener) {
        channel = new EmbeddedChannel();
        session = SpdySession.install(channel, config, listener);
        peer = new EmbeddedChannel(new SpdyFrameCodec(SpdyVersion.SPDY_3_1));
        pump();
    }

    /** Encodes frames as the peer and feeds them to the session. */
    public ScriptedPeer send(SpdyFrame... frames) {
        for (SpdyFrame f : frames) {
            peer.writeOutbound(f);
        }
        ByteBuf bytes;
        while ((bytes = peer.readOutbound()) != null) {
            channel.writeInbound(bytes);
        }
        pump();
        return this;
    }

    /** Feeds raw bytes to the session, for malformed frames the codec cannot encode. */
    public ScriptedPeer sendRaw(ByteBuf bytes) {
        channel.writeInbound(bytes);
        pump();
        return this;
    }

    /** Runs the session's pending tasks and decodes everything it wrote so far. */
    public ScriptedPeer pump() {
        for (int round = 0; round < 100; round++) {
            channel.runPendingTasks();
            if (channel.isOpen()) {
                channel.flushOutbound();
            }
            boolean any = false;
            Object out;
            while ((out = channel.readOutbound()) != null) {
                any = true;
                peer.writeInbound(out);
            }
            Object frame;
            while ((frame = peer.readInbound()) != null) {
                received.add(frame);
            }
            channel.runPendingTasks();
            if (!any && !channel.hasPendingTasks()) {
                break;
            }
        }
        return this;
    }

    /** Frames the session sent, in order, and clears them (the caller owns and releases them). */
    public List<Object> received() {
        pump();
        List<Object> copy = new ArrayList<>(received);
        received.clear();
        return copy;
    }

    /** Frames of {@code type} the session sent (others are released and dropped). */
    public <T> List<T> received(Class<T> type) {
        List<T> out = new ArrayList<>();
        for (Object o : received()) {
            if (type.isInstance(o)) {
                out.add(type.cast(o));
            } else {
                ReferenceCountUtil.release(o);
            }
        }
        return out;
    }

    /** Drops (and releases) whatever the session sent so far, e.g. its opening SETTINGS. */
    public ScriptedPeer discardReceived() {
        received().forEach(ReferenceCountUtil::release);
        return this;
    }

    @Override
    public void close() {
        pump();
        channel.finishAndReleaseAll();
        received.forEach(ReferenceCountUtil::release);
        received.clear();
        peer.finishAndReleaseAll();
    }
}
