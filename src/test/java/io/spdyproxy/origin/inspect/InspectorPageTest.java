package io.spdyproxy.origin.inspect;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.spdyproxy.testing.NodeScript;
import java.net.http.HttpRequest;
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
 * The inspector's page in a real headless Chromium driven by puppeteer-core
 * ({@code src/test/node/inspector-page.js}): two requests go through proxy → origin → app, the page
 * lists them newest first without a console message, the filter narrows the list, a click shows
 * the request's JSON body pretty-printed (and as hex on demand), and an edited replay reaches the
 * app and appears in the list marked as a replay. Skipped, with the reason, without chromium or
 * node.
 */
class InspectorPageTest {
    @TempDir
    Path dir;

    @Test
    @Timeout(value = 90, unit = TimeUnit.SECONDS) // a guard: the page run takes a few seconds
    @SuppressWarnings("unchecked")
    void thePageListsFiltersShowsAndReplays() throws Exception {
        String chromium = chromium();
        assumeTrue(chromium != null, "chromium is not installed (.ci/run installs it)");
        NodeScript.assumeInstalled("puppeteer-core");
        try (RecordingApp app = new RecordingApp(); InspectorBed bed = InspectorBed.upstream(dir, app.port())) {
            bed.send(HttpRequest.newBuilder(bed.proxied("/first")));
            bed.newestDone();
            bed.send(HttpRequest.newBuilder(bed.proxied("/echo?from=client")).header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString("{\"a\":1,\"list\":[1,2]}")));
            long posted = bed.newestDone().id;
            assertThat(app.next().uri()).isEqualTo("/first");
            assertThat(app.next().uri()).isEqualTo("/echo?from=client");

            Map<String, Object> report;
            try (NodeScript page = NodeScript.start("inspector-page.js", bed.inspector.url(), chromium)) {
                report = page.nextJson(Duration.ofSeconds(60));
                assertThat(report).as(page.diagnostics()).doesNotContainKey("error");
            }
            assertThat((List<String>) report.get("listed")).containsExactly("/echo?from=client", "/first");
            assertThat((List<String>) report.get("filtered")).containsExactly("/echo?from=client");
            assertThat(report.get("title")).isEqualTo("POST /echo?from=client");
            assertThat(report.get("requestJson")).isEqualTo("{\n  \"a\": 1,\n  \"list\": [\n    1,\n    2\n  ]\n}");
            assertThat(report.get("responseView")).isEqualTo("json");
            assertThat((String) report.get("requestHex")).startsWith("00000000  7b 22 61 22 3a 31");
            assertThat((String) report.get("replayResult")).startsWith("replayed as #").endsWith(": 200");
            assertThat((List<String>) report.get("afterReplay")).containsExactly("/echo?replayed=1",
                    "/echo?from=client", "/first");
            assertThat(report.get("firstRowBadge")).isEqualTo("replay of #" + posted);
            assertThat(report.get("replayBody")).isEqualTo("{\n  \"edited\": true\n}");
            assertThat((List<String>) report.get("messages")).as("console messages, errors, failed loads").isEmpty();

            RecordingApp.Seen replayed = app.next();
            assertThat(replayed.method()).isEqualTo("POST");
            assertThat(replayed.uri()).isEqualTo("/echo?replayed=1");
            assertThat(replayed.text()).isEqualTo("{\"edited\":true}");
            assertThat(replayed.headers().get("content-type")).isEqualTo("application/json");
        }
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
}
