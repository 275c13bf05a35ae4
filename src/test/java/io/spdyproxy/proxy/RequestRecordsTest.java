package io.spdyproxy.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.spdyproxy.example.ExampleHandler;
import io.spdyproxy.observe.RequestRecord;
import io.spdyproxy.observe.RequestRecord.Outcome;
import io.spdyproxy.tunnel.StreamError;
import io.spdyproxy.tunnel.handshake.TunnelProtocol;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every request the proxy finishes reaches its request listeners once, as a {@link RequestRecord}
 * saying what went each way and how it ended: the seam the access log, the metrics and the
 * dashboard hang on.
 */
@Timeout(30)
class RequestRecordsTest {
    @TempDir
    Path tmp;
    private ProxyBed bed;
    private final BlockingQueue<RequestRecord> records = new LinkedBlockingQueue<>();

    TunnelProtocol.Kind tunnelProtocol() {
        return TunnelProtocol.Kind.SPDY;
    }

    private ProxyBed bed() throws Exception {
        bed = new ProxyBed(tmp, c -> c, tunnelProtocol());
        bed.proxy.onRequest(records::add);
        return bed;
    }

    @AfterEach
    void tearDown() throws Exception {
        if (bed != null) {
            bed.close();
        }
    }

    private RequestRecord next() throws InterruptedException {
        RequestRecord r = records.poll(10, TimeUnit.SECONDS);
        assertThat(r).as("a record").isNotNull();
        return r;
    }

    /** Sends {@code request} and reads until the proxy closes the connection. */
    private String exchange(String request) throws Exception {
        try (Socket s = new Socket("127.0.0.1", bed.port())) {
            s.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
            return new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
        }
    }

    @Test
    void aCompleteDownloadAndAnUploadAreRecordedWithTheirBytesAndTimes() throws Exception {
        bed().origin("default", new ExampleHandler());
        String reply = exchange("GET /bytes?n=5000 HTTP/1.1\r\nHost: shop.example\r\nUser-Agent: rec/1\r\n"
                + "Referer: http://ref.example/\r\nConnection: close\r\n\r\n");
        assertThat(reply).startsWith("HTTP/1.1 200");
        RequestRecord get = next();
        assertThat(get.tunnel()).isEqualTo("default");
        assertThat(get.method()).isEqualTo("GET");
        assertThat(get.host()).isEqualTo("shop.example");
        assertThat(get.target()).isEqualTo("/bytes?n=5000");
        assertThat(get.protocol()).isEqualTo("HTTP/1.1");
        assertThat(get.scheme()).isEqualTo("http");
        assertThat(get.userAgent()).isEqualTo("rec/1");
        assertThat(get.referer()).isEqualTo("http://ref.example/");
        assertThat(get.client()).isEqualTo("127.0.0.1");
        assertThat(get.status()).isEqualTo(200);
        assertThat(get.bytesOut()).isEqualTo(5000);
        assertThat(get.bytesIn()).isZero();
        assertThat(get.outcome()).isEqualTo(Outcome.COMPLETE);
        assertThat(get.firstByteNanos()).isBetween(0L, get.durationNanos());
        assertThat(get.startMillis()).isBetween(System.currentTimeMillis() - 30_000, System.currentTimeMillis());

        String body = "x".repeat(3000);
        reply = exchange("POST /echo HTTP/1.1\r\nHost: shop.example\r\nContent-Length: 3000\r\n"
                + "Connection: close\r\n\r\n" + body);
        assertThat(reply).startsWith("HTTP/1.1 200");
        RequestRecord post = next();
        assertThat(post.method()).isEqualTo("POST");
        assertThat(post.bytesIn()).isEqualTo(3000);
        assertThat(post.outcome()).isEqualTo(Outcome.COMPLETE);
        assertThat(records).isEmpty();
    }

    @Test
    void theProxysOwnAnswersAreRecordedWithTheirStatus() throws Exception {
        bed();
        String reply = exchange("GET /nothing HTTP/1.1\r\nHost: shop.example\r\nConnection: close\r\n\r\n");
        assertThat(reply).startsWith("HTTP/1.1 503");
        RequestRecord r = next();
        assertThat(r.status()).isEqualTo(503);
        assertThat(r.tunnel()).isEqualTo("default");
        assertThat(r.outcome()).isEqualTo(Outcome.COMPLETE);
        assertThat(r.bytesOut()).isZero(); // the error page is the proxy's, not the origin's body
    }

    @Test
    void anOriginResetIsRecordedAsSuch() throws Exception {
        bed().origin("default", ex -> ex.reset(StreamError.INTERNAL_ERROR));
        String reply = exchange("GET / HTTP/1.1\r\nHost: shop.example\r\nConnection: close\r\n\r\n");
        assertThat(reply).startsWith("HTTP/1.1 502");
        RequestRecord r = next();
        assertThat(r.status()).isEqualTo(502);
        assertThat(r.outcome()).isEqualTo(Outcome.ORIGIN_RESET);
    }

    @Test
    void aClientThatLeavesMidDownloadIsRecordedAsAborted() throws Exception {
        bed().origin("default", new ExampleHandler());
        try (Socket s = new Socket("127.0.0.1", bed.port())) {
            OutputStream out = s.getOutputStream();
            out.write("GET /bytes?n=1000000000 HTTP/1.1\r\nHost: shop.example\r\n\r\n"
                    .getBytes(StandardCharsets.ISO_8859_1));
            InputStream in = s.getInputStream();
            byte[] some = in.readNBytes(100_000);
            assertThat(new String(some, 0, 12, StandardCharsets.ISO_8859_1)).isEqualTo("HTTP/1.1 200");
        }
        RequestRecord r = next();
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.outcome()).isEqualTo(Outcome.CLIENT_ABORTED);
        assertThat(r.bytesOut()).isBetween(1L, 999_999_999L);
    }

    @Test
    void aRequestTheFrontEndRefusesIsRecordedWithoutATunnel() throws Exception {
        bed().origin("default", new ExampleHandler());
        String reply = exchange("GET / HTTP/1.1\r\nHost: shop.example\r\nExpect: teapot\r\n\r\n");
        assertThat(reply).startsWith("HTTP/1.1 417");
        RequestRecord r = next();
        assertThat(r.status()).isEqualTo(417);
        assertThat(r.tunnel()).isNull();
        assertThat(r.target()).isEqualTo("/");
    }

    @Test
    void anHttp2RequestIsRecordedAsSuch() throws Exception {
        bed().origin("default", new ExampleHandler());
        io.netty.channel.EventLoopGroup loops = io.spdyproxy.transport.Transport.newGroup(1, "records-h2");
        try (H2TestClient c = H2TestClient.connect(loops, bed.port(), null)) {
            var head = new io.netty.handler.codec.http.DefaultHttpRequest(io.netty.handler.codec.http.HttpVersion.HTTP_1_1,
                    io.netty.handler.codec.http.HttpMethod.GET, "/bytes?n=1234");
            head.headers().set("host", "shop.example");
            assertThat(c.get(head).get(10, TimeUnit.SECONDS).status()).isEqualTo(200);
        } finally {
            loops.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
        RequestRecord r = next();
        assertThat(r.protocol()).isEqualTo("HTTP/2.0");
        assertThat(r.bytesOut()).isEqualTo(1234);
        assertThat(r.host()).isEqualTo("shop.example");
        assertThat(r.outcome()).isEqualTo(Outcome.COMPLETE);
    }
}
