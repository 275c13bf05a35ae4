package io.spdyproxy.tunnel;

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
 */
final class HandshakeDecoder extends ByteToMessageDecoder {
    static final int MAX_HEAD = 8 * 1024;
    static final int MAX_BODY = 4 * 1024;

    private HandshakeMessage head;
    private int bodyLength = -1;
    private boolean done;
    /**
     * Set once a message was refused: what follows is not read as another message, not even
     * when the connection closes and the decoder is handed its input one last time.
     */
    private boolean failed;

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        if (done) {
            return; // leave the rest for the next handler
        }
        if (failed) {
            in.skipBytes(in.readableBytes());
            return;
        }
        try {
            decodeMessage(in, out);
        } catch (DecoderException e) {
            failed = true;
            throw e;
        }
    }

    private void decodeMessage(ByteBuf in, List<Object> out) {
        if (head == null) {
            int end = in.forEachByte(in.readerIndex(), Math.min(in.readableBytes(), MAX_HEAD),
                    new EndOfHead());
            if (end < 0) {
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
            head = new HandshakeMessage(lines[0], headers, "");
            String len = headers.get("Content-Length");
            try {
                bodyLength = len == null ? 0 : Integer.parseInt(len.trim());
            } catch (NumberFormatException e) {
                throw new DecoderException("bad Content-Length in handshake: " + len);
            }
            if (bodyLength < 0 || bodyLength > MAX_BODY) {
                throw new DecoderException("handshake body of " + bodyLength + " bytes (expected: <= " + MAX_BODY + ")");
            }
        }
        if (in.readableBytes() < bodyLength) {
            return;
        }
        String body = in.readCharSequence(bodyLength, StandardCharsets.UTF_8).toString();
        done = true;
        out.add(new HandshakeMessage(head.startLine(), head.headers(), body));
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
