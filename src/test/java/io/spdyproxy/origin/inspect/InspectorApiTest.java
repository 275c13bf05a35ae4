package io.spdyproxy.origin.inspect;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.yaml.snakeyaml.Yaml;

/**
 * The inspector's JSON API and its security rules, over real sockets: listing, one request,
 * replay (as captured, edited, refused), the Host check against DNS rebinding and the token and
 * Origin checks against cross-site requests.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS) // guards: each test takes about a second
@SuppressWarnings("unchecked") // the API's JSON read as maps and lists
class InspectorApiTest {
    private static final Pattern TOKEN = Pattern.compile("name=\"inspector-token\" content=\"([0-9a-f]+)\"");
    @TempDir
    Path dir;

    private static Map<String, Object> json(String s) {
        return (Map<String, Object>) new Yaml().load(s);
    }

    private static String token(InspectorBed bed) throws Exception {
        HttpResponse<String> page = bed.send(HttpRequest.newBuilder(bed.api("/")));
        assertThat(page.statusCode()).isEqualTo(200);
        assertThat(page.headers().firstValue("content-security-policy")).hasValueSatisfying(v ->
                assertThat(v).contains("default-src 'self'"));
        Matcher m = TOKEN.matcher(page.body());
        assertThat(m.find()).as("the token in the page").isTrue();
        return m.group(1);
    }

    private static HttpRequest.Builder replay(InspectorBed bed, long id, String token, String body) {
        HttpRequest.Builder b = HttpRequest.newBuilder(bed.api("/api/requests/" + id + "/replay"))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body));
        return token == null ? b : b.header("X-Inspector-Token", token);
    }

    @Test
    void theListIsNewestFirstAndOneRequestHasItsHeadersAndBodies() throws Exception {
        try (RecordingApp app = new RecordingApp(); InspectorBed bed = InspectorBed.upstream(dir, app.port())) {
            bed.send(HttpRequest.newBuilder(bed.proxied("/first")));
            long first = bed.newestDone().id;
            bed.send(HttpRequest.newBuilder(bed.proxied("/echo?q=1")).header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString("{\"a\":1}")));
            long second = bed.newestDone().id;

            HttpResponse<String> list = bed.send(HttpRequest.newBuilder(bed.api("/api/requests")));
            assertThat(list.statusCode()).isEqualTo(200);
            assertThat(list.headers().firstValue("content-type")).hasValue("application/json");
            Map<String, Object> l = json(list.body());
            List<Map<String, Object>> rows = (List<Map<String, Object>>) l.get("requests");
            assertThat(rows).extracting(r -> ((Number) r.get("id")).longValue()).containsExactly(second, first);
            assertThat(rows.get(0)).containsEntry("method", "POST").containsEntry("path", "/echo?q=1")
                    .containsEntry("status", 200).containsEntry("outcome", "complete");

            String version = String.valueOf(l.get("version"));
            assertThat(json(bed.send(HttpRequest.newBuilder(bed.api("/api/requests?since=" + version))).body()))
                    .as("nothing new since that version").containsEntry("unchanged", true)
                    .doesNotContainKey("requests");

            Map<String, Object> d = json(bed.send(HttpRequest.newBuilder(bed.api("/api/requests/" + second))).body());
            assertThat((List<List<String>>) d.get("requestHeaders")).contains(List.of("content-type", "application/json"));
            Map<String, Object> reqBody = (Map<String, Object>) d.get("requestBody");
            assertThat(reqBody).containsEntry("view", "json").containsEntry("total", 7).containsEntry("truncated", false)
                    .containsEntry("base64", "eyJhIjoxfQ==");
            assertThat((Map<String, Object>) d.get("responseBody")).containsEntry("view", "json");
            assertThat(d).containsEntry("replayable", true);

            assertThat(bed.send(HttpRequest.newBuilder(bed.api("/api/requests/999999"))).statusCode()).isEqualTo(404);
            assertThat(bed.send(HttpRequest.newBuilder(bed.api("/nope"))).statusCode()).isEqualTo(404);
        }
    }

    @Test
    void aReplayReachesTheAppAgainAsCapturedOrEditedAndIsListedAsAReplay() throws Exception {
        try (RecordingApp app = new RecordingApp(); InspectorBed bed = InspectorBed.upstream(dir, app.port())) {
            bed.send(HttpRequest.newBuilder(bed.proxied("/echo?x=1")).header("Content-Type", "text/plain")
                    .header("X-Kept", "k").POST(HttpRequest.BodyPublishers.ofString("original body")));
            RecordingApp.Seen seen = app.next();
            long id = bed.newestDone().id;
            String token = token(bed);

            HttpResponse<String> r = bed.send(replay(bed, id, token, ""));
            assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
            RecordingApp.Seen again = app.next();
            assertThat(again.method()).isEqualTo("POST");
            assertThat(again.uri()).isEqualTo("/echo?x=1");
            assertThat(again.text()).isEqualTo("original body");
            assertThat(again.headers().get("x-kept")).isEqualTo("k");
            assertThat(again.headers().get("host")).isEqualTo(seen.headers().get("host"));
            Map<String, Object> answer = json(r.body());
            assertThat(answer).containsEntry("replayOf", (int) id).containsEntry("status", 200)
                    .containsEntry("outcome", "complete");

            r = bed.send(replay(bed, id, token, "{\"method\":\"PUT\",\"path\":\"/echo?edited=yes\","
                    + "\"headers\":[[\"Content-Type\",\"text/plain\"],[\"X-Edited\",\"1\"]],\"body\":\"changed ✓\"}"));
            assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
            RecordingApp.Seen edited = app.next();
            assertThat(edited.method()).isEqualTo("PUT");
            assertThat(edited.uri()).isEqualTo("/echo?edited=yes");
            assertThat(edited.headers().get("x-edited")).isEqualTo("1");
            assertThat(edited.headers().contains("x-kept")).as("the edited headers replace all").isFalse();
            assertThat(edited.text()).isEqualTo("changed ✓");
            Capture replay = bed.inspector.store().get(((Number) json(r.body()).get("id")).longValue());
            assertThat(replay.replayOf).isEqualTo(id);
            assertThat(new String(replay.snapshot().responseBody(), StandardCharsets.UTF_8)).isEqualTo("changed ✓");
            assertThat(bed.inspector.store().newestFirst().get(0)).isSameAs(replay);
        }
    }

    @Test
    void aBodyCapturedInPartIsReplayedOnlyOnceEdited() throws Exception {
        try (RecordingApp app = new RecordingApp(); InspectorBed bed = InspectorBed.upstream(dir, app.port())) {
            byte[] big = new byte[100 * 1024];
            Arrays.fill(big, (byte) 'x');
            bed.send(HttpRequest.newBuilder(bed.proxied("/echo")).POST(HttpRequest.BodyPublishers.ofByteArray(big)));
            app.next();
            long id = bed.newestDone().id;
            String token = token(bed);
            Map<String, Object> d = json(bed.send(HttpRequest.newBuilder(bed.api("/api/requests/" + id))).body());
            assertThat(d).containsEntry("replayable", false);

            HttpResponse<String> r = bed.send(replay(bed, id, token, "{}"));
            assertThat(r.statusCode()).isEqualTo(409);
            assertThat(json(r.body()).get("error").toString()).isEqualTo("request " + id + " had a body of 102400"
                    + " bytes and only the first 65536 were captured, so it cannot be replayed as it was: edit the"
                    + " body to replay it");
            assertThat(app.requests).as("nothing was sent").isEmpty();

            r = bed.send(replay(bed, id, token, "{\"body\":\"short now\"}"));
            assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
            RecordingApp.Seen seen = app.next();
            assertThat(seen.text()).isEqualTo("short now");
            assertThat(seen.headers().get("content-length")).isEqualTo("9");
        }
    }

    @Test
    void badReplaysAreRefusedWithTheReason() throws Exception {
        try (RecordingApp app = new RecordingApp(); InspectorBed bed = InspectorBed.upstream(dir, app.port())) {
            bed.send(HttpRequest.newBuilder(bed.proxied("/a")));
            app.next();
            long id = bed.newestDone().id;
            String token = token(bed);
            assertThat(bed.send(replay(bed, id, token, "not json {")).statusCode()).isEqualTo(400);
            assertThat(bed.send(replay(bed, id, token, "{\"verb\":\"GET\"}")).body()).contains("unknown field verb");
            assertThat(bed.send(replay(bed, id, token, "{\"method\":\"G ET\"}")).body()).contains("not an HTTP method");
            assertThat(bed.send(replay(bed, id, token, "{\"path\":\"no-slash\"}")).body())
                    .contains("not an origin-form request target");
            assertThat(bed.send(replay(bed, id, token, "{\"headers\":[[\"X-Bad\",\"a\\r\\nInjected: 1\"]]}"))
                    .statusCode()).isEqualTo(409);
            assertThat(bed.send(replay(bed, id, token, "{\"headers\":[[\"Connection\",\"upgrade\"],"
                    + "[\"Upgrade\",\"websocket\"]]}")).body()).contains("protocol upgrade");
            assertThat(bed.send(replay(bed, 424242, token, "")).statusCode()).isEqualTo(409);
            assertThat(app.requests).as("nothing was sent").isEmpty();
        }
    }

    @Test
    void onlyTheInspectorsOwnPageMayReplayAndOnlyItsOwnHostNameIsServed() throws Exception {
        try (RecordingApp app = new RecordingApp(); InspectorBed bed = InspectorBed.upstream(dir, app.port())) {
            bed.send(HttpRequest.newBuilder(bed.proxied("/secret")).header("Cookie", "session=s3cret"));
            app.next();
            long id = bed.newestDone().id;
            String token = token(bed);
            int port = bed.inspector.port();

            assertThat(bed.send(replay(bed, id, null, "")).statusCode()).as("no token").isEqualTo(403);
            assertThat(bed.send(replay(bed, id, "0".repeat(48), "")).statusCode()).as("wrong token").isEqualTo(403);
            assertThat(bed.send(replay(bed, id, token, "").header("Origin", "https://evil.example")).statusCode())
                    .as("a foreign page").isEqualTo(403);
            assertThat(bed.send(replay(bed, id, token, "").header("Origin", "http://localhost:" + port)).statusCode())
                    .as("the inspector's own page").isEqualTo(200);
            app.next();
            HttpResponse<String> cleared = bed.send(HttpRequest.newBuilder(bed.api("/api/requests")).DELETE());
            assertThat(cleared.statusCode()).as("clearing needs the token too").isEqualTo(403);

            // DNS rebinding: evil.example resolves to 127.0.0.1, so the browser sends its own name.
            for (String path : List.of("/", "/api/requests", "/api/requests/" + id)) {
                String raw = rawGet(port, path, "evil.example:" + port);
                assertThat(raw).startsWith("HTTP/1.1 421").doesNotContain("s3cret").doesNotContain(token);
            }
            assertThat(rawGet(port, "/api/requests/" + id, "localhost:" + port)).startsWith("HTTP/1.1 200")
                    .contains("s3cret");
            assertThat(rawGet(port, "/api/requests", null)).startsWith("HTTP/1.1 421");
            assertThat(bed.inspector.url()).isEqualTo("http://127.0.0.1:" + port + "/");
        }
    }

    @Test
    void aReplayOfARootRequestGoesThroughTheFileServer() throws Exception {
        Path root = Files.createDirectories(dir.resolve("site"));
        Files.writeString(root.resolve("hello.txt"), "hello from disk\n");
        try (InspectorBed bed = InspectorBed.files(dir, root)) {
            assertThat(bed.send(HttpRequest.newBuilder(bed.proxied("/hello.txt"))).body()).isEqualTo("hello from disk\n");
            long id = bed.newestDone().id;
            HttpResponse<String> r = bed.send(replay(bed, id, token(bed), ""));
            assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
            Capture replay = bed.inspector.store().newestFirst().get(0);
            assertThat(replay.replayOf).isEqualTo(id);
            Capture.Snapshot s = replay.snapshot();
            assertThat(s.status()).isEqualTo(200);
            assertThat(new String(s.responseBody(), StandardCharsets.UTF_8)).isEqualTo("hello from disk\n");
            assertThat(s.outcome()).isEqualTo(Outcome.COMPLETE);
        }
    }

    /** A GET with exactly the Host given (none when null), answered on a fresh connection. */
    private static String rawGet(int port, String path, String host) throws Exception {
        try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
            s.setSoTimeout(10_000);
            OutputStream out = s.getOutputStream();
            String head = "GET " + path + " HTTP/1.1\r\n" + (host == null ? "" : "Host: " + host + "\r\n")
                    + "Connection: close\r\n\r\n";
            out.write(head.getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = s.getInputStream();
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }
}
