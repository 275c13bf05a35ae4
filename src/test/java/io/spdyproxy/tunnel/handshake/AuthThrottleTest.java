package io.spdyproxy.tunnel.handshake;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * {@link AuthThrottle} on a hand-driven clock: the fail2ban rules (failures in a window, growing
 * bans, forgetting), per-address independence, IPv6 counted per /64, and bounded tables whatever
 * the number of addresses.
 */
class AuthThrottleTest {
    private static final long SECOND = 1_000_000_000L;
    private final AtomicLong now = new AtomicLong(123 * SECOND);
    private final TunnelAcceptor.Limits limits = TunnelAcceptor.Limits.defaults().withClock(now::get);

    private void advance(Duration d) {
        now.addAndGet(d.toNanos());
    }

    @Test
    void fiveFailuresWithinAMinuteBanTheAddressForAMinute() {
        AuthThrottle t = new AuthThrottle(limits);
        for (int i = 1; i <= 4; i++) {
            assertThat(t.failed("192.0.2.1")).isEqualTo(new AuthThrottle.Failure(i, 0));
            advance(Duration.ofSeconds(10));
        }
        assertThat(t.banRemainingNanos("192.0.2.1")).isZero();

        AuthThrottle.Failure fifth = t.failed("192.0.2.1");

        assertThat(fifth.recentFailures()).isEqualTo(5);
        assertThat(fifth.banNanos()).isEqualTo(60 * SECOND);
        assertThat(t.banRemainingNanos("192.0.2.1")).isEqualTo(60 * SECOND);
        assertThat(t.banRemainingNanos("192.0.2.2")).as("another address").isZero();
        advance(Duration.ofSeconds(59));
        assertThat(t.banRemainingNanos("192.0.2.1")).isEqualTo(SECOND);
        advance(Duration.ofSeconds(1));
        assertThat(t.banRemainingNanos("192.0.2.1")).isZero();
    }

    @Test
    void failuresSpreadBeyondTheWindowNeverBan() {
        AuthThrottle t = new AuthThrottle(limits);
        for (int i = 0; i < 50; i++) {
            AuthThrottle.Failure f = t.failed("192.0.2.1");
            assertThat(f.banNanos()).isZero();
            assertThat(f.recentFailures()).isLessThanOrEqualTo(4);
            advance(Duration.ofSeconds(15)); // four a minute: an origin retrying a wrong token slowly
        }
    }

    @Test
    void eachFurtherBanIsTwiceAsLongUpToTheCapThenAQuietAddressStartsOver() {
        AuthThrottle t = new AuthThrottle(limits);
        long[] bans = new long[9];
        for (int b = 0; b < bans.length; b++) {
            AuthThrottle.Failure f = null;
            for (int i = 0; i < 5; i++) {
                f = t.failed("192.0.2.1");
            }
            bans[b] = f.banNanos() / SECOND;
            advance(Duration.ofNanos(f.banNanos()));
        }
        assertThat(bans).containsExactly(60, 120, 240, 480, 960, 1920, 3600, 3600, 3600);

        advance(Duration.ofHours(1));
        for (int i = 0; i < 4; i++) {
            t.failed("192.0.2.1");
        }
        assertThat(t.failed("192.0.2.1").banNanos()).as("forgotten after an hour's quiet").isEqualTo(60 * SECOND);
    }

    @Test
    void failuresThatRacedTheBanDoNotStackBans() {
        AuthThrottle t = new AuthThrottle(limits);
        for (int i = 0; i < 5; i++) {
            t.failed("192.0.2.1");
        }
        for (int i = 0; i < 20; i++) { // parallel connections that passed the ban check just before
            assertThat(t.failed("192.0.2.1").banNanos()).isZero();
        }
        assertThat(t.banRemainingNanos("192.0.2.1")).isEqualTo(60 * SECOND);
    }

    @Test
    void ipv6CountsPerSlash64AndMappedIpv4AsIpv4() throws Exception {
        String a = AuthThrottle.key(new InetSocketAddress(InetAddress.getByName("2001:db8:1:2::1"), 1));
        String b = AuthThrottle.key(new InetSocketAddress(InetAddress.getByName("2001:db8:1:2:ffff:ffff:ffff:ffff"), 2));
        String c = AuthThrottle.key(new InetSocketAddress(InetAddress.getByName("2001:db8:1:3::1"), 1));
        String v4 = AuthThrottle.key(new InetSocketAddress(InetAddress.getByName("192.0.2.7"), 1));
        byte[] mapped = new byte[16];
        mapped[10] = (byte) 0xff;
        mapped[11] = (byte) 0xff;
        mapped[12] = (byte) 192;
        mapped[15] = 7;
        mapped[14] = 2;
        String m = AuthThrottle.key(new InetSocketAddress(java.net.Inet6Address.getByAddress(null, mapped, -1), 1));

        assertThat(a).isEqualTo(b).isEqualTo("2001:db8:1:2:0:0:0:0/64");
        assertThat(c).isNotEqualTo(a);
        assertThat(v4).isEqualTo("192.0.2.7");
        assertThat(m).isEqualTo("192.0.2.7");
    }

    @Test
    void theFailureTableStaysBoundedWhateverTheNumberOfAddresses() {
        AuthThrottle t = new AuthThrottle(limits.withTrackedAddresses(1000));
        for (int i = 0; i < 200_000; i++) {
            t.failed("10." + (i >> 16 & 0xff) + "." + (i >> 8 & 0xff) + "." + (i & 0xff));
        }
        assertThat(t.trackedAddresses()).isEqualTo(1000);

        advance(Duration.ofHours(2)); // the attack stopped: stale entries go as they are met
        for (int i = 0; i < 500; i++) {
            t.banRemainingNanos("192.0.2.1");
        }
        assertThat(t.trackedAddresses()).isZero();
    }

    @Test
    void handshakesInProgressAreCappedPerAddressAndForgottenWhenDone() {
        AuthThrottle t = new AuthThrottle(limits.withPending(3));
        assertThat(t.enter("192.0.2.1")).isTrue();
        assertThat(t.enter("192.0.2.1")).isTrue();
        assertThat(t.enter("192.0.2.1")).isTrue();
        assertThat(t.enter("192.0.2.1")).isFalse();
        assertThat(t.enter("192.0.2.2")).as("another address").isTrue();

        t.leave("192.0.2.1");
        assertThat(t.enter("192.0.2.1")).isTrue();
        for (int i = 0; i < 3; i++) {
            t.leave("192.0.2.1");
        }
        t.leave("192.0.2.2");
        assertThat(t.pendingAddresses()).isZero();
    }

    @Test
    void limitsAreValidated() {
        TunnelAcceptor.Limits d = TunnelAcceptor.Limits.defaults();
        assertThatThrownBy(() -> d.withTimeouts(Duration.ofSeconds(11), Duration.ofSeconds(10)))
                .hasMessage("tlsTimeout: PT11S (expected: <= handshakeTimeout PT10S)");
        assertThatThrownBy(() -> d.withPending(0)).hasMessage("maxPendingPerAddress: 0 (expected: > 0)");
        assertThatThrownBy(() -> d.withFailures(5, Duration.ofMinutes(1), Duration.ofHours(2), Duration.ofHours(1),
                Duration.ZERO)).hasMessageStartingWith("maxBanTime: PT1H (expected: banTime PT2H");
    }
}
