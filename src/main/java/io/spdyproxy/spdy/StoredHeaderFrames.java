package io.spdyproxy.spdy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufUtil;
import io.netty.handler.codec.spdy.SpdyHeaders;
import io.netty.util.AsciiString;
import java.util.Map;

/**
 * Encodes SYN_STREAM, SYN_REPLY and HEADERS frames whose header blocks are zlib stored blocks:
 * the bytes a {@code Deflater} at level 0 with the SPDY dictionary and a sync flush per frame
 * emits (the form Netty's encoder produces for us when header compression is off), written
 * straight from the headers, without copying them into a Netty frame object or running a
 * deflater. Nothing in one block refers to another, so the sizes of one request's headers say
 * nothing about another's. The header block layout and value joining follow Netty's raw encoder
 * (SPDY/3 section 2.6.10): one entry per name, several values joined by NUL, empty values left
 * out, characters written as ASCII.
 *
 * <p>One per session: the zlib stream runs across all of its frames. Confined to the session's
 * event loop.
 */
final class StoredHeaderFrames {
    /** Adler-32 of the SPDY/3 header dictionary: the DICTID of the zlib stream's header. */
    static final int DICTIONARY_ID = 0xE3C6A7C2;
    private static final int SYN_STREAM = 1;
    private static final int SYN_REPLY = 2;
    private static final int HEADERS = 8;
    private static final int MAX_STORED = 65_535;

    private boolean zlibHeaderSent;

    ByteBuf synStream(ByteBufAllocator alloc, int streamId, byte priority, boolean fin, SpdyHeaders headers) {
        return frame(alloc, SYN_STREAM, streamId, priority, fin, headers);
    }

    ByteBuf synReply(ByteBufAllocator alloc, int streamId, boolean fin, SpdyHeaders headers) {
        return frame(alloc, SYN_REPLY, streamId, (byte) 0, fin, headers);
    }

    ByteBuf headers(ByteBufAllocator alloc, int streamId, boolean fin, SpdyHeaders headers) {
        return frame(alloc, HEADERS, streamId, (byte) 0, fin, headers);
    }

    private ByteBuf frame(ByteBufAllocator alloc, int type, int streamId, byte priority, boolean fin,
            SpdyHeaders headers) {
        int n = headers.size();
        CharSequence[] names = new CharSequence[n];
        CharSequence[] values = new CharSequence[n];
        int i = 0;
        for (Map.Entry<CharSequence, CharSequence> e : headers) {
            names[i] = e.getKey();
            values[i] = e.getValue();
            i++;
        }
        // first[i]: the entry whose name entry i repeats, or i itself for a name's first entry.
        int[] first = new int[n];
        int count = 0;
        int raw = 4; // the count, then per name 4 + name + 4 + its values joined by NUL
        int[] joined = new int[n];
        for (i = 0; i < n; i++) {
            first[i] = i;
            for (int j = 0; j < i; j++) {
                if (first[j] == j && sameName(names[j], names[i])) {
                    first[i] = j;
                    break;
                }
            }
            int owner = first[i];
            if (owner == i) {
                count++;
                raw += 8 + names[i].length();
            }
            int v = values[i].length();
            if (v > 0) {
                int add = joined[owner] > 0 ? v + 1 : v;
                joined[owner] += add;
                raw += add;
            }
        }
        int block = count == 0 ? 0 : (zlibHeaderSent ? 0 : 6) + storedLength(raw);
        int prefix = type == SYN_STREAM ? 10 : 4;
        ByteBuf out = alloc.ioBuffer(8 + prefix + block);
        out.writeShort(0x8003); // control bit, version 3
        out.writeShort(type);
        out.writeByte(fin ? 0x01 : 0x00);
        out.writeMedium(prefix + block);
        out.writeInt(streamId & 0x7FFFFFFF);
        if (type == SYN_STREAM) {
            out.writeInt(0); // associated-to stream
            out.writeShort((priority & 0x07) << 13); // priority in the top 3 bits, then the slot
        }
        if (count == 0) {
            return out; // an empty header block, as Netty sends it
        }
        if (!zlibHeaderSent) {
            zlibHeaderSent = true;
            out.writeShort(0x783F); // deflate, 32 KiB window, level 0, preset dictionary
            out.writeInt(DICTIONARY_ID);
        }
        if (raw <= MAX_STORED) {
            storedBlockHeader(out, raw);
            writeRaw(out, count, names, values, first, joined);
        } else {
            // Stored blocks of at most 65,535 bytes each: build the raw block, then cut it up.
            ByteBuf whole = alloc.heapBuffer(raw);
            try {
                writeRaw(whole, count, names, values, first, joined);
                while (whole.isReadable()) {
                    int len = Math.min(whole.readableBytes(), MAX_STORED);
                    storedBlockHeader(out, len);
                    out.writeBytes(whole, len);
                }
            } finally {
                whole.release();
            }
        }
        storedBlockHeader(out, 0); // the sync flush: an empty stored block
        return out;
    }

    /** "00 LEN NLEN" (little endian): a stored, not final, block of {@code len} bytes. */
    private static void storedBlockHeader(ByteBuf out, int len) {
        out.writeByte(0);
        out.writeShortLE(len);
        out.writeShortLE(~len & 0xFFFF);
    }

    private static void writeRaw(ByteBuf out, int count, CharSequence[] names, CharSequence[] values, int[] first,
            int[] joined) {
        out.writeInt(count);
        for (int i = 0; i < names.length; i++) {
            if (first[i] != i) {
                continue;
            }
            out.writeInt(names[i].length());
            ByteBufUtil.writeAscii(out, names[i]);
            out.writeInt(joined[i]);
            boolean any = false;
            for (int j = i; j < names.length; j++) {
                if (first[j] == i && values[j].length() > 0) {
                    if (any) {
                        out.writeByte(0);
                    }
                    ByteBufUtil.writeAscii(out, values[j]);
                    any = true;
                }
            }
        }
    }

    /** Bytes of a raw block of {@code raw} bytes as stored blocks plus the sync flush. */
    private static int storedLength(int raw) {
        int blocks = (raw + MAX_STORED - 1) / MAX_STORED;
        return raw + 5 * blocks + 5;
    }

    private static boolean sameName(CharSequence a, CharSequence b) {
        return a == b || a.length() == b.length() && AsciiString.contentEqualsIgnoreCase(a, b);
    }
}
