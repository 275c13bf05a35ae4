package io.spdyproxy.tunnel.handshake;

import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.DecoderException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** {@link HandshakeDecoder} on an {@link EmbeddedChannel}: trickled input, strict framing. */
class HandshakeDecoderTest {
    private static final String PUT = "PUT / HTTP/1.1\r\nHost: localhost:1444\r\nContent-Length: 12\r\n\r\n"
            + "Hello from C";

    @Test
    void aHandshakeTrickledByteByByteDecodesOnceAndLeavesWhatFollows() {
        EmbeddedChannel ch = new EmbeddedChannel(new HandshakeDecoder());
        byte[] bytes = (PUT + "SPDY").getBytes(ISO_8859_1);
        for (int i = 0; i < PUT.length(); i++) {
            assertThat(ch.<Object>readInbound()).as("nothing before byte %d", i).isNull();
            ch.writeInbound(Unpooled.wrappedBuffer(bytes, i, 1));
        }
        HandshakeMessage m = ch.readInbound();
        assertThat(m.startLine()).isEqualTo("PUT / HTTP/1.1");
        assertThat(m.body()).isEqualTo("Hello from C");

        ch.writeInbound(Unpooled.wrappedBuffer(bytes, PUT.length(), 4));
        ch.pipeline().remove(HandshakeDecoder.class); // hands what follows on, as the acceptor does
        ByteBuf rest = ch.readInbound();
        assertThat(rest.toString(ISO_8859_1)).isEqualTo("SPDY");
        rest.release();
        assertThat(ch.finish()).isFalse();
    }

    @ParameterizedTest
    @ValueSource(strings = {"Content-Length: +12\r\n", "Content-Length: 12\r\nContent-Length: 12\r\n",
        "Content-Length: 1 2\r\n", "Content-Length: 99999999999\r\n", "Content-Length: 4097\r\n"})
    void aContentLengthThatIsNotOnePlainNumberOfAllowedSizeIsRefused(String header) {
        EmbeddedChannel ch = new EmbeddedChannel(new HandshakeDecoder());
        String put = "PUT / HTTP/1.1\r\nHost: localhost:1444\r\n" + header + "\r\nHello from C";

        assertThatThrownBy(() -> ch.writeInbound(Unpooled.copiedBuffer(put, ISO_8859_1)))
                .isInstanceOf(DecoderException.class).hasMessageContaining("handshake");
        ch.finishAndReleaseAll();
    }
}
