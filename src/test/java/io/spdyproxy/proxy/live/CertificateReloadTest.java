package io.spdyproxy.proxy.live;

import static org.assertj.core.api.Assertions.assertThat;

import io.spdyproxy.proxy.ProxyConfig;
import io.spdyproxy.tls.PemFiles;
import io.spdyproxy.tls.SelfSignedCertificate;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --cert}/{@code --key} replaced while the proxy runs: new TLS connections on the tunnel
 * and HTTPS ports get the new certificate, a tunnel opened before keeps serving, a mismatched
 * pair changes nothing, and certbot's layout (symbolic links under {@code live/} re-pointed into
 * {@code archive/}) is followed.
 */
@Timeout(60)
class CertificateReloadTest {
    private static final String TOKEN = "cert-reload-token-0123456789";
    private static final SelfSignedCertificate A = SelfSignedCertificate.generate("localhost", "127.0.0.1");
    private static final SelfSignedCertificate B = SelfSignedCertificate.generate("localhost", "127.0.0.1");

    @TempDir
    Path dir;

    @Test
    void replacedFilesServeNewConnectionsWhileTheTunnelStaysUpAndABadPairIsRefused() throws Exception {
        Path cert = dir.resolve("cert.pem");
        Path key = dir.resolve("key.pem");
        PemFiles.write(A, cert, key);
        try (LiveBed bed = new LiveBed(dir.resolve("data"), c -> c.withPorts(0, 0, 0, -1).withCertificate(cert, key)
                .withAuth(true, Map.of("default", ProxyConfig.hashToken(TOKEN))))) {
            bed.connected("default", TOKEN); // pinned to A
            assertThat(peer(bed.proxy.httpsPort())).isEqualTo(A.certificate());
            var changed = bed.proxy.certificate().nextChange();

            // As a deploy script does: new files written aside, then renamed over the old ones.
            PemFiles.write(B, dir.resolve("cert.new"), dir.resolve("key.new"));
            Files.move(dir.resolve("key.new"), key, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            Files.move(dir.resolve("cert.new"), cert, StandardCopyOption.ATOMIC_MOVE,
                    StandardCopyOption.REPLACE_EXISTING);

            assertThat(changed.get(10, TimeUnit.SECONDS)).isEqualTo(B.certificate());
            assertThat(peer(bed.proxy.httpsPort())).isEqualTo(B.certificate());
            assertThat(peer(bed.proxy.tunnelPort())).isEqualTo(B.certificate());
            assertThat(bed.get("default")).isEqualTo("200 default"); // the tunnel made with A serves on

            // A's certificate with B's key: refused, B stays.
            PemFiles.write(A, cert, dir.resolve("unused-key.pem"));
            bed.proxy.reload();
            assertThat(bed.proxy.certificate().certificate()).isEqualTo(B.certificate());
            assertThat(peer(bed.proxy.httpsPort())).isEqualTo(B.certificate());
        }
    }

    @Test
    void certbotsRepointedSymlinksAreFollowed() throws Exception {
        Path archive = Files.createDirectories(dir.resolve("archive/example"));
        Path live = Files.createDirectories(dir.resolve("live/example"));
        PemFiles.write(A, archive.resolve("fullchain1.pem"), archive.resolve("privkey1.pem"));
        Path cert = Files.createSymbolicLink(live.resolve("fullchain.pem"), Path.of("../../archive/example/fullchain1.pem"));
        Path key = Files.createSymbolicLink(live.resolve("privkey.pem"), Path.of("../../archive/example/privkey1.pem"));
        try (LiveBed bed = new LiveBed(dir.resolve("data"), c -> c.withPorts(0, 0, 0, -1).withCertificate(cert, key)
                .withAuth(true, Map.of("default", ProxyConfig.hashToken(TOKEN))))) {
            assertThat(peer(bed.proxy.httpsPort())).isEqualTo(A.certificate());
            var changed = bed.proxy.certificate().nextChange();

            // certbot renew: new files in archive/, then each link replaced by a rename.
            PemFiles.write(B, archive.resolve("fullchain2.pem"), archive.resolve("privkey2.pem"));
            relink(key, "../../archive/example/privkey2.pem");
            relink(cert, "../../archive/example/fullchain2.pem");

            assertThat(changed.get(10, TimeUnit.SECONDS)).isEqualTo(B.certificate());
            assertThat(peer(bed.proxy.httpsPort())).isEqualTo(B.certificate());
        }
    }

    private static void relink(Path link, String target) throws Exception {
        Path tmp = link.resolveSibling(link.getFileName() + ".tmp");
        Files.createSymbolicLink(tmp, Path.of(target));
        Files.move(tmp, link, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    /** The certificate a new TLS connection to {@code port} is shown. */
    private static X509Certificate peer(int port) throws Exception {
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, new TrustManager[] {new X509TrustManager() {
            @Override
            public void checkClientTrusted(X509Certificate[] chain, String authType) {}

            @Override
            public void checkServerTrusted(X509Certificate[] chain, String authType) {}

            @Override
            public X509Certificate[] getAcceptedIssuers() {
                return new X509Certificate[0];
            }
        }}, new SecureRandom());
        try (SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket("127.0.0.1", port)) {
            s.setSoTimeout(10_000);
            s.startHandshake();
            return (X509Certificate) s.getSession().getPeerCertificates()[0];
        }
    }
}
