package io.spdyproxy.tunnel.handshake;

import static org.assertj.core.api.Assertions.assertThat;

import io.spdyproxy.proxy.ProxyConfig;
import io.spdyproxy.proxy.ProxyIdentity;
import io.spdyproxy.proxy.ProxyServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The tunnel listener's handshake deadlines, against raw peers that connect and then stall: TLS
 * must be done a few seconds after the accept, the PUT by the handshake timeout, and a peer that
 * trickles a byte at a time pushes neither back. Each test waits for the listener to close the
 * connection (EOF), with the socket's read timeout as the guard.
 */
@Timeout(60)
class TunnelHandshakeTimeoutTest {
    private static final Duration SLACK = Duration.ofMillis(1500);

    @TempDir
    Path tmp;
    private TunnelFixture fx;
    private ScheduledExecutorService trickler;

    @BeforeEach
    void setUp() {
        fx = new TunnelFixture(tmp.resolve("proxy-data"));
        trickler = Executors.newScheduledThreadPool(2);
    }

    @AfterEach
    void tearDown() {
        trickler.shutdownNow();
        fx.close();
    }

    private ProxyServer start(TunnelAcceptor.Limits limits) throws Exception {
        ProxyConfig config = fx.proxyConfig();
        return fx.closeLater(ProxyServer.start(config, ProxyIdentity.load(config), limits));
    }

    /** A silent peer and one trickling its ClientHello are both closed by the TLS deadline. */
    private void assertTlsDeadline(int port, Duration limit) throws Exception {
        Duration guard = limit.plus(Duration.ofSeconds(10));
        RawTunnelClient silent = fx.closeLater(RawTunnelClient.tcp("127.0.0.1", port, guard));
        RawTunnelClient slow = fx.closeLater(RawTunnelClient.tcp("127.0.0.1", port, guard));
        byte[] hello = RawTunnelClient.clientHello();
        AtomicInteger sent = slow.trickle(hello, Duration.ofMillis(50), trickler);

        Duration silentClosed = silent.awaitClosed();
        Duration slowClosed = slow.awaitClosed();

        System.out.printf("TLS limit %d ms: silent peer closed after %d ms, trickling peer after %d ms"
                + " (%d of %d ClientHello bytes sent)%n", limit.toMillis(), silentClosed.toMillis(),
                slowClosed.toMillis(), sent.get(), hello.length);
        assertThat(sent.get()).as("still trickling when closed").isPositive().isLessThan(hello.length);
        assertThat(silentClosed).isLessThan(limit.plus(SLACK));
        assertThat(slowClosed).isLessThan(limit.plus(SLACK));
    }

    @Test
    void tlsMustBeDoneWithinFiveSecondsOfTheAcceptByDefault() throws Exception {
        ProxyServer proxy = fx.startProxy(fx.proxyConfig());

        assertTlsDeadline(proxy.tunnelPort(), TunnelAcceptor.Limits.defaults().tlsTimeout());
    }

    @Test
    void aConfiguredTlsLimitClosesSilentAndTricklingPeers() throws Exception {
        Duration tls = Duration.ofMillis(400);
        ProxyServer proxy = start(TunnelAcceptor.Limits.defaults().withTimeouts(tls, Duration.ofSeconds(20)));

        assertTlsDeadline(proxy.tunnelPort(), tls);
    }

    @Test
    void thePutMustBeDoneWithinTheHandshakeLimitEvenWhenTrickled() throws Exception {
        Duration handshake = Duration.ofMillis(1500);
        ProxyServer proxy = start(TunnelAcceptor.Limits.defaults().withTimeouts(Duration.ofSeconds(1), handshake));
        Duration guard = handshake.plus(Duration.ofSeconds(10));
        RawTunnelClient silent = fx.closeLater(RawTunnelClient.tls("127.0.0.1", proxy.tunnelPort(), guard));
        RawTunnelClient slow = fx.closeLater(RawTunnelClient.tls("127.0.0.1", proxy.tunnelPort(), guard));
        byte[] put = RawTunnelClient.putRequest(TunnelFixture.TOKEN);
        AtomicInteger sent = slow.trickle(put, Duration.ofMillis(50), trickler);

        Duration silentClosed = silent.awaitClosed();
        Duration slowClosed = slow.awaitClosed();

        System.out.printf("handshake limit %d ms: TLS done, then silent peer closed after %d ms, trickling"
                + " peer after %d ms (%d of %d PUT bytes sent)%n", handshake.toMillis(), silentClosed.toMillis(),
                slowClosed.toMillis(), sent.get(), put.length);
        assertThat(sent.get()).as("still trickling when closed").isPositive().isLessThan(put.length);
        assertThat(silentClosed).isLessThan(handshake.plus(SLACK));
        assertThat(slowClosed).isLessThan(handshake.plus(SLACK));
        assertThat(proxy.tunnels()).isEmpty();
    }
}
