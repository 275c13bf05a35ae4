package io.spdyproxy.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.HttpHeaders;
import io.spdyproxy.testing.LeakCheckExtension;
import io.spdyproxy.tunnel.StreamClosedException;
import io.spdyproxy.tunnel.StreamError;
import io.spdyproxy.tunnel.TunnelSession;
import io.spdyproxy.tunnel.TunnelStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The client side of an upgraded connection, on an embedded channel against a recording stream. */
@ExtendWith(LeakCheckExtension.class)
class UpgradeRelayTest {

    /** A tunnel stream that records what the relay does with it. */
    static final class RecordingStream implements TunnelStream {
        final List<String> sent = new ArrayList<>();
        boolean ended;
        boolean writable = true;
        long consumed;
        StreamError reset;

        @Override public int id() { return 1; }
        @Override public TunnelSession session() { return null; }
        @Override public void sendResponse(HttpResponse head, boolean endOfStream) { throw new AssertionError(); }
        @Override public void sendData(ByteBuf data, boolean endOfStream) {
            if (data.isReadable()) {
                sent.add(data.toString(StandardCharsets.UTF_8));
            }
            data.release();
            ended |= endOfStream;
        }
        @Override public void sendTrailers(HttpHeaders trailers) { throw new AssertionError(); }
        @Override public void consume(int bytes) { consumed += bytes; }
        @Override public void reset(StreamError error) { if (reset == null) { reset = error; } }
        @Override public boolean isWritable() { return writable; }
        @Override public long queuedBytes() { return 0; }
        @Override public long maxQueuedBytes() { return 0; }
        @Override public long bytesSent() { return 0; }
        @Override public long bytesReceived() { return 0; }
        @Override public boolean isClosed() { return reset != null; }
    }

    /** Counts read() calls reaching the socket: the relay reads only while the stream can take more. */
    static final class ReadCounter extends ChannelOutboundHandlerAdapter {
        int reads;

        @Override
        public void read(ChannelHandlerContext ctx) {
            reads++;
            ctx.read();
        }
    }

    private final RecordingStream stream = new RecordingStream();
    private final ReadCounter reads = new ReadCounter();

    private EmbeddedChannel upgradedChannel() {
        EmbeddedChannel ch = new EmbeddedChannel();
        ch.config().setAutoRead(false);
        ch.pipeline().addLast("reads", reads);
        ch.pipeline().addLast("http", ProxyServer.frontendCodec());
        ch.pipeline().addLast("frontend", new ChannelInboundHandlerAdapter());
        HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.SWITCHING_PROTOCOLS);
        head.headers().set("Upgrade", "websocket").set("Connection", "Upgrade").set("Sec-WebSocket-Accept", "abc");
        UpgradeRelay.takeOver(ch, stream, head, () -> { });
        return ch;
    }

    @Test
    void writesThe101ThenRelaysRawBytesBothWays() {
        EmbeddedChannel ch = upgradedChannel();
        ByteBuf out = ch.readOutbound();
        String head = out.toString(StandardCharsets.US_ASCII);
        out.release();
        assertThat(head).startsWith("HTTP/1.1 101 Switching Protocols\r\n").contains("Sec-WebSocket-Accept: abc")
                .endsWith("\r\n\r\n").doesNotContain("content-length").doesNotContain("transfer-encoding");
        assertThat(ch.pipeline().names()).contains(UpgradeRelay.NAME).doesNotContain("http", "frontend");

        ch.writeInbound(Unpooled.copiedBuffer("GET / HTTP/1.1\r\n\r\n", StandardCharsets.US_ASCII));
        assertThat(stream.sent).containsExactly("GET / HTTP/1.1\r\n\r\n"); // raw: no HTTP parsing any more

        UpgradeRelay relay = (UpgradeRelay) ch.pipeline().get(UpgradeRelay.NAME);
        relay.data(Unpooled.copiedBuffer("\u0081\u0002hi", StandardCharsets.ISO_8859_1), false);
        assertThat(ch.outboundMessages()).as("flushed once per round of tasks, not per chunk").isEmpty();
        ch.runPendingTasks();
        ByteBuf frame = ch.readOutbound();
        assertThat(frame.readableBytes()).isEqualTo(4);
        frame.release();
        assertThat(stream.consumed).as("consumed once the client's socket took it").isEqualTo(4);
        ch.finishAndReleaseAll();
    }

    @Test
    void readsTheClientOnlyWhileTheStreamIsWritable() {
        stream.writable = false;
        EmbeddedChannel ch = upgradedChannel();
        int before = reads.reads;
        ch.writeInbound(Unpooled.copiedBuffer("x", StandardCharsets.US_ASCII));
        assertThat(reads.reads).as("no read while the stream is full").isEqualTo(before);
        stream.writable = true;
        ((UpgradeRelay) ch.pipeline().get(UpgradeRelay.NAME)).writable();
        assertThat(reads.reads).isEqualTo(before + 1);
        ch.finishAndReleaseAll();
    }

    @Test
    void halfClosesPassThroughAndBothEndsClose() {
        EmbeddedChannel ch = upgradedChannel();
        ch.pipeline().fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
        assertThat(stream.ended).as("the client's FIN ends the stream's client half").isTrue();
        assertThat(ch.isOpen()).isTrue();
        ((UpgradeRelay) ch.pipeline().get(UpgradeRelay.NAME)).data(Unpooled.EMPTY_BUFFER, true);
        ch.runPendingTasks();
        assertThat(ch.isOpen()).as("both halves ended").isFalse();
        assertThat(stream.reset).isNull();
        ch.finishAndReleaseAll();
    }

    @Test
    void aResetStreamCutsTheClientOffAndAGoneClientResetsTheStream() {
        EmbeddedChannel ch = upgradedChannel();
        ((UpgradeRelay) ch.pipeline().get(UpgradeRelay.NAME))
                .closed(new StreamClosedException(StreamError.SESSION_CLOSED, false, false, "tunnel lost"));
        assertThat(ch.isOpen()).isFalse();
        ch.finishAndReleaseAll();

        RecordingStream other = new RecordingStream();
        EmbeddedChannel ch2 = new EmbeddedChannel();
        ch2.pipeline().addLast("http", ProxyServer.frontendCodec());
        UpgradeRelay.takeOver(ch2, other,
                new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.SWITCHING_PROTOCOLS), () -> { });
        ch2.close();
        assertThat(other.reset).isEqualTo(StreamError.CANCEL);
        ch2.finishAndReleaseAll();
    }
}
