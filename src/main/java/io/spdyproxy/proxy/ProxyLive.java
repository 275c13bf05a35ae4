package io.spdyproxy.proxy;

import io.spdyproxy.proxy.live.AdminToken;
import io.spdyproxy.proxy.live.FileWatcher;
import io.spdyproxy.proxy.live.LiveCertificate;
import io.spdyproxy.proxy.live.LiveTokens;
import io.spdyproxy.proxy.live.Reloads;
import io.spdyproxy.proxy.live.TokenApi;
import io.spdyproxy.proxy.live.TokensFile;
import io.spdyproxy.tunnel.Tunnel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a running proxy can change without a restart, wired together: the tokens (file watched,
 * revocation closing the name's sessions), the certificate (files watched), the admin token and
 * token API, and the {@link Reloads} that SIGHUP triggers.
 *
 * <p>Threading: built once in {@code ProxyServer}'s start; its parts are thread-safe.
 */
final class ProxyLive implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ProxyLive.class);
    /** A revoked tunnel's in-flight requests get this long after its GOAWAY (issue 12: "within a second"). */
    static final Duration REVOKE_GRACE = Duration.ofSeconds(1);

    final Reloads reloads = new Reloads();
    final LiveTokens tokens;
    final LiveCertificate certificate;
    /** Null when there is no admin listener. */
    final AdminToken adminToken;
    final TokenApi api;
    private final List<AutoCloseable> closeables = new ArrayList<>();

    ProxyLive(ProxyConfig config, ProxyIdentity identity, TunnelRegistry registry) throws IOException {
        Path file = identity.tokensFile() != null ? identity.tokensFile()
                : config.dataDir().resolve(ProxyIdentity.TOKENS);
        // Tokens not from the file (configured, or given with the identity) no file change touches.
        Map<String, String> fixed = new HashMap<>(identity.tokenHashes());
        fixed.keySet().removeAll(identity.namesInFile());
        fixed.putAll(config.tokenHashes());
        tokens = new LiveTokens(new TokensFile(file), identity.tokenHashes(), fixed, names -> revoke(registry, names));
        certificate = new LiveCertificate(identity.certificate(), config.certFile(), config.keyFile(),
                config.httpsPort() >= 0 ? List.of("h2", "http/1.1") : List.of());
        if (config.authRequired()) {
            closeables.add(reloads.register("tokens", tokens));
            Files.createDirectories(file.toAbsolutePath().getParent());
            watch(file, tokens::reload);
        }
        closeables.add(reloads.register("certificate", certificate));
        for (Path p : certificate.files()) {
            watch(p, certificate::reload);
        }
        adminToken = config.adminPort() >= 0 ? AdminToken.load(config.adminTokenFile(), config.dataDir()) : null;
        api = adminToken != null ? new TokenApi(tokens, adminToken, config.authRequired()) : null;
    }

    private void watch(Path file, Runnable onChange) {
        try {
            closeables.add(FileWatcher.shared().watch(file, onChange));
        } catch (IOException | RuntimeException e) {
            log.warn("cannot watch {} for changes ({}); SIGHUP reloads it", file, e.toString());
        }
    }

    /** A tunnel whose token went away or changed: GOAWAY now, closed after the grace. */
    private static void revoke(TunnelRegistry registry, Set<String> names) {
        for (Tunnel t : registry.all()) {
            if (names.contains(t.name())) {
                log.info("token of tunnel '{}' revoked: closing its session from {} (grace {})", t.name(),
                        t.remote(), REVOKE_GRACE);
                t.session().shutdownGracefully(REVOKE_GRACE);
            }
        }
    }

    /** Whether a tunnel that just completed its handshake still has a token (a revocation may have raced it). */
    boolean stillAuthorized(ProxyConfig config, Tunnel t) {
        return !config.authRequired() || tokens.hashes().containsKey(t.name());
    }

    @Override
    public void close() {
        for (AutoCloseable c : closeables) {
            try {
                c.close();
            } catch (Exception e) {
                log.debug("closing {}", c, e);
            }
        }
    }
}
