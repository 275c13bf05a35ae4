package io.spdyproxy.spdy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;

import io.netty.buffer.AbstractByteBufAllocator;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.buffer.UnpooledDirectByteBuf;
import io.netty.buffer.UnpooledHeapByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.spdy.DefaultSpdySynStreamFrame;
import io.netty.handler.codec.spdy.SpdyFrameCodec;
import io.netty.handler.codec.spdy.SpdySynStreamFrame;
import io.netty.handler.codec.spdy.SpdyVersion;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Our frame codec when bytes reach it after its connection closed. */
class SpdyCodecTest {

    @Test
    void headerBlockArrivingAfterCloseIsDroppedWithoutLeaking() {
        // Found by NpmSpdyInteropTest (a leaked header-block buffer after the session ended a TLS
        // connection). Netty's codec ends its header-block inflater when the channel closes; an
        // SslHandler then still hands over the records it decodes in channelInactive. A header
        // block decoded after that allocated a buffer that nothing released, and threw "Inflater
        // has been closed" into the pipeline.
        RecordingAllocator alloc = new RecordingAllocator();
        ByteBuf late = encode(synStream());
        EmbeddedChannel ch = new EmbeddedChannel();
        ch.config().setAllocator(alloc);
        ch.pipeline().addLast(new ChannelInboundHandlerAdapter() {
            @Override
            public void channelInactive(ChannelHandlerContext ctx) {
                ctx.fireChannelRead(late); // as SslHandler does with its last records
                ctx.fireChannelInactive();
            }
        });
        ch.pipeline().addLast(new SpdyCodec(SpdySessionConfig.builder(SpdyRole.SERVER).build()));

        assertThatCode(() -> {
            ch.close();
            ch.finishAndReleaseAll(); // rethrows what reached the end of the pipeline
        }).doesNotThrowAnyException();

        assertThat(late.refCnt()).isZero();
        assertThat(alloc.allocated).allSatisfy(b -> assertThat(b.refCnt()).as("buffer %s", b).isZero());
    }

    private static SpdySynStreamFrame synStream() {
        SpdySynStreamFrame syn = new DefaultSpdySynStreamFrame(1, 0, (byte) 0);
        syn.headers().set(":method", "GET").set(":path", "/").set(":version", "HTTP/1.1")
                .set(":host", "localhost").set(":scheme", "https");
        syn.setLast(true);
        return syn;
    }

    /** The frames as a peer's Netty codec encodes them, in one buffer. */
    private static ByteBuf encode(Object... frames) {
        EmbeddedChannel encoder = new EmbeddedChannel(new SpdyFrameCodec(SpdyVersion.SPDY_3_1));
        CompositeByteBuf all = Unpooled.compositeBuffer();
        for (Object f : frames) {
            encoder.writeOutbound(f);
            for (ByteBuf b; (b = encoder.readOutbound()) != null; ) {
                all.addComponent(true, b);
            }
        }
        encoder.finishAndReleaseAll();
        return all;
    }

    /** Records every buffer it hands out, so a test can check each one was released. */
    private static final class RecordingAllocator extends AbstractByteBufAllocator {
        final List<ByteBuf> allocated = new ArrayList<>();

        @Override
        protected ByteBuf newHeapBuffer(int initialCapacity, int maxCapacity) {
            ByteBuf b = new UnpooledHeapByteBuf(this, initialCapacity, maxCapacity);
            allocated.add(b);
            return b;
        }

        @Override
        protected ByteBuf newDirectBuffer(int initialCapacity, int maxCapacity) {
            ByteBuf b = new UnpooledDirectByteBuf(this, initialCapacity, maxCapacity);
            allocated.add(b);
            return b;
        }

        @Override
        public boolean isDirectBufferPooled() {
            return false;
        }
    }
}
