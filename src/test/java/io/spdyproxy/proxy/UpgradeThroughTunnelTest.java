package io.spdyproxy.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.spdyproxy.testing.LeakCheckExtension;
import io.spdyproxy.tunnel.TunnelExchange;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * An HTTP upgrade end to end through a real tunnel, with an in-process origin that switches to a
 * byte echo: the 101 reaches the client with the app's Upgrade header, then raw bytes pass both
 * ways, and each side's FIN reaches the other. (The reverse proxy's side, with a real WebSocket
 * app, has its own tests.)
 */
@Timeout(30)
@ExtendWith(LeakCheckExtension.class)
class UpgradeThroughTunnelTest {
    @TempDir
    Path tmp;
    private ProxyBed bed;

    @AfterEach
    void stop() throws Exception {
        if (bed != null) {
            bed.close();
        }
    }

    /** Switches to "echo" and sends every byte back; ends its half when the client ends its own. */
    private static void echo(TunnelExchange ex, CompletableFuture<String> seen) {
        seen.complete(ex.upgrade() + " " + ex.requestHasBody());
        if (ex.upgrade() == null) {
            ex.respond(HttpResponseStatus.OK, "text/plain", "no upgrade\n");
            return;
        }
        HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.SWITCHING_PROTOCOLS);
        head.headers().set("Upgrade", ex.upgrade()).set("X-App", "echo");
        ex.respond(head, false);
        ex.onBody((chunk, last) -> {
            int n = chunk.readableBytes();
            ex.write(chunk, last);
            ex.consume(n);
        });
    }

    @Test
    void anUpgradeBecomesARawPipeBothWays() throws Exception {
        bed = new ProxyBed(tmp.resolve("p"), c -> c);
        CompletableFuture<String> seen = new CompletableFuture<>();
        bed.origin("default", ex -> echo(ex, seen));
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", bed.port()));
            s.setSoTimeout(10_000);
            s.getOutputStream().write(("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\n"
                    + "Upgrade: echo\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            String head = readHead(s.getInputStream());
            assertThat(head).startsWith("HTTP/1.1 101 ").containsIgnoringCase("upgrade: echo")
                    .containsIgnoringCase("connection: upgrade").contains("x-app: echo")
                    .doesNotContainIgnoringCase("content-length").doesNotContainIgnoringCase("transfer-encoding");
            assertThat(seen.get(5, TimeUnit.SECONDS)).isEqualTo("echo true"); // bytes follow the head

            byte[] msg = "GET / HTTP/1.1\r\n\r\n\u0000\u00ffraw bytes".getBytes(StandardCharsets.ISO_8859_1);
            s.getOutputStream().write(msg);
            assertThat(s.getInputStream().readNBytes(msg.length)).isEqualTo(msg);
            s.shutdownOutput(); // the client's FIN reaches the app, whose FIN comes back
            assertThat(s.getInputStream().read()).isEqualTo(-1);
        }
    }

    @Test
    void aDeclinedUpgradeIsAnOrdinaryExchange() throws Exception {
        bed = new ProxyBed(tmp.resolve("p"), c -> c);
        CompletableFuture<String> seen = new CompletableFuture<>();
        CompletableFuture<Boolean> requestEnded = new CompletableFuture<>();
        bed.origin("default", ex -> {
            seen.complete(ex.upgrade());
            ex.onBody((chunk, last) -> {
                chunk.release();
                if (last) {
                    requestEnded.complete(true); // the proxy ends the request half it kept open
                }
            });
            ex.respond(HttpResponseStatus.OK, "text/plain", "plain answer\n");
        });
        try (ProxyFeaturesTest.Raw raw = new ProxyFeaturesTest.Raw(bed.port())) {
            raw.send("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
            ProxyFeaturesTest.Reply r = raw.readReply(false);
            assertThat(r.status()).isEqualTo(200);
            assertThat(r.text()).isEqualTo("plain answer");
            assertThat(requestEnded.get(5, TimeUnit.SECONDS)).isTrue();
            raw.send("GET /again HTTP/1.1\r\nHost: a\r\n\r\n"); // the connection stays an HTTP/1.1 one
            assertThat(raw.readReply(false).status()).isEqualTo(200);
        }
        assertThat(seen.get(5, TimeUnit.SECONDS)).isEqualTo("websocket");
    }

    @Test
    void aResetStreamClosesTheUpgradedClient() throws Exception {
        bed = new ProxyBed(tmp.resolve("p"), c -> c);
        bed.origin("default", ex -> {
            HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.SWITCHING_PROTOCOLS);
            head.headers().set("Upgrade", "x");
            ex.respond(head, false);
            ex.onBody((chunk, last) -> {
                chunk.release();
                ex.reset(io.spdyproxy.tunnel.StreamError.INTERNAL_ERROR); // the app died
            });
        });
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", bed.port()));
            s.setSoTimeout(10_000);
            s.getOutputStream().write("GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: x\r\n\r\n"
                    .getBytes(StandardCharsets.US_ASCII));
            assertThat(readHead(s.getInputStream())).startsWith("HTTP/1.1 101 ");
            s.getOutputStream().write(1);
            assertThat(drain(s.getInputStream())).as("closed, not hung").isTrue();
        }
    }

    private static boolean drain(InputStream in) {
        try {
            while (in.read() >= 0) {
                // the connection may deliver nothing more
            }
            return true;
        } catch (IOException e) {
            return true; // a reset is an abnormal end too: what matters is that it ended
        }
    }

    private static String readHead(InputStream in) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        int c;
        while ((c = in.read()) >= 0) {
            b.write(c);
            byte[] a = b.toByteArray();
            int n = a.length;
            if (n >= 4 && a[n - 4] == '\r' && a[n - 3] == '\n' && a[n - 2] == '\r' && a[n - 1] == '\n') {
                break;
            }
        }
        return b.toString(StandardCharsets.ISO_8859_1);
    }
}
