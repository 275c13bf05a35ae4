package io.spdyproxy.proxy.access;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import at.favre.lib.crypto.bcrypt.BCrypt;
import io.spdyproxy.proxy.ProxyConfig;
import io.spdyproxy.proxy.ProxyServer;
import io.spdyproxy.tunnel.TunnelExchange;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.HexFormat;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Visitor access control end to end: a proxy with an access-control file, origins over real TLS
 * tunnels, HTTP/1.1 clients on loopback sockets (and curl for HTTP/2). Each rule with its status
 * and headers, the Authorization header kept from the origin, reloads, and a bad file.
 */
@Timeout(60)
class AccessControlTest {
    /** Cost 4, the lowest bcrypt allows, so that the tests spend no time hashing. */
    private static final String ALICE_HASH = BCrypt.withDefaults().hashToString(4, "wonderland".toCharArray());
    private static final String TOKEN = "visitor-token-42";
    private static final String TOKEN_HASH = "sha256:" + HexFormat.of().formatHex(Gate.sha256(TOKEN));

    @TempDir
    Path tmp;
    private AccessBed bed;

    @AfterEach
    void tearDown() throws Exception {
        if (bed != null) {
            bed.close();
        }
    }

    private static String basic(String user, String password) {
        return "Authorization: Basic " + Base64.getEncoder().encodeToString((user + ":" + password)
                .getBytes(StandardCharsets.UTF_8));
    }

    private static String authRules() {
        return """
                tunnels:
                  alpha:
                    basicAuth:
                      users:
                        alice: "%s"
                    bearerTokens: [ "%s" ]
                """.formatted(ALICE_HASH, TOKEN_HASH);
    }

    @Test
    void basicAuthChallengesRefusesWrongPasswordsAndKeepsTheHeaderFromTheOrigin() throws Exception {
        bed = new AccessBed(tmp, authRules(), c -> c);
        bed.origin("alpha");
        try (RawHttp c = new RawHttp(bed.port())) {
            RawHttp.Response none = c.get("alpha.test", "/auth");
            assertThat(none.status()).isEqualTo(401);
            assertThat(none.all("WWW-Authenticate"))
                    .containsExactly("Basic realm=\"alpha\", charset=\"UTF-8\"", "Bearer realm=\"alpha\"");
            assertThat(c.get("alpha.test", "/auth", basic("alice", "looking-glass")).status()).isEqualTo(401);
            assertThat(c.get("alpha.test", "/auth", basic("bob", "wonderland")).status()).isEqualTo(401);
            assertThat(c.get("alpha.test", "/auth", "Authorization: Basic !!!").status()).isEqualTo(401);
            RawHttp.Response ok = c.get("alpha.test", "/auth", basic("alice", "wonderland"));
            assertThat(ok.status()).isEqualTo(200);
            assertThat(ok.text()).as("the visitor's credentials are the proxy's, not the origin's").isEqualTo("auth=none");
            // Again, on the same connection: now from the cache of checked credentials.
            assertThat(c.get("alpha.test", "/auth", basic("alice", "wonderland")).text()).isEqualTo("auth=none");
        }
    }

    @Test
    void bearerTokenIsComparedByItsHash() throws Exception {
        bed = new AccessBed(tmp, authRules(), c -> c);
        bed.origin("alpha");
        try (RawHttp c = new RawHttp(bed.port())) {
            RawHttp.Response ok = c.get("alpha.test", "/auth", "Authorization: Bearer " + TOKEN);
            assertThat(ok.status()).isEqualTo(200);
            assertThat(ok.text()).isEqualTo("auth=none");
            RawHttp.Response wrong = c.get("alpha.test", "/auth", "Authorization: Bearer " + TOKEN + "x");
            assertThat(wrong.status()).isEqualTo(401);
            assertThat(wrong.header("WWW-Authenticate")).startsWith("Basic realm=\"alpha\"");
        }
    }

    @Test
    void aTunnelWithoutRulesPassesAuthorizationUntouched() throws Exception {
        bed = new AccessBed(tmp, authRules(), c -> c);
        bed.origin("beta");
        try (RawHttp c = new RawHttp(bed.port())) {
            RawHttp.Response r = c.get("beta.test", "/auth", "Authorization: Bearer app-token");
            assertThat(r.status()).isEqualTo(200);
            assertThat(r.text()).isEqualTo("auth=Bearer app-token");
        }
    }

