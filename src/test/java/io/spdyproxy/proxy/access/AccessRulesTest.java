package io.spdyproxy.proxy.access;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import at.favre.lib.crypto.bcrypt.BCrypt;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpVersion;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The parts of access control without sockets: ranges, the file format, the bucket, the bcrypt pool. */
class AccessRulesTest {
    private static final Path FILE = Path.of("/etc/spdy-proxy/access.yaml");

    private static InetAddress ip(String s) throws Exception {
        return InetAddress.getByName(s); // literals only: no lookup
    }

    @Test
    void ipv4AndIpv6RangesMatchByPrefix() throws Exception {
        Cidr v4 = Cidr.parse("10.0.0.0/8");
        assertThat(v4.matches(ip("10.255.1.2"))).isTrue();
        assertThat(v4.matches(ip("11.0.0.1"))).isFalse();
        assertThat(v4.matches(ip("::ffff:10.1.2.3"))).as("IPv4-mapped IPv6 is the IPv4 address").isTrue();
        assertThat(v4.matches(ip("::a01:203"))).as("IPv4-compatible is not mapped").isFalse();

        Cidr v6 = Cidr.parse("2001:db8::/32");
        assertThat(v6.matches(ip("2001:db8:ffff::1"))).isTrue();
        assertThat(v6.matches(ip("2001:db9::1"))).isFalse();
        assertThat(v6.matches(ip("10.0.0.1"))).isFalse();

        Cidr odd = Cidr.parse("2001:db8:8000::/33");
        assertThat(odd.matches(ip("2001:db8:8000::1"))).isTrue();
        assertThat(odd.matches(ip("2001:db8:7fff::1"))).isFalse();

        assertThat(Cidr.parse("::ffff:192.168.0.0/112").matches(ip("192.168.3.4")))
                .as("a mapped range is an IPv4 range").isTrue();
        assertThat(Cidr.parse("192.168.1.7").matches(ip("192.168.1.7"))).isTrue();
        assertThat(Cidr.parse("192.168.1.7").matches(ip("192.168.1.8"))).isFalse();
        assertThat(Cidr.parse("::/0").matches(ip("2001:db8::1"))).isTrue();
        assertThat(Cidr.parse("0.0.0.0/0").matches(ip("2001:db8::1"))).isFalse();
        assertThat(Cidr.parse("fe80::1/128").matches(ip("fe80::1"))).isTrue();
    }

