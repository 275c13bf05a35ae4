package io.spdyproxy.tunnel.handshake;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.util.ByteProcessor;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Decodes exactly one handshake message (request or response) and nothing more: whatever follows
 * it is SPDY, and stays in the cumulation so that removing this decoder hands it to the SPDY codec.
 * A hand-rolled parser rather than Netty's HTTP codec, because that one would try to read the
 * SPDY bytes after the message as the next HTTP message.
 *
 * <p>Threading: confined to the channel's event loop, like every decoder.
 */
final class HandshakeDecoder extends ByteToMessageDecoder {
    static final int MAX_HEAD = 8 * 1024;
    static final int MAX_BODY = 4 * 1024;

    /** Where the decoder is in the one message it decodes. */
    private enum State {
        HEAD,
        BODY,
        /** The message went out: what follows is SPDY, left for the next handler. */
        DONE,
        /** The message was malformed (the connection is closing): the rest is dropped. */
        FAILED
    }

    private State state = State.HEAD;
    private HandshakeMessage head;
    private int bodyLength;
    /** Bytes of the head already searched for its end: a peer trickling it is scanned once. */
    private int scanned;
    private final EndOfHead endOfHead = new EndOfHead();

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        try {
            switch (state) {
                case HEAD -> head(in);
                case DONE -> {
                    return; // leave the rest for the next handler
                }
                case FAILED -> {
                    in.skipBytes(in.readableBytes());
                    return;
                }
                default -> { }
            }
            if (state == State.BODY && in.readableBytes() >= bodyLength) {
                String body = in.readCharSequence(bodyLength, StandardCharsets.UTF_8).toString();
                state = State.DONE;
                out.add(new HandshakeMessage(head.startLine(), head.headers(), body));
            }
        } catch (RuntimeException e) {
            // Decoded again on close (decodeLast): without this it would read a half-parsed head.
            state = State.FAILED;
            throw e;
        }
    }

    private void head(ByteBuf in) {
        int limit = Math.min(in.readableBytes(), MAX_HEAD);
        int end = in.forEachByte(in.readerIndex() + scanned, limit - scanned, endOfHead);
        if (end < 0) {
            scanned = limit;
            if (in.readableBytes() >= MAX_HEAD) {
                throw new DecoderException("handshake head longer than " + MAX_HEAD + " bytes");
            }
            return;
        }
        String text = in.readCharSequence(end + 1 - in.readerIndex(), StandardCharsets.ISO_8859_1).toString();
        String[] lines = text.split("\r\n");
        if (lines.length == 0 || lines[0].isEmpty()) {
            throw new DecoderException("handshake without a start line");
        }
        HttpHeaders headers = new DefaultHttpHeaders();
        for (int i = 1; i < lines.length; i++) {
            String line = lines[i];
            if (line.isEmpty()) {
                continue;
            }
            int colon = line.indexOf(':');
            if (colon <= 0) {
                throw new DecoderException("malformed handshake header: " + line);
            }
            try {
                headers.add(line.substring(0, colon).trim(), line.substring(colon + 1).trim());
            } catch (IllegalArgumentException e) { // a name or value the header validation refuses
                throw new DecoderException("malformed handshake header: " + line);
            }
        }
        // RFC 9112 section 6.3: one Content-Length, digits only (no sign, no list).
        List<String> lengths = headers.getAll("Content-Length");
        String len = lengths.isEmpty() ? "0" : lengths.get(0);
        if (lengths.size() > 1 || !len.matches("[0-9]{1,9}")) {
            throw new DecoderException("bad Content-Length in handshake: " + String.join(", ", lengths));
        }
        bodyLength = Integer.parseInt(len);
        if (bodyLength > MAX_BODY) {
            throw new DecoderException("handshake body of " + bodyLength + " bytes (expected: <= " + MAX_BODY + ")");
        }
        head = new HandshakeMessage(lines[0], headers, "");
        state = State.BODY;
    }

    /** Finds the last byte of "\r\n\r\n". */
    private static final class EndOfHead implements ByteProcessor {
        private int state;

        @Override
        public boolean process(byte b) {
            state = switch (state) {
                case 0, 2 -> b == '\r' ? state + 1 : 0;
                case 1 -> b == '\n' ? 2 : (b == '\r' ? 1 : 0);
                case 3 -> b == '\n' ? 4 : (b == '\r' ? 1 : 0);
                default -> 0;
            };
            return state != 4;
        }
    }
}