    @Test
    void denyWinsOverAllowForTheTcpPeer() throws Exception {
        bed = new AccessBed(tmp, """
                tunnels:
                  alpha:
                    allow: [ "127.0.0.0/8", "2001:db8::/32" ]
                    deny: [ "127.0.0.2" ]
                """, c -> c);
        bed.origin("alpha");
        try (RawHttp c = new RawHttp(bed.port())) {
            assertThat(c.get("alpha.test", "/x").status()).isEqualTo(200);
        }
        // Linux routes all of 127/8 to loopback: a client bound to 127.0.0.2 is another peer.
        RawHttp other;
        try {
            other = new RawHttp("127.0.0.1", bed.port(), "127.0.0.2");
        } catch (java.io.IOException e) {
            assumeTrue(false, "cannot bind 127.0.0.2 here: " + e);
            return;
        }
        try (other) {
            RawHttp.Response r = other.get("alpha.test", "/x");
            assertThat(r.status()).isEqualTo(403);
            assertThat(r.text()).contains("address");
        }
    }

    @Test
    void trustedForwardedForDecidesAndIpv6RulesMatch() throws Exception {
        bed = new AccessBed(tmp, """
                tunnels:
                  alpha:
                    allow: [ "2001:db8::/32", "10.0.0.0/8" ]
                    deny: [ "10.1.0.0/16" ]
                """, c -> c.withFrontend(c.idleTimeout(), c.requestHeadTimeout(), true));
        bed.origin("alpha");
        try (RawHttp c = new RawHttp(bed.port())) {
            assertThat(c.get("alpha.test", "/x", "X-Forwarded-For: 192.0.2.1, 2001:db8::7").status()).isEqualTo(200);
            assertThat(c.get("alpha.test", "/x", "X-Forwarded-For: 2001:db8::7, 10.1.2.3").status())
                    .as("the last entry, which the trusted balancer appended, is the visitor").isEqualTo(403);
            assertThat(c.get("alpha.test", "/x", "X-Forwarded-For: 10.2.0.1").status()).isEqualTo(200);
            assertThat(c.get("alpha.test", "/x").status()).as("127.0.0.1 itself is not allowed").isEqualTo(403);
        }
    }

    @Test
    void concurrencyCapAnswers429WhileAnotherTunnelServes() throws Exception {
        bed = new AccessBed(tmp, """
                tunnels:
                  alpha: { maxConcurrentRequests: 2 }
                  beta: { maxConcurrentRequests: 1 }
                """, c -> c);
        AccessBed.Origin alpha = bed.origin("alpha");
        bed.origin("beta");
        try (RawHttp c1 = new RawHttp(bed.port()); RawHttp c2 = new RawHttp(bed.port());
                RawHttp c3 = new RawHttp(bed.port()); RawHttp c4 = new RawHttp(bed.port())) {
            c1.send("GET", "alpha.test", "/hold");
            TunnelExchange first = alpha.held.poll(10, TimeUnit.SECONDS); // c1's: one at a time
            c2.send("GET", "alpha.test", "/hold");
            TunnelExchange second = alpha.held.poll(10, TimeUnit.SECONDS);
            assertThat(first).isNotNull();
            assertThat(second).isNotNull();
            assertThat(bed.proxy.accessControl().inFlight("alpha")).isEqualTo(2);

            RawHttp.Response refused = c3.get("alpha.test", "/x");
            assertThat(refused.status()).isEqualTo(429);
            assertThat(refused.header("Retry-After")).isEqualTo("1");
            if (has("curl")) { // the limit counts both front ends: an HTTP/2 request is refused too
                assertThat(run("curl", "-sS", "--http2-prior-knowledge", "-o", "/dev/null", "-w", "%{http_code}",
                        "-H", "Host: alpha.test", "http://127.0.0.1:" + bed.port() + "/x")).isEqualTo("429");
            }
            assertThat(c4.get("beta.test", "/x").status()).as("beta has its own limit").isEqualTo(200);
            assertThat(c4.get("beta.test", "/x").status()).isEqualTo(200);

            AccessBed.Origin.answer(first);
            assertThat(c1.read().text()).isEqualTo("released");
            // The same connection's next request starts only after the last one ended (its slot freed).
            assertThat(c1.get("alpha.test", "/x").status()).isEqualTo(200);
            AccessBed.Origin.answer(second);
            assertThat(c2.read().status()).isEqualTo(200);
        }
    }

