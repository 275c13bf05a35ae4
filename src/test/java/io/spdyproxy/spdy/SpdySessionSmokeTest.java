package io.spdyproxy.spdy;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.spdy.DefaultSpdyDataFrame;
import io.netty.handler.codec.spdy.DefaultSpdyHeaders;
import io.netty.handler.codec.spdy.DefaultSpdySynStreamFrame;
import io.netty.handler.codec.spdy.SpdyDataFrame;
import io.netty.handler.codec.spdy.SpdyHeaders;
import io.netty.handler.codec.spdy.SpdySettingsFrame;
import io.netty.handler.codec.spdy.SpdySynReplyFrame;
import io.netty.handler.codec.spdy.SpdyWindowUpdateFrame;
import io.netty.util.ReferenceCountUtil;
import io.spdyproxy.testing.ScriptedPeer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class SpdySessionSmokeTest {

    @Test
    void serverAnswersARequestAndGrantsWindowOnlyAfterConsumption() {
        SpdyStream[] seen = new SpdyStream[1];
        StringBuilder body = new StringBuilder();
        SpdySessionListener listener = (stream, headers) -> new SpdyStreamListener() {
            @Override
            public void onHeaders(SpdyStream s, SpdyHeaders h, boolean end) {
                seen[0] = s;
                SpdyHeaders reply = new DefaultSpdyHeaders();
                reply.set(":status", "200 OK");
                reply.set(":version", "HTTP/1.1");
                s.sendHeaders(reply, false);
            }

            @Override
            public void onData(SpdyStream s, ByteBuf data, boolean end) {
                body.append(data.toString(StandardCharsets.UTF_8));
                data.release();
                if (end) {
                    s.sendData(Unpooled.copiedBuffer("ok", StandardCharsets.UTF_8), true);
                }
            }
        };
        SpdySessionConfig config = SpdySessionConfig.builder(SpdyRole.SERVER)
                .initialStreamWindow(1000).maxStreamWindow(1000).build();
        try (ScriptedPeer peer = new ScriptedPeer(config, listener)) {
            List<Object> opening = peer.received();
            assertThat(opening).hasSize(2);
            assertThat(opening.get(0)).isInstanceOf(SpdySettingsFrame.class);
            assertThat(((SpdySettingsFrame) opening.get(0)).getValue(7)).isEqualTo(1000);
            assertThat(opening.get(1)).isInstanceOf(SpdyWindowUpdateFrame.class);
            opening.forEach(ReferenceCountUtil::release);

            DefaultSpdySynStreamFrame syn = new DefaultSpdySynStreamFrame(1, 0, (byte) 0);
            syn.headers().set(":method", "POST").set(":path", "/").set(":version", "HTTP/1.1");
            peer.send(syn);
            assertThat(peer.received(SpdySynReplyFrame.class)).hasSize(1);

            DefaultSpdyDataFrame data = new DefaultSpdyDataFrame(1,
                    Unpooled.copiedBuffer("x".repeat(600), StandardCharsets.UTF_8));
            peer.send(data);
            // Not consumed yet: no WINDOW_UPDATE may have been sent.
            assertThat(peer.received(SpdyWindowUpdateFrame.class)).isEmpty();
            seen[0].consume(600);
            List<SpdyWindowUpdateFrame> updates = peer.received(SpdyWindowUpdateFrame.class);
            assertThat(updates).hasSize(1);
            assertThat(updates.get(0).streamId()).isEqualTo(1);
            assertThat(updates.get(0).deltaWindowSize()).isEqualTo(600);

            DefaultSpdyDataFrame last = new DefaultSpdyDataFrame(1, Unpooled.EMPTY_BUFFER);
            last.setLast(true);
            peer.send(last);
            List<SpdyDataFrame> out = peer.received(SpdyDataFrame.class);
            assertThat(out).hasSize(1);
            assertThat(out.get(0).content().toString(StandardCharsets.UTF_8)).isEqualTo("ok");
            assertThat(out.get(0).isLast()).isTrue();
            out.forEach(ReferenceCountUtil::release);
            assertThat(seen[0].isClosed()).isTrue();
            assertThat(body.length()).isEqualTo(600);
        }
    }

    @Test
    void anOversizedHeaderValueFailsItsStreamNotTheSession() {
        SpdySessionConfig config = SpdySessionConfig.builder(SpdyRole.CLIENT).build();
        try (ScriptedPeer peer = new ScriptedPeer(config, SpdySessionListener.refusingStreams())) {
            peer.discardReceived();
            SpdyHeaders big = new DefaultSpdyHeaders();
            big.set(":method", "GET").set("x-big", "a".repeat(70_000));
            var failed = peer.session.newStream(big, 3, true, new SpdyStreamListener() {
                @Override
                public void onHeaders(SpdyStream s, SpdyHeaders h, boolean end) {}

                @Override
                public void onData(SpdyStream s, ByteBuf data, boolean end) {
                    data.release();
                }
            });
            assertThat(failed).isCompletedExceptionally();
            SpdyHeaders ok = new DefaultSpdyHeaders();
            ok.set(":method", "GET");
            var opened = peer.session.newStream(ok, 3, true, new SpdyStreamListener() {
                @Override
                public void onHeaders(SpdyStream s, SpdyHeaders h, boolean end) {}

                @Override
                public void onData(SpdyStream s, ByteBuf data, boolean end) {
                    data.release();
                }
            });
            assertThat(opened).isCompleted();
            assertThat(peer.channel.isOpen()).isTrue();
            peer.discardReceived();
        }
    }
}
