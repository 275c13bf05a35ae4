package io.spdyproxy.tunnel.handshake;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.AppenderBase;
import io.spdyproxy.origin.OriginClient;
import io.spdyproxy.proxy.ProxyConfig;
import io.spdyproxy.proxy.ProxyIdentity;
import io.spdyproxy.proxy.ProxyServer;
import io.spdyproxy.tunnel.handshake.RawTunnelClient.Answer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * Token guessing and handshake floods against the real tunnel listener over real TLS: P started
 * through {@link ProxyServer#start} on 127.0.0.1, the attacker connecting from 127.0.0.2 (loopback
 * too), the legitimate origin from 127.0.0.1. Bans run on a hand-driven clock, so nothing waits
 * out a minute.
 */
@Timeout(60)
class TunnelAuthThrottleTest {
    private static final String ATTACKER = "127.0.0.2";
    private static final Duration DELAY = Duration.ofMillis(200);

    @TempDir
    Path tmp;
    private TunnelFixture fx;
    private final AtomicLong clock = new AtomicLong(System.nanoTime());
    private final List<String> warnings = new CopyOnWriteArrayList<>();
    private final Logger acceptorLog = (Logger) LoggerFactory.getLogger(TunnelAcceptor.class);
    private final AppenderBase<ILoggingEvent> capture = new AppenderBase<>() {
        @Override
        protected void append(ILoggingEvent e) {
            if (e.getLevel().isGreaterOrEqual(Level.WARN)) {
                warnings.add(e.getFormattedMessage());
            }
        }
    };

    @BeforeEach
    void setUp() {
        fx = new TunnelFixture(tmp.resolve("proxy-data"));
        capture.start();
        acceptorLog.addAppender(capture);
    }

    @AfterEach
    void tearDown() {
        acceptorLog.detachAppender(capture);
        fx.close();
    }

    private ProxyServer start(TunnelAcceptor.Limits limits) throws Exception {
        ProxyConfig config = fx.proxyConfig();
        return fx.closeLater(ProxyServer.start(config, ProxyIdentity.load(config), limits));
    }

    private void advance(Duration d) {
        clock.addAndGet(d.toNanos());
    }

    @Test
    void aTokenGuesserIsSlowedThenBannedWhileAnOriginElsewhereConnects() throws Exception {
        ProxyServer proxy = start(TunnelAcceptor.Limits.defaults()
                .withFailures(5, Duration.ofMinutes(1), Duration.ofMinutes(1), Duration.ofHours(1), DELAY)
                .withClock(clock::get));
        int port = proxy.tunnelPort();

        for (int i = 1; i <= 5; i++) {
            Answer a = RawTunnelClient.attempt(ATTACKER, port, "guess-" + i);
            assertThat(a.status()).as("guess %d", i).isEqualTo(401);
            assertThat(a.took()).as("a failure is answered after the delay").isGreaterThanOrEqualTo(DELAY);
        }
        List<String> attacks = new ArrayList<>(warnings);
        assertThat(attacks).hasSize(5).allMatch(w -> w.contains("/127.0.0.2:"), "names the address");
        assertThat(attacks.get(0)).contains("wrong token", "failure 1 of 5");
        assertThat(attacks.get(4)).contains("failure 5 within 60 s: 127.0.0.2 banned for 60 s");

        Answer banned = RawTunnelClient.attempt(ATTACKER, port, "guess-6");
        assertThat(banned.status()).isEqualTo(429);
        assertThat(banned.header("Retry-After")).isEqualTo("60");
        assertThat(banned.body()).contains("too many failed attempts from 127.0.0.2");
        assertThat(banned.took()).as("refused at once").isLessThan(DELAY);
        assertThat(RawTunnelClient.attempt(ATTACKER, port, TunnelFixture.TOKEN).status())
                .as("while banned even the right token is refused, before any comparison").isEqualTo(429);

        // The legitimate origin on another address is unaffected, and its success unlocks nothing.
        OriginClient origin = fx.startOrigin(proxy, fx.originConfig(port), new TunnelFixture.SilentHandler());
        TunnelFixture.awaitTunnels(origin, proxy, 1);
        assertThat(origin.authFailure()).isNotDone();
        assertThat(RawTunnelClient.attempt(ATTACKER, port, "guess-7").status()).isEqualTo(429);

        // The ban ends; the next one, five failures later, lasts twice as long.
        advance(Duration.ofSeconds(60));
        for (int i = 8; i <= 12; i++) {
            assertThat(RawTunnelClient.attempt(ATTACKER, port, "guess-" + i).status()).isEqualTo(401);
        }
        Answer again = RawTunnelClient.attempt(ATTACKER, port, TunnelFixture.TOKEN);
        assertThat(again.status()).isEqualTo(429);
        assertThat(again.header("Retry-After")).isEqualTo("120");
        assertThat(warnings.get(warnings.size() - 1)).contains("127.0.0.2 banned for 120 s");

        advance(Duration.ofSeconds(120));
        try (RawTunnelClient c = RawTunnelClient.tls(ATTACKER, port, Duration.ofSeconds(10))) {
            assertThat(c.put(TunnelFixture.TOKEN).status()).as("the right token once the ban is over")
                    .isEqualTo(200);
        }
    }

    @Test
    void handshakesOpenAtOnceAreCappedPerAddressAtAccept() throws Exception {
        // Timeouts far away: only the cap can close the extra connection promptly.
        ProxyServer proxy = start(TunnelAcceptor.Limits.defaults()
                .withTimeouts(Duration.ofSeconds(20), Duration.ofSeconds(30)).withPending(4));
        int port = proxy.tunnelPort();
        List<RawTunnelClient> open = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            // TLS done, so P has surely counted them; then silent, never sending the PUT.
            open.add(fx.closeLater(RawTunnelClient.tls(ATTACKER, port, Duration.ofSeconds(10))));
        }

        RawTunnelClient fifth = fx.closeLater(RawTunnelClient.tcp(ATTACKER, port, Duration.ofSeconds(5)));
        Duration closed = fifth.awaitClosed();

        System.out.printf("fifth handshake from %s closed after %d ms%n", ATTACKER, closed.toMillis());
        assertThat(closed).isLessThan(Duration.ofSeconds(3));
        OriginClient origin = fx.startOrigin(proxy, fx.originConfig(port), new TunnelFixture.SilentHandler());
        TunnelFixture.awaitTunnels(origin, proxy, 1);
        assertThat(open.get(0).put(TunnelFixture.TOKEN).status())
                .as("the connections within the cap still finish their handshake").isEqualTo(200);
    }
}
