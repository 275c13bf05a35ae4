package io.spdyproxy.proxy.live;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.spdyproxy.origin.OriginClient;
import io.spdyproxy.proxy.ProxyConfig;
import io.spdyproxy.tunnel.Tunnel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.spdyproxy.tls.TlsContexts;
import io.spdyproxy.tunnel.TunnelExchange;
import io.spdyproxy.tunnel.handshake.TunnelProtocol;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Tokens change while the proxy runs: the tokens file edited (as the {@code token} command does,
 * or by hand with an editor's rename) is picked up by the watcher, SIGHUP's reload re-reads it, a
 * revoked name's sessions close and its redial is refused, other tunnels keep serving, and a bad
 * file changes nothing.
 */
@Timeout(60)
class TokenReloadTest {
    @TempDir
    Path dir;

    private TokensFile tokens() {
        return new TokensFile(dir.resolve("tokens"));
    }

    @Test
    void revokingANameClosesItsSessionsWithinASecondAndRefusesItsRedialWhileOthersServe() throws Exception {
        String alpha = tokens().add("alpha", false);
        String beta = tokens().add("beta", false);
        try (LiveBed bed = new LiveBed(dir, c -> c)) {
            OriginClient a = bed.connected("alpha", alpha);
            bed.connected("beta", beta);
            assertThat(bed.get("alpha")).isEqualTo("200 alpha");
            Tunnel alphaTunnel = bed.proxy.tunnelConnected("alpha").get();
            var changed = bed.proxy.tokens().nextChange();

            tokens().revoke("alpha"); // what `spdy-proxy token revoke alpha` does: an atomic replace

            changed.get(10, TimeUnit.SECONDS);
            long revokedAt = System.nanoTime();
            alphaTunnel.session().closeFuture().get(5, TimeUnit.SECONDS);
            long closeMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - revokedAt);
            assertThat(closeMillis).as("session closed after the revocation").isLessThan(1_500);
            assertThat(a.authFailure()).failsWithin(10, TimeUnit.SECONDS); // the redial got 401
            assertThat(bed.get("beta")).isEqualTo("200 beta");
            assertThat(bed.get("alpha")).startsWith("503");
        }
    }

    @Test
    void revokingAnHttp2TunnelClosesItToo() throws Exception {
        String alpha = tokens().add("alpha", false);
        try (LiveBed bed = new LiveBed(dir, c -> c)) {
            bed.protocol = TunnelProtocol.Kind.H2;
            bed.connected("alpha", alpha);
            Tunnel tunnel = bed.proxy.tunnelConnected("alpha").get();
            assertThat(tunnel.session().getClass().getSimpleName()).startsWith("H2");
            assertThat(bed.get("alpha")).isEqualTo("200 alpha");
            tokens().revoke("alpha");
            tunnel.session().closeFuture().get(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void aRequestInFlightWhenItsTunnelIsRevokedGetsTheGrace() throws Exception {
        String alpha = tokens().add("alpha", false);
        try (LiveBed bed = new LiveBed(dir, c -> c)) {
            CompletableFuture<TunnelExchange> held = new CompletableFuture<>();
            bed.origin("alpha", alpha, TlsContexts.clientPinned(bed.proxy.identity().fingerprint()), held::complete);
            Tunnel tunnel = bed.proxy.tunnelConnected("alpha").get(10, TimeUnit.SECONDS);
            CompletableFuture<String> reply = CompletableFuture.supplyAsync(() -> {
                try {
                    return bed.get("alpha");
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            TunnelExchange ex = held.get(10, TimeUnit.SECONDS); // the request reached the origin
            var changed = bed.proxy.tokens().nextChange();
            tokens().revoke("alpha");
            changed.get(10, TimeUnit.SECONDS);
            assertThat(tunnel.session().closeFuture()).as("the grace runs").isNotDone();
            ex.eventLoop().execute(() -> ex.respond(HttpResponseStatus.OK, "text/plain", "late but in time"));
            assertThat(reply.get(10, TimeUnit.SECONDS)).isEqualTo("200 late but in time");
            tunnel.session().closeFuture().get(5, TimeUnit.SECONDS);
        }
    }

    @Test
    void aNameAddedToTheFileByAnEditorsRenameCanConnectAndAChangedTokenEndsTheOldSession() throws Exception {
        String alpha = tokens().add("alpha", false);
        try (LiveBed bed = new LiveBed(dir, c -> c)) {
            bed.connected("alpha", alpha);
            Tunnel first = bed.proxy.tunnelConnected("alpha").get();
            var changed = bed.proxy.tokens().nextChange();
            // An editor writes a new file and renames it over the old one.
            String gamma = "gamma-token-0123456789";
            Path tmp = dir.resolve("tokens.swp");
            Files.writeString(tmp, Files.readString(dir.resolve("tokens")) + "gamma:" + TokensFile.hash(gamma) + "\n",
                    StandardCharsets.UTF_8);
            Files.move(tmp, dir.resolve("tokens"), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            assertThat(changed.get(10, TimeUnit.SECONDS)).containsKeys("alpha", "gamma");
            bed.connected("gamma", gamma);
            assertThat(bed.get("gamma")).isEqualTo("200 gamma");
            assertThat(first.session().closeFuture()).as("alpha's token did not change").isNotDone();

            var rotated = bed.proxy.tokens().nextChange();
            tokens().add("alpha", true); // rotate
            rotated.get(10, TimeUnit.SECONDS);
            first.session().closeFuture().get(5, TimeUnit.SECONDS);
        }
    }

    @Test
    void aBadFileKeepsThePreviousTokensAndConfiguredTokensStay() throws Exception {
        String alpha = tokens().add("alpha", false);
        String configured = "configured-token-0123456789";
        try (LiveBed bed = new LiveBed(dir, c -> c.withAuth(true, Map.of("beta", ProxyConfig.hashToken(configured))))) {
            Map<String, String> before = bed.proxy.tokens().hashes();
            assertThat(before).containsKeys("alpha", "beta");
            bed.connected("alpha", alpha);
            Tunnel tunnel = bed.proxy.tunnelConnected("alpha").get();
            // Written in place, not through the watcher's debounce: SIGHUP's reload reads it now.
            Files.writeString(dir.resolve("tokens"), "alpha:not-a-hash\n", StandardCharsets.UTF_8);
            bed.proxy.reload();
            assertThat(bed.proxy.tokens().hashes()).isEqualTo(before);
            assertThat(bed.get("alpha")).isEqualTo("200 alpha");

            // An empty file removes the file's names; the configured one stays.
            var changed = bed.proxy.tokens().nextChange();
            Files.writeString(dir.resolve("tokens"), "# none\n", StandardCharsets.UTF_8);
            bed.proxy.reload();
            assertThat(changed.get(10, TimeUnit.SECONDS)).containsOnlyKeys("beta");
            tunnel.session().closeFuture().get(5, TimeUnit.SECONDS);
            bed.connected("beta", configured);
            assertThat(bed.get("beta")).isEqualTo("200 beta");
        }
    }

    @Test
    void tokensFileRefusesBadNamesExistingNamesAndUnknownRevocationsAndNamesTheBadLine() throws Exception {
        TokensFile f = tokens();
        f.add("alpha", false);
        assertThatThrownBy(() -> f.add("alpha", false)).hasMessageContaining("already has a token")
                .hasMessageContaining("token rotate alpha");
        assertThatThrownBy(() -> f.add("Not_A_Label", false)).hasMessageContaining("is not a DNS label");
        assertThatThrownBy(() -> f.revoke("nobody")).hasMessageContaining("no token for tunnel 'nobody'");
        Files.writeString(f.path(), Files.readString(f.path()) + "beta:xyz\n", StandardCharsets.UTF_8);
        assertThatThrownBy(f::read).hasMessageContaining("line 3").hasMessageContaining("beta:xyz");
        assertThatThrownBy(() -> f.add("gamma", false)).hasMessageContaining("line 3"); // never edits a broken file
        assertThat(Files.readString(f.path())).doesNotContain("gamma");
    }

    @Test
    void sighupReloadsAndDoesNotStopTheProcess() throws Exception {
        CountDownLatch heard = new CountDownLatch(1);
        org.junit.jupiter.api.Assumptions.assumeTrue(Sighup.install(heard::countDown),
                "this JVM refuses a SIGHUP handler (-Xrs?); sending one would end it");
        Process kill = new ProcessBuilder("kill", "-HUP", Long.toString(ProcessHandle.current().pid())).start();
        assertThat(kill.waitFor()).isZero();
        assertThat(heard.await(10, TimeUnit.SECONDS)).isTrue(); // and we are still here to see it
    }
}
