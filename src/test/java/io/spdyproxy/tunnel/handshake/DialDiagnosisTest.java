package io.spdyproxy.tunnel.handshake;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import io.netty.handler.ssl.SslContext;
import io.spdyproxy.origin.OriginClient;
import io.spdyproxy.origin.OriginConfig;
import io.spdyproxy.proxy.ProxyConfig;
import io.spdyproxy.proxy.ProxyIdentity;
import io.spdyproxy.proxy.ProxyServer;
import io.spdyproxy.tunnel.RequestHandler;
import io.spdyproxy.tls.SelfSignedCertificate;
import io.spdyproxy.tls.TlsContexts;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * An origin that cannot work as configured says why, at once, instead of "connection to the proxy
 * closed during the handshake" and silent redials: a certificate that is not the pinned one, a
 * self-signed one with no pin, a host name not in the certificate, and an address that is the
 * proxy's HTTPS or HTTP front end rather than its tunnel port. Each against a real proxy.
 */
@Timeout(60)
class DialDiagnosisTest {
    private static final String TOKEN = "diagnosis-token-0123456789";

    @TempDir
    Path tmp;

    private ProxyServer proxy;
    private OriginClient origin;

    @AfterEach
    void stop() {
        if (origin != null) {
            origin.close();
        }
        if (proxy != null) {
            proxy.close();
        }
    }

    private ProxyConfig config(int httpsPort) {
        return ProxyConfig.defaults(tmp).withBind("127.0.0.1").withPorts(0, 0, httpsPort, -1)
                .withAuth(true, Map.of("default", ProxyConfig.hashToken(TOKEN)));
    }

    private OriginClient dial(int port, SslContext tls) {
        RequestHandler notFound = ex -> ex.respond(io.netty.handler.codec.http.HttpResponseStatus.NOT_FOUND,
                "text/plain", "nothing here\n");
        origin = new OriginClient(OriginConfig.of("127.0.0.1", port).withCredentials("default", TOKEN)
                .withBackoff(Duration.ofMillis(20), Duration.ofMillis(200)), tls, notFound, null).start();
        return origin;
    }

    /** The dial's permanent failure, waited for: it must come at once, not after retries. */
    private static Throwable fatal(OriginClient c) {
        Throwable t = catchThrowable(() -> c.fatalError().get(10, TimeUnit.SECONDS));
        assertThat(t).as("a permanent failure is reported").isInstanceOf(ExecutionException.class);
        return t.getCause();
    }

    @Test
    void wrongFingerprintSaysWhatTheProxyPresentedAndHowToFixIt() throws Exception {
        proxy = ProxyServer.start(config(-1));
        String actual = proxy.identity().fingerprint();
        String wrong = "ab".repeat(32);

        Throwable t = fatal(dial(proxy.tunnelPort(), TlsContexts.clientPinned(wrong, TunnelDialer.ALPN)));

        assertThat(t).isInstanceOf(TunnelDialer.ConfigurationException.class)
                .hasMessageContaining("presented a certificate with fingerprint " + actual)
                .hasMessageContaining("--fingerprint expects " + wrong)
                .hasMessageContaining("use --fingerprint " + actual)
                .hasMessageNotContaining("closed during the handshake");
        assertThat(proxy.tunnels()).isEmpty();
    }

    @Test
    void selfSignedCertificateWithoutAPinAsksForTheFingerprintOrACa() throws Exception {
        proxy = ProxyServer.start(config(-1));

        Throwable t = fatal(dial(proxy.tunnelPort(), TlsContexts.systemTrust(TunnelDialer.ALPN)));

        assertThat(t).isInstanceOf(TunnelDialer.ConfigurationException.class)
                .hasMessageContaining("self-signed and not trusted")
                .hasMessageContaining("--fingerprint " + proxy.identity().fingerprint())
                .hasMessageContaining("--ca FILE");
    }

