package io.spdyproxy.observe.dashboard;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.spdyproxy.testing.NodeScript;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The dashboard in a real browser: headless Chromium (driven by puppeteer-core from
 * {@code src/test/node/dashboard-page.js}) loads the page from the admin listener with no console
 * message, no failed request and no error answer; then an origin connects and the page shows its
 * tunnel; then requests go through it, one with a path that is an HTML injection, and the page
 * lists that path as text (no element made of it, no dialog) and shows the tunnel's traffic.
 * Every wait is the page's own DOM changing (puppeteer's waitForFunction on mutations). Skipped,
 * with the reason, when chromium or the npm packages are missing.
 */
class DashboardPageTest {
    /** {@code /} then an {@code img} whose onerror calls alert: markup, were it ever parsed as HTML. */
    static final String HOSTILE = "/<img/src=x/onerror=alert(document.domain)>";
    private static final Duration GUARD = Duration.ofSeconds(30);

    @Test
    @Timeout(value = 90, unit = TimeUnit.SECONDS) // a guard: the whole test takes a few seconds
    void pageShowsTunnelAndRequestsLiveAndHostilePathsAsText(@TempDir Path dir) throws Exception {
        String chromium = chromium();
        assumeTrue(chromium != null, "chromium is not installed (.ci/run installs it)");
        NodeScript.assumeInstalled("puppeteer-core");
        try (DashboardBed bed = new DashboardBed(dir);
                NodeScript page = NodeScript.start("dashboard-page.js",
                        "http://127.0.0.1:" + bed.adminPort() + "/", chromium)) {
            Map<String, Object> loaded = next(page, "loaded");
            assertThat(loaded.get("problems")).as("console, failures, dialogs at load").isEqualTo(List.of());
            assertThat(loaded.get("title")).isEqualTo("spdy-proxy dashboard");
            assertThat(loaded.get("csp")).asString().startsWith("default-src 'self'");
            assertThat(loaded.get("noTunnelsShown")).isEqualTo(true);
            assertThat(loaded.get("version")).asString().startsWith("spdy-proxy");

            bed.connectOrigin();
            page.sendLine("tunnel default");
            Map<String, Object> tunnel = next(page, "tunnel");
            assertThat((List<?>) tunnel.get("row")).first().isEqualTo("default");

            String big = DashboardBed.exchange(bed.httpPort(), "GET", "/bytes?n=2000000", "app.test");
            assertThat(big).startsWith("HTTP/1.1 200");
            String hostile = DashboardBed.exchange(bed.httpPort(), "GET", HOSTILE, "app.test");
            assertThat(hostile).startsWith("HTTP/1.1 404"); // the example app knows no such path
            page.sendLine("requests \"" + HOSTILE + "\"");
            Map<String, Object> shown = next(page, "requests");
            assertThat(shown.get("problems")).as("console, failures, dialogs").isEqualTo(List.of());
            assertThat(shown.get("dialogs")).isEqualTo(0);
            assertThat(shown.get("images")).as("img elements on the page").isEqualTo(0);
            assertThat(shown.get("pathHtml")).isEqualTo("/&lt;img/src=x/onerror=alert(document.domain)&gt;");
            assertThat(((List<?>) shown.get("pathRow")).stream().map(String::valueOf).toList())
                    .contains("default", "GET", "app.test", "404", "complete");
            assertThat(((Number) shown.get("fromOriginBytes")).longValue()).isGreaterThanOrEqualTo(2_000_000);
            assertThat(((Number) shown.get("maxFromOriginRate")).doubleValue()).isPositive();
            assertThat(((Number) shown.get("rows")).intValue()).isEqualTo(2);

            page.closeStdin();
            assertThat(page.waitForExit(GUARD)).as("exit code" + page.diagnostics()).isZero();
        }
    }

    private static Map<String, Object> next(NodeScript page, String event) throws InterruptedException {
        Map<String, Object> m = page.nextJson(GUARD);
        assertThat(m.get("event")).as(m + page.diagnostics()).isEqualTo(event);
        return m;
    }

    static String chromium() {
        for (String name : new String[] {"chromium", "chromium-browser", "google-chrome"}) {
            for (String d : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
                Path p = Path.of(d, name);
                if (Files.isExecutable(p)) {
                    return p.toString();
                }
            }
        }
        return null;
    }
}
