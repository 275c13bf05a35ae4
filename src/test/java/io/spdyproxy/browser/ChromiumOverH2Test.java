package io.spdyproxy.browser;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.netty.channel.EventLoopGroup;
import io.spdyproxy.origin.OriginClient;
import io.spdyproxy.origin.OriginConfig;
import io.spdyproxy.origin.files.FileServerConfig;
import io.spdyproxy.origin.files.StaticFileHandler;
import io.spdyproxy.proxy.ProxyConfig;
import io.spdyproxy.proxy.ProxyIdentity;
import io.spdyproxy.proxy.ProxyServer;
import io.spdyproxy.testing.TestCerts;
import io.spdyproxy.tls.TlsContexts;
import io.spdyproxy.transport.Transport;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real browser through the whole path: headless Chromium loads a page with a script and an
 * image over HTTPS from the proxy, served by an origin's file server through the tunnel. The
 * page's script writes into the DOM what the browser negotiated ({@code nextHopProtocol} of the
 * navigation and of each resource) and every error it saw; {@code --dump-dom} hands that DOM back
 * once the page has loaded. Chromium's own console log (stderr) must hold no message either.
 * Skipped, with the reason, when chromium is not installed (.ci/run installs it).
 */
class ChromiumOverH2Test {
    private static final String TOKEN = "browser-token-0123456789abcdef";
    private static final Pattern RESULT = Pattern.compile("<pre id=\"result\">([^<]*)</pre>");

    private static final String PAGE = """
            <!doctype html>
            <html><head><meta charset="utf-8"><title>through the tunnel</title>
            <script>
              // Registered first and capturing, so it also hears resources that fail to load.
              window.__errors = [];
              window.addEventListener('error', e => window.__errors.push(
                  e.message || ('failed: ' + (e.target && (e.target.src || e.target.href)))), true);
              const consoleError = console.error;
              console.error = (...args) => { window.__errors.push(args.join(' ')); consoleError(...args); };
            </script>
            <script src="app.js"></script>
            </head><body>
            <img id="dot" src="dot.png" alt="dot">
            <pre id="result">pending</pre>
            </body></html>
            """;

    private static final String SCRIPT = """
            window.addEventListener('load', () => {
              const nav = performance.getEntriesByType('navigation')[0];
              const res = performance.getEntriesByType('resource')
                  .map(r => r.name.split('/').pop() + '=' + r.nextHopProtocol).sort().join(',');
              const img = document.getElementById('dot');
              const imageOk = img.complete && img.naturalWidth === 2;
              document.getElementById('result').textContent = 'nav=' + nav.nextHopProtocol
                  + ';resources=' + res + ';image=' + imageOk + ';errors=' + window.__errors.length
                  + (window.__errors.length ? ':' + window.__errors.join('|') : '');
            });
            """;

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS) // a guard: the page loads in a second or two
    void pageLoadsOverH2WithoutErrors(@TempDir Path dir) throws Exception {
        String chromium = chromium();
        assumeTrue(chromium != null, "chromium is not installed (.ci/run installs it)");
        Path site = Files.createDirectories(dir.resolve("site"));
        Files.writeString(site.resolve("index.html"), PAGE);
        Files.writeString(site.resolve("app.js"), SCRIPT);
        Files.write(site.resolve("dot.png"), png());

        ProxyConfig config = ProxyConfig.defaults(dir.resolve("proxy")).withBind("127.0.0.1").withPorts(0, 0, 0, -1)
                .withAuth(true, Map.of("default", ProxyConfig.hashToken(TOKEN)));
        EventLoopGroup loops = Transport.newGroup(1, "browser-origin");
        try (ProxyServer proxy = ProxyServer.start(config,
                        new ProxyIdentity(TestCerts.LOCALHOST, config.tokenHashes(), null));
                StaticFileHandler files = new StaticFileHandler(FileServerConfig.of(site));
                OriginClient origin = new OriginClient(OriginConfig.of("127.0.0.1", proxy.tunnelPort())
                        .withCredentials("default", TOKEN).withBackoff(Duration.ofMillis(50), Duration.ofSeconds(1)),
                        TlsContexts.clientPinned(proxy.identity().fingerprint()), files, loops).start()) {
            proxy.tunnelConnected("default").get(10, TimeUnit.SECONDS);
            Chromium run = Chromium.dumpDom(chromium, dir.resolve("profile"),
                    "https://localhost:" + proxy.httpsPort() + "/index.html");
            Matcher m = RESULT.matcher(run.stdout());
            assertThat(m.find()).as("the page's result in the dumped DOM:\n" + run.stdout()).isTrue();
            assertThat(m.group(1)).isEqualTo("nav=h2;resources=app.js=h2,dot.png=h2;image=true;errors=0");
            assertThat(run.consoleErrors()).as("chromium's console messages").isEmpty();
        } finally {
            loops.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    /** A 2x2 PNG. */
    private static byte[] png() throws Exception {
        BufferedImage img = new BufferedImage(2, 2, BufferedImage.TYPE_INT_RGB);
        img.setRGB(0, 0, 0xff8800);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ImageIO.write(img, "png", out);
        return out.toByteArray();
    }

    private static String chromium() {
        for (String name : new String[] {"chromium", "chromium-browser", "google-chrome"}) {
            for (String d : System.getenv().getOrDefault("PATH", "").split(":")) {
                if (!d.isEmpty() && Files.isExecutable(Path.of(d, name))) {
                    return Path.of(d, name).toString();
                }
            }
        }
        return null;
    }

    /** One headless Chromium run: the dumped DOM and the console messages it logged. */
    private record Chromium(String stdout, List<String> consoleErrors) {
        // Chromium logs every console message as INFO:CONSOLE, whatever its level; the page logs
        // nothing itself, so any message (a failed load, an uncaught error) is a failure.
        private static final Pattern CONSOLE = Pattern.compile(".*:CONSOLE[:(].*");

        static Chromium dumpDom(String binary, Path profile, String url) throws Exception {
            List<String> cmd = new ArrayList<>(List.of(binary, "--headless=new", "--disable-gpu",
                    // The test certificate is self-signed; the h2 negotiation is what is under test.
                    "--ignore-certificate-errors", "--user-data-dir=" + profile, "--no-first-run",
                    "--disable-extensions", "--disable-background-networking", "--disable-component-update",
                    "--enable-logging=stderr", "--v=0", "--dump-dom", url));
            if ("root".equals(System.getProperty("user.name"))) {
                cmd.add(1, "--no-sandbox"); // Chromium refuses to run sandboxed as root
            }
            Process p = new ProcessBuilder(cmd).start();
            CompletableFuture<String> out = CompletableFuture.supplyAsync(() -> read(p.getInputStream()));
            CompletableFuture<String> err = CompletableFuture.supplyAsync(() -> read(p.getErrorStream()));
            if (!p.waitFor(45, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new AssertionError("chromium did not finish; stderr:\n" + err.getNow(""));
            }
            List<String> errors = err.get(5, TimeUnit.SECONDS).lines()
                    .filter(l -> CONSOLE.matcher(l).matches()).toList();
            return new Chromium(out.get(5, TimeUnit.SECONDS), errors);
        }

        private static String read(java.io.InputStream in) {
            try {
                return new String(in.readAllBytes(), StandardCharsets.UTF_8);
            } catch (java.io.IOException e) {
                return "";
            }
        }
    }
}
