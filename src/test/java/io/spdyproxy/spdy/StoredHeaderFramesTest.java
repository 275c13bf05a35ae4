package io.spdyproxy.spdy;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.spdy.DefaultSpdyHeaders;
import io.netty.handler.codec.spdy.DefaultSpdyHeadersFrame;
import io.netty.handler.codec.spdy.DefaultSpdySynReplyFrame;
import io.netty.handler.codec.spdy.DefaultSpdySynStreamFrame;
import io.netty.handler.codec.spdy.SpdyFrameCodec;
import io.netty.handler.codec.spdy.SpdyHeaders;
import io.netty.handler.codec.spdy.SpdyHeadersFrame;
import io.netty.handler.codec.spdy.SpdySynReplyFrame;
import io.netty.handler.codec.spdy.SpdySynStreamFrame;
import io.netty.handler.codec.spdy.SpdyVersion;
import io.netty.util.ReferenceCountUtil;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Our header-frame encoder against Netty's at compression level 0: the same bytes, frame for
 * frame along one session's zlib stream, and Netty's decoder reads them back as sent.
 */
class StoredHeaderFramesTest {

    private static SpdyHeaders request() {
        SpdyHeaders h = new DefaultSpdyHeaders(false);
        h.set(":method", "GET").set(":path", "/movies/a%20b.mp4?x=1").set(":version", "HTTP/1.1")
                .set(":host", "files.example").set(":scheme", "https");
        h.add("accept", "*/*");
        h.add("x-forwarded-for", "10.0.0.1, 10.0.0.2");
        return h;
    }

    private static SpdyHeaders reply() {
        SpdyHeaders h = new DefaultSpdyHeaders(false);
        h.set(":status", "200 OK").set(":version", "HTTP/1.1");
        h.add("set-cookie", "a=1");
        h.add("content-type", "video/mp4");
        h.add("set-cookie", ""); // empty values are left out of the joined value
        h.add("set-cookie", "b=2");
        h.add("x-latin", "caf\u00e9 \u20ac"); // one Latin-1 char, one beyond: written as '?'
        return h;
    }

    private static SpdyHeaders huge() {
        SpdyHeaders h = new DefaultSpdyHeaders(false);
        h.add("x-one", "a".repeat(40_000));
        h.add("x-two", "b".repeat(40_000)); // the raw block spans two stored blocks
        return h;
    }

    @Test
    void framesAreByteForByteWhatNettyEncodesAtLevelZero() {
        EmbeddedChannel netty = new EmbeddedChannel(new SpdyFrameCodec(SpdyVersion.SPDY_3_1, 8192, 200_000, 0, 15, 8));
        StoredHeaderFrames ours = new StoredHeaderFrames();
        ByteBufAllocator alloc = ByteBufAllocator.DEFAULT;
        List<ByteBuf[]> pairs = new ArrayList<>();
        try {
            // Empty headers first: no zlib bytes at all, so the zlib header comes with the next.
            pairs.add(pair(netty, reply(3, new DefaultSpdyHeaders(false), false),
                    ours.synReply(alloc, 3, false, new DefaultSpdyHeaders(false))));
            DefaultSpdySynStreamFrame syn = new DefaultSpdySynStreamFrame(1, 0, (byte) 3);
            syn.headers().set(request());
            syn.setLast(true);
            pairs.add(pair(netty, syn, ours.synStream(alloc, 1, (byte) 3, true, request())));
            pairs.add(pair(netty, reply(1, reply(), false), ours.synReply(alloc, 1, false, reply())));
            DefaultSpdyHeadersFrame trailers = new DefaultSpdyHeadersFrame(1);
            trailers.headers().set(huge());
            trailers.setLast(true);
            pairs.add(pair(netty, trailers, ours.headers(alloc, 1, true, huge())));
            DefaultSpdySynStreamFrame low = new DefaultSpdySynStreamFrame(Integer.MAX_VALUE, 0, (byte) 7);
            low.headers().set(request());
            pairs.add(pair(netty, low, ours.synStream(alloc, Integer.MAX_VALUE, (byte) 7, false, request())));

            for (int i = 0; i < pairs.size(); i++) {
                assertThat(ByteBufUtil.hexDump(pairs.get(i)[1])).as("frame %d", i)
                        .isEqualTo(ByteBufUtil.hexDump(pairs.get(i)[0]));
            }
        } finally {
            for (ByteBuf[] p : pairs) {
                p[0].release();
                p[1].release();
            }
            netty.finishAndReleaseAll();
        }
    }

    @Test
    void nettyDecodesOurFramesToTheHeadersSent() {
        EmbeddedChannel peer = new EmbeddedChannel(new SpdyFrameCodec(SpdyVersion.SPDY_3_1, 8192, 200_000, 6, 15, 8));
        StoredHeaderFrames ours = new StoredHeaderFrames();
        ByteBufAllocator alloc = ByteBufAllocator.DEFAULT;
        try {
            peer.writeInbound(ours.synStream(alloc, 5, (byte) 2, false, request()));
            SpdySynStreamFrame syn = peer.readInbound();
            assertThat(syn.streamId()).isEqualTo(5);
            assertThat(syn.priority()).isEqualTo((byte) 2);
            assertThat(syn.isLast()).isFalse();
            assertThat(entries(syn.headers())).isEqualTo(entries(request()));

            peer.writeInbound(ours.synReply(alloc, 5, true, reply()));
            SpdySynReplyFrame rep = peer.readInbound();
            assertThat(rep.isLast()).isTrue();
            assertThat(rep.headers().getAll("set-cookie")).containsExactly("a=1", "b=2");
            // As with Netty's encoder: beyond Latin-1 becomes '?', and a Latin-1 byte is not UTF-8.
            assertThat(rep.headers().get("x-latin")).startsWith("caf").endsWith(" ?");
            assertThat(rep.headers().get("content-type")).isEqualTo("video/mp4");

            peer.writeInbound(ours.headers(alloc, 5, true, huge()));
            SpdyHeadersFrame big = peer.readInbound();
            assertThat(big.isInvalid()).isFalse();
            assertThat(big.headers().get("x-two")).hasSize(40_000);
            ReferenceCountUtil.release(syn);
            ReferenceCountUtil.release(rep);
            ReferenceCountUtil.release(big);
        } finally {
            peer.finishAndReleaseAll();
        }
    }

    private static DefaultSpdySynReplyFrame reply(int id, SpdyHeaders headers, boolean last) {
        DefaultSpdySynReplyFrame f = new DefaultSpdySynReplyFrame(id);
        f.headers().set(headers);
        f.setLast(last);
        return f;
    }

    private static ByteBuf[] pair(EmbeddedChannel netty, Object frame, ByteBuf ours) {
        netty.writeOutbound(frame);
        ByteBuf theirs = netty.alloc().buffer();
        ByteBuf part;
        while ((part = netty.readOutbound()) != null) {
            theirs.writeBytes(part);
            part.release();
        }
        return new ByteBuf[] {theirs, ours};
    }

    private static List<String> entries(SpdyHeaders h) {
        List<String> out = new ArrayList<>();
        for (Map.Entry<CharSequence, CharSequence> e : h) {
            out.add(e.getKey() + ": " + e.getValue());
        }
        return out;
    }
}
