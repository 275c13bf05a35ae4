package io.spdyproxy.example;

import io.spdyproxy.tunnel.spdy.SpdyTunnelSession;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.spdyproxy.spdy.SpdyRole;
import io.spdyproxy.spdy.SpdySession;
import io.spdyproxy.spdy.SpdySessionConfig;
import io.spdyproxy.spdy.SpdySessionListener;
import io.spdyproxy.spdy.http.SpdyClient;
import io.spdyproxy.spdy.http.SpdyServer;
import io.spdyproxy.testing.TestCerts;
import io.spdyproxy.tls.TlsContexts;
import io.spdyproxy.transport.Transport;
import java.net.InetSocketAddress;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The example service over loopback TLS: what {@code /bytes} sends is only what it means to. */
@Timeout(60)
class ExampleHandlerTest {
    private static final List<String> ALPN = List.of("spdy/3.1");
    private static final int MIB = 1024 * 1024;
    /** A byte no response of {@code /bytes} may carry: the uploads below are made of it. */
    private static final byte SECRET = (byte) 0xA5;

    private EventLoopGroup serverLoop;
    private EventLoopGroup clientLoop;
    private SpdyServer server;
    private SpdySession session;

    @BeforeEach
    void start() throws Exception {
        // One server loop: every request's buffers come from the same thread's pool.
        serverLoop = Transport.newGroup(1, "example-server");
        clientLoop = Transport.newGroup(1, "example-client");
        server = SpdyServer.start(new InetSocketAddress("127.0.0.1", 0), TlsContexts.server(TestCerts.LOCALHOST, ALPN),
                SpdySessionConfig.builder(SpdyRole.SERVER).build(), SpdyTunnelSession.listener(new ExampleHandler()), serverLoop);
        session = SpdyClient.connect(clientLoop, new InetSocketAddress("127.0.0.1", server.port()),
                TlsContexts.client(TestCerts.LOCALHOST.certificate(), ALPN),
                SpdySessionConfig.builder(SpdyRole.CLIENT).build(), SpdySessionListener.refusingStreams())
                .get(10, TimeUnit.SECONDS);
    }

    @AfterEach
    void stop() throws Exception {
        try {
            if (session != null) {
                session.close().get(10, TimeUnit.SECONDS);
            }
            if (server != null) {
                server.close();
            }
        } finally {
            clientLoop.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
            serverLoop.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    @Test
    void bytesSendsZerosEvenAfterOtherClientsBodiesWentThroughThePool() throws Exception {
        byte[] upload = new byte[MIB];
        Arrays.fill(upload, SECRET);
        for (int round = 0; round < 4; round++) {
            // Uploads read into pooled buffers, echoed, released: their memory goes back to the pool.
            for (int i = 0; i < 4; i++) {
                byte[] echoed = fetch(HttpMethod.POST, "/echo", upload, 2 * MIB).body;
                assertThat(echoed).isEqualTo(upload);
            }
            Reply bytes = fetch(HttpMethod.GET, "/bytes?n=" + (3 * MIB + 7), null, 4 * MIB);
            assertThat(bytes.status).isEqualTo(HttpResponseStatus.OK);
            assertThat(bytes.body).hasSize(3 * MIB + 7);
            assertThat(firstNonZero(bytes.body)).as("offset of the first byte /bytes did not write (%d bytes of"
                    + " the uploads among them)", count(bytes.body, SECRET)).isEqualTo(-1);
        }
    }

    @Test
    void aByteCountThatIsNotOneGets400AndTheSessionGoesOn() throws Exception {
        for (String n : List.of("-1", "abc", "99999999999999999999", "")) {
            assertThat(fetch(HttpMethod.GET, "/bytes?n=" + n, null, MIB).status).as("n=%s", n)
                    .isEqualTo(HttpResponseStatus.BAD_REQUEST);
        }
        Reply zero = fetch(HttpMethod.GET, "/bytes?n=0", null, MIB);
        assertThat(zero.status).isEqualTo(HttpResponseStatus.OK);
        assertThat(zero.body).isEmpty();
        assertThat(fetch(HttpMethod.GET, "/bytes?n=10", null, MIB).body).hasSize(10);
    }

    private record Reply(HttpResponseStatus status, byte[] body) {}

    private Reply fetch(HttpMethod method, String uri, byte[] body, int max) throws Exception {
        ByteBuf content = body == null ? Unpooled.EMPTY_BUFFER : Unpooled.wrappedBuffer(body);
        FullHttpRequest req = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, method, uri, content);
        req.headers().set(HttpHeaderNames.HOST, "localhost");
        FullHttpResponse r = SpdyClient.fetch(session, req, "https", max).get(10, TimeUnit.SECONDS);
        try {
            byte[] bytes = new byte[r.content().readableBytes()];
            r.content().readBytes(bytes);
            return new Reply(r.status(), bytes);
        } finally {
            r.release();
        }
    }

    private static int count(byte[] b, byte value) {
        int n = 0;
        for (byte x : b) {
            n += x == value ? 1 : 0;
        }
        return n;
    }

    private static int firstNonZero(byte[] b) {
        for (int i = 0; i < b.length; i++) {
            if (b[i] != 0) {
                return i;
            }
        }
        return -1;
    }
}