    @Test
    void rangesRefuseHostNamesAndBadPrefixes() {
        for (String bad : List.of("example.com", "10.0.0.0/33", "2001:db8::/129", "10.0.0.0/", "10.0.0/8",
                "10.0.0.0/-1", "")) {
            assertThatThrownBy(() -> Cidr.parse(bad)).as(bad).isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    void denyWinsOverAllowAndAnEmptyAllowListAllowsAll() throws Exception {
        TunnelPolicy p = policy(List.of("10.0.0.0/8", "2001:db8::/32"), List.of("10.1.0.0/16", "2001:db8:dead::/48"));
        assertThat(Gate.addressAllowed(p, ip("10.2.3.4"))).isTrue();
        assertThat(Gate.addressAllowed(p, ip("10.1.3.4"))).isFalse();
        assertThat(Gate.addressAllowed(p, ip("::ffff:10.1.3.4"))).isFalse();
        assertThat(Gate.addressAllowed(p, ip("2001:db8::1"))).isTrue();
        assertThat(Gate.addressAllowed(p, ip("2001:db8:dead::1"))).isFalse();
        assertThat(Gate.addressAllowed(p, ip("192.0.2.1"))).isFalse();
        assertThat(Gate.addressAllowed(p, null)).as("no IP address, and lists exist").isFalse();

        TunnelPolicy denyOnly = policy(List.of(), List.of("192.0.2.0/24"));
        assertThat(Gate.addressAllowed(denyOnly, ip("192.0.2.9"))).isFalse();
        assertThat(Gate.addressAllowed(denyOnly, ip("198.51.100.1"))).isTrue();
    }

    private static TunnelPolicy policy(List<String> allow, List<String> deny) {
        return new TunnelPolicy("t", Map.of(), List.of(), allow.stream().map(Cidr::parse).toList(),
                deny.stream().map(Cidr::parse).toList(), 0, 0, 0);
    }

    @Test
    void theVisitorIsThePeerOrTheLastTrustedForwardedForEntry() throws Exception {
        HttpRequest r = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/");
        r.headers().add("X-Forwarded-For", "203.0.113.9, 198.51.100.2");
        r.headers().add("X-Forwarded-For", "[2001:db8::5]");
        InetSocketAddress peer = new InetSocketAddress(ip("192.0.2.1"), 4000);
        assertThat(Gate.visitor(peer, r, false)).isEqualTo(ip("192.0.2.1"));
        assertThat(Gate.visitor(peer, r, true)).isEqualTo(ip("2001:db8::5"));
        r.headers().set("X-Forwarded-For", "not-an-address");
        assertThat(Gate.visitor(peer, r, true)).as("never a DNS lookup: the peer then").isEqualTo(ip("192.0.2.1"));
    }

    @Test
    void theFileFormat() {
        String hash = BCrypt.withDefaults().hashToString(4, "pw".toCharArray());
        Map<String, TunnelPolicy> rules = AccessFile.parse(FILE, """
                tunnels:
                  blog:
                    basicAuth: { users: { alice: "%s" } }
                    bearerTokens: [ "sha256:%s" ]
                    allow: [ "10.0.0.0/8", "2001:db8::/32" ]
                    deny: [ "10.1.2.3" ]
                    maxConcurrentRequests: 20
                    bandwidth: { bytesPerSecond: 1MiB/s, burst: 256KiB }
                  open:
                """.formatted(hash, "ab".repeat(32)));
        TunnelPolicy blog = rules.get("blog");
        assertThat(blog.basicUsers()).containsEntry("alice", hash);
        assertThat(blog.bearerHashes()).hasSize(1);
        assertThat(blog.allow()).hasSize(2);
        assertThat(blog.deny()).containsExactly(Cidr.parse("10.1.2.3/32"));
        assertThat(blog.maxConcurrentRequests()).isEqualTo(20);
        assertThat(blog.bytesPerSecond()).isEqualTo(1024 * 1024);
        assertThat(blog.burst()).isEqualTo(256 * 1024);
        assertThat(blog.authRequired()).isTrue();
        assertThat(rules.get("open").authRequired()).isFalse();
        assertThat(AccessFile.parse(FILE, "")).isEmpty();
    }

    @Test
    void mistakesNameTheFileTheTunnelAndTheKey() {
        Map<String, String> cases = Map.of(
                "tunnels:\n  blog: { maxConcurrentRequests: -1 }\n", "tunnel 'blog': maxConcurrentRequests",
                "tunnels:\n  blog: { allow: [ \"10.0.0.0/40\" ] }\n", "tunnel 'blog': allow",
                "tunnels:\n  blog: { bearerTokens: [ \"plain-token\" ] }\n", "tunnel 'blog': bearerTokens[0]",
                "tunnels:\n  blog: { basicAuth: { users: { bob: \"secret\" } } }\n", "tunnel 'blog': basicAuth.users.bob",
                "tunnels:\n  blog: { bandwidth: { burst: 10 } }\n", "tunnel 'blog': bandwidth.bytesPerSecond",
                "tunnels:\n  blog: { bandwidth: { bytesPerSecond: fast } }\n", "tunnel 'blog': bandwidth.bytesPerSecond",
                "tunnels:\n  blog: { maxConcurentRequests: 3 }\n", "tunnel 'blog': unknown key 'maxConcurentRequests'",
                "tunnel:\n  blog: {}\n", "unknown key 'tunnel'",
                "tunnels: [ blog ]\n", "tunnels",
                "tunnels:\n  blog: { allow: [ \n", "not valid YAML");
        cases.forEach((yaml, expected) -> assertThatThrownBy(() -> AccessFile.parse(FILE, yaml)).as(yaml)
                .isInstanceOf(AccessConfigException.class).hasMessageStartingWith(FILE.toString())
                .hasMessageContaining(expected));
        assertThatThrownBy(() -> AccessFile.parse(FILE, "tunnels:\n  blog: { bearerTokens: [ \"plain-token\" ] }\n"))
                .as("a token in clear is never echoed to a log").message().doesNotContain("plain-token");
    }

    @Test
    void theBucketLetsTheBurstThroughThenMakesSpendersWait() {
        Pace p = new Pace(1000, 500);
        assertThat(p.spend(400)).isZero();
        long wait = p.spend(400); // 300 short of what the bucket holds
        assertThat(wait).isBetween(1L, 300_000_000L);
        long next = p.spend(100); // waits behind the first debt: 400 bytes short now
        assertThat(next).isBetween(1L, 400_000_000L);
        assertThat(Pace.UNLIMITED.limited()).isFalse();
    }

    @Test
    void passwordChecksRunOffTheCallerAndAFloodIsAnsweredBusy() throws Exception {
        String hash = BCrypt.withDefaults().hashToString(10, "right".toCharArray());
        try (PasswordCheck check = new PasswordCheck(1)) {
            CountDownLatch answered = new CountDownLatch(1);
            List<PasswordCheck.Result> first = new ArrayList<>();
            Thread caller = Thread.currentThread();
            List<Thread> ranOn = new ArrayList<>();
            check.check("t", "alice", "right", hash, Runnable::run, r -> {
                first.add(r);
                ranOn.add(Thread.currentThread());
                answered.countDown();
            });
            assertThat(answered.await(10, TimeUnit.SECONDS)).isTrue();
            assertThat(first).containsExactly(PasswordCheck.Result.OK);
            assertThat(ranOn.get(0)).as("bcrypt never runs on the caller's thread").isNotSameAs(caller);

            List<PasswordCheck.Result> again = new ArrayList<>();
            check.check("t", "alice", "right", hash, Runnable::run, again::add);
            assertThat(again).as("a credential that passed is answered at once, from the cache")
                    .containsExactly(PasswordCheck.Result.OK);

            // Wrong passwords are never cached: a flood of them fills the pool's queue.
            ConcurrentLinkedQueue<PasswordCheck.Result> flood = new ConcurrentLinkedQueue<>();
            List<PasswordCheck.Result> busy = new ArrayList<>();
            for (int i = 0; i < 100; i++) {
                check.check("t", "alice", "wrong" + i, hash, Runnable::run, r -> {
                    if (r == PasswordCheck.Result.BUSY) {
                        busy.add(r);
                    } else {
                        flood.add(r);
                    }
                });
            }
            assertThat(busy).as("answered at once, without waiting for bcrypt").isNotEmpty();
        }
    }
}