    @Test
    void reloadOnFileChangeAndABadFileKeepsTheRules() throws Exception {
        bed = new AccessBed(tmp, "tunnels:\n  alpha: { deny: [ \"0.0.0.0/0\", \"::/0\" ] }\n", c -> c);
        bed.origin("alpha");
        AccessControl access = bed.proxy.accessControl();
        try (RawHttp c = new RawHttp(bed.port())) {
            assertThat(c.get("alpha.test", "/x").status()).isEqualTo(403);

            var reloaded = access.nextReload();
            bed.replaceRules("tunnels:\n  alpha: { allow: [ \"127.0.0.1\" ] }\n");
            assertThat(reloaded.get(10, TimeUnit.SECONDS)).isTrue();
            assertThat(c.get("alpha.test", "/x").status()).isEqualTo(200);

            var refused = access.nextReload();
            bed.replaceRules("tunnels:\n  alpha: { allow: [ \"127.0.0.300\" ] }\n");
            assertThat(refused.get(10, TimeUnit.SECONDS)).as("a bad file is refused").isFalse();
            assertThat(c.get("alpha.test", "/x").status()).as("the previous rules stay").isEqualTo(200);
            var sighup = access.nextReload();
            bed.proxy.reload(); // what SIGHUP runs: the same bad file, refused again
            assertThat(sighup.get(10, TimeUnit.SECONDS)).isFalse();
            assertThat(access.reload()).isFalse();

            var again = access.nextReload();
            bed.replaceRules("tunnels:\n  alpha: { deny: [ \"127.0.0.0/8\" ] }\n");
            assertThat(again.get(10, TimeUnit.SECONDS)).isTrue();
            assertThat(c.get("alpha.test", "/x").status()).isEqualTo(403);
        }
    }

    @Test
    void aBadFileAtStartIsAClearError() throws Exception {
        Path file = tmp.resolve("bad.yaml");
        Files.writeString(file, "tunnels:\n  alpha:\n    maxConcurrentRequests: -3\n");
        ProxyConfig config = ProxyConfig.defaults(tmp.resolve("data")).withBind("127.0.0.1").withPorts(0, 0, -1, -1)
                .withAccessControl(file);
        assertThatThrownBy(() -> ProxyServer.start(config).close()).isInstanceOf(AccessConfigException.class)
                .hasMessageContaining(file.toString()).hasMessageContaining("tunnel 'alpha'")
                .hasMessageContaining("maxConcurrentRequests");
        assertThatThrownBy(() -> ProxyServer.start(config.withAccessControl(tmp.resolve("missing.yaml"))).close())
                .isInstanceOf(AccessConfigException.class).hasMessageContaining("missing.yaml");
    }

    @Test
    void webSocketUpgradesPassTheGate() throws Exception {
        bed = new AccessBed(tmp, authRules(), c -> c);
        bed.origin("alpha");
        try (RawHttp c = new RawHttp(bed.port())) {
            String[] upgrade = {"Connection: Upgrade", "Upgrade: websocket", "Sec-WebSocket-Version: 13",
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="};
            RawHttp.Response r = c.get("alpha.test", "/ws", upgrade);
            assertThat(r.status()).isEqualTo(401);
            assertThat(r.header("WWW-Authenticate")).startsWith("Basic");
        }
    }

    @Test
    void http2ClientsMeetTheSameGate() throws Exception {
        need("curl");
        bed = new AccessBed(tmp, authRules(), c -> c);
        bed.origin("alpha");
        String url = "http://127.0.0.1:" + bed.port() + "/auth";
        String refused = run("curl", "-sS", "--http2-prior-knowledge", "-D", "-", "-o", "/dev/null", url);
        assertThat(refused).startsWith("HTTP/2 401").containsIgnoringCase("www-authenticate: Basic realm=\"alpha\"");
        String ok = run("curl", "-sS", "--http2-prior-knowledge", "-u", "alice:wonderland", "-w", " %{http_version}",
                url);
        assertThat(ok).isEqualTo("auth=none 2");
    }

    private static void need(String tool) {
        assumeTrue(has(tool), tool + " is not installed (Debian: curl)");
    }

    private static boolean has(String tool) {
        boolean found = false;
        for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            found |= Files.isExecutable(Path.of(dir, tool));
        }
        return found;
    }

    private String run(String... cmd) throws Exception {
        Path log = Files.createTempFile(tmp, "tool", ".log");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        return Files.readString(log, StandardCharsets.UTF_8);
    }
}