    @Test
    void hostNameNotInTheCertificateListsTheNamesItHas() throws Exception {
        SelfSignedCertificate elsewhere = SelfSignedCertificate.generate("proxy.example.net");
        proxy = ProxyServer.start(config(-1), new ProxyIdentity(elsewhere,
                Map.of("default", ProxyConfig.hashToken(TOKEN)), null));

        // --ca with the proxy's own certificate: trusted, but it is not for 127.0.0.1.
        Throwable t = fatal(dial(proxy.tunnelPort(), TlsContexts.client(elsewhere.certificate(), TunnelDialer.ALPN)));

        assertThat(t).isInstanceOf(TunnelDialer.ConfigurationException.class)
                .hasMessageContaining("127.0.0.1 is not a name in the proxy's certificate (names: proxy.example.net)")
                .hasMessageContaining("--fingerprint " + SelfSignedCertificate.fingerprint(elsewhere.certificate()));
    }

    @Test
    void theRightCertificateAndPortStillConnect() throws Exception {
        proxy = ProxyServer.start(config(-1));

        OriginClient c = dial(proxy.tunnelPort(),
                TlsContexts.clientPinned(proxy.identity().fingerprint(), TunnelDialer.ALPN));

        TunnelFixture.await(() -> c.connectedTunnels() == 1, Duration.ofSeconds(10), () -> "no tunnel");
        assertThat(c.fatalError()).isNotDone();
    }

    @Test
    void theProxysHttpsPortIsNotATunnelPort() throws Exception {
        proxy = ProxyServer.start(config(0));
        long t0 = System.nanoTime();

        Throwable t = fatal(dial(proxy.httpsPort(),
                TlsContexts.clientPinned(proxy.identity().fingerprint(), TunnelDialer.ALPN)));

        assertThat(t).isInstanceOf(TunnelDialer.ConfigurationException.class)
                .hasMessageContaining("127.0.0.1:" + proxy.httpsPort() + " is not a tunnel port")
                .hasMessageContaining("--https-port")
                .hasMessageContaining("--tunnel-port");
        assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0)).as("at once").isLessThan(5000);
        assertThat(proxy.tunnels()).isEmpty();
    }

    /**
     * A plain HTTP port answers a TLS ClientHello with an HTTP error, as web servers do (nginx,
     * Go's net/http). The proxy's own client port waits for a line end instead, which a
     * ClientHello may not contain, so this uses a plain HTTP server that answers at once.
     */
    @Test
    void aPlainHttpPortIsNotATunnelPort() throws Exception {
        try (ServerSocket web = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            Thread server = new Thread(() -> {
                while (!web.isClosed()) {
                    try (Socket s = web.accept()) {
                        s.getInputStream().read(new byte[4096]);
                        s.getOutputStream().write(("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                                + "Connection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
                    } catch (IOException e) {
                        return; // closed
                    }
                }
            }, "plain-http");
            server.start();

            Throwable t = fatal(dial(web.getLocalPort(), TlsContexts.clientPinned("ab".repeat(32), TunnelDialer.ALPN)));

            assertThat(t).isInstanceOf(TunnelDialer.ConfigurationException.class)
                    .hasMessageContaining("127.0.0.1:" + web.getLocalPort() + " answered in plain HTTP, not TLS")
                    .hasMessageContaining("--port")
                    .hasMessageContaining("--tunnel-port");
        }
    }

    @Test
    void aMalformedFingerprintIsRefusedBeforeAnyDial() {
        for (String bad : new String[] {"", "abc", "ab".repeat(31), "zz".repeat(32), "ab".repeat(33)}) {
            assertThatThrownBy(() -> TlsContexts.clientPinned(bad)).as(bad)
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("64 hex digits");
        }
        String colons = String.join(":", java.util.Collections.nCopies(32, "AB"));
        assertThat(TlsContexts.parseFingerprint(colons)).isEqualTo("ab".repeat(32));
    }
}
