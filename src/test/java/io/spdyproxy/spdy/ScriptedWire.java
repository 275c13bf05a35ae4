package io.spdyproxy.spdy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.spdy.DefaultSpdyDataFrame;
import io.netty.handler.codec.spdy.DefaultSpdyHeaders;
import io.netty.handler.codec.spdy.DefaultSpdyRstStreamFrame;
import io.netty.handler.codec.spdy.DefaultSpdySettingsFrame;
import io.netty.handler.codec.spdy.DefaultSpdySynReplyFrame;
import io.netty.handler.codec.spdy.DefaultSpdySynStreamFrame;
import io.netty.handler.codec.spdy.SpdyDataFrame;
import io.netty.handler.codec.spdy.SpdyGoAwayFrame;
import io.netty.handler.codec.spdy.SpdyHeaders;
import io.netty.handler.codec.spdy.SpdyHeadersFrame;
import io.netty.handler.codec.spdy.SpdyPingFrame;
import io.netty.handler.codec.spdy.SpdyRstStreamFrame;
import io.netty.handler.codec.spdy.SpdySettingsFrame;
import io.netty.handler.codec.spdy.SpdyStreamStatus;
import io.netty.handler.codec.spdy.SpdySynReplyFrame;
import io.netty.handler.codec.spdy.SpdySynStreamFrame;
import io.netty.handler.codec.spdy.SpdyWindowUpdateFrame;
import io.netty.util.ReferenceCountUtil;
import io.spdyproxy.testing.ScriptedPeer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * Helpers for the hardening tests that script a peer: frames to send, and what the session wrote
 * rendered as short strings ({@code "RST_STREAM 5 PROTOCOL_ERROR"}) and released at once, so no
 * assertion can leak a buffer. {@link Recorder} plays the application and releases what it gets.
 */
final class ScriptedWire {
    private ScriptedWire() {}

    /** Records what the session tells the application; releases every DATA chunk. */
    static class Recorder implements SpdySessionListener, SpdyStreamListener {
        final Map<Integer, SpdyStream> streams = new LinkedHashMap<>();
        final Map<Integer, Long> bytes = new HashMap<>();
        final Map<Integer, SpdyStreamException> closed = new LinkedHashMap<>();
        final List<Integer> writable = new ArrayList<>();
        boolean consume;
        boolean sessionClosed;
        Throwable sessionCause;

        @Override
        public SpdyStreamListener onStream(SpdyStream stream, SpdyHeaders h) {
            streams.put(stream.id(), stream);
            return this;
        }

        @Override
        public void onHeaders(SpdyStream stream, SpdyHeaders h, boolean endOfStream) {
            streams.putIfAbsent(stream.id(), stream);
        }

        @Override
        public void onData(SpdyStream stream, ByteBuf data, boolean endOfStream) {
            int n = data.readableBytes();
            bytes.merge(stream.id(), (long) n, Long::sum);
            data.release();
            if (consume) {
                stream.consume(n);
            }
        }

        @Override
        public void onWritabilityChanged(SpdyStream stream) {
            writable.add(stream.id());
        }

        @Override
        public void onClosed(SpdyStream stream, SpdyStreamException cause) {
            closed.put(stream.id(), cause);
        }

        @Override
        public void onClosed(SpdySession session, Throwable cause) {
            sessionClosed = true;
            sessionCause = cause;
        }
    }

    /** Everything the session wrote so far, rendered and released. */
    static List<String> wire(ScriptedPeer peer) {
        List<String> out = new ArrayList<>();
        for (Object o : peer.received()) {
            try {
                out.add(describe(o));
            } finally {
                ReferenceCountUtil.release(o);
            }
        }
        return out;
    }

    static String describe(Object o) {
        if (o instanceof SpdyDataFrame f) {
            return "DATA " + f.streamId() + " " + f.content().readableBytes() + fin(f.isLast());
        }
        if (o instanceof SpdySynStreamFrame f) {
            return "SYN_STREAM " + f.streamId() + fin(f.isLast());
        }
        if (o instanceof SpdySynReplyFrame f) {
            return "SYN_REPLY " + f.streamId() + fin(f.isLast());
        }
        if (o instanceof SpdyHeadersFrame f) {
            return "HEADERS " + f.streamId() + fin(f.isLast());
        }
        if (o instanceof SpdyRstStreamFrame f) {
            return "RST_STREAM " + f.streamId() + " " + f.status();
        }
        if (o instanceof SpdySettingsFrame f) {
            StringBuilder sb = new StringBuilder("SETTINGS");
            for (int id : new TreeSet<>(f.ids())) {
                sb.append(' ').append(id).append('=').append(f.getValue(id));
            }
            return sb.toString();
        }
        if (o instanceof SpdyPingFrame f) {
            return "PING " + f.id();
        }
        if (o instanceof SpdyGoAwayFrame f) {
            return "GOAWAY " + f.lastGoodStreamId() + " " + f.status();
        }
        if (o instanceof SpdyWindowUpdateFrame f) {
            return "WINDOW_UPDATE " + f.streamId() + " " + f.deltaWindowSize();
        }
        return String.valueOf(o);
    }

    private static String fin(boolean last) {
        return last ? " FIN" : "";
    }

    /** Sum of DATA payload bytes on {@code streamId} (the peer's decoder splits frames in chunks). */
    static long dataBytes(List<String> wire, int streamId) {
        long sum = 0;
        for (String f : wire) {
            String[] parts = f.split(" ");
            if (parts[0].equals("DATA") && Integer.parseInt(parts[1]) == streamId) {
                sum += Long.parseLong(parts[2]);
            }
        }
        return sum;
    }

    static DefaultSpdySynStreamFrame syn(int id, boolean fin) {
        DefaultSpdySynStreamFrame f = new DefaultSpdySynStreamFrame(id, 0, (byte) 0);
        f.headers().set(":method", "GET").set(":path", "/" + id).set(":version", "HTTP/1.1")
                .set(":host", "localhost").set(":scheme", "https");
        f.setLast(fin);
        return f;
    }

    static DefaultSpdySynReplyFrame synReply(int id, boolean fin) {
        DefaultSpdySynReplyFrame f = new DefaultSpdySynReplyFrame(id);
        f.headers().set(":status", "200 OK").set(":version", "HTTP/1.1");
        f.setLast(fin);
        return f;
    }

    static DefaultSpdyDataFrame data(int id, int length, boolean fin) {
        DefaultSpdyDataFrame f = new DefaultSpdyDataFrame(id, Unpooled.wrappedBuffer(new byte[length]));
        f.setLast(fin);
        return f;
    }

    static DefaultSpdyRstStreamFrame rst(int id, SpdyStreamStatus status) {
        return new DefaultSpdyRstStreamFrame(id, status);
    }

    static DefaultSpdySettingsFrame initialWindow(int window) {
        DefaultSpdySettingsFrame f = new DefaultSpdySettingsFrame();
        f.setValue(7, window);
        return f;
    }

    static SpdyHeaders reply() {
        SpdyHeaders h = new DefaultSpdyHeaders();
        h.set(":status", "200 OK").set(":version", "HTTP/1.1");
        return h;
    }

    static SpdyHeaders request() {
        SpdyHeaders h = new DefaultSpdyHeaders();
        h.set(":method", "POST").set(":path", "/").set(":version", "HTTP/1.1")
                .set(":host", "localhost").set(":scheme", "https");
        return h;
    }

    static ByteBuf zeros(int n) {
        return Unpooled.wrappedBuffer(new byte[n]);
    }
}
