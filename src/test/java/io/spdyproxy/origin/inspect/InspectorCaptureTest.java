package io.spdyproxy.origin.inspect;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Capture through the whole path (client → proxy → tunnel → origin with the inspector → app):
 * what is recorded, and that what flows is unchanged.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS) // guards: each test takes well under a second
class InspectorCaptureTest {
    private static final int KIB = 1024;
    @TempDir
    Path dir;
    private RecordingApp app;
    private InspectorBed bed;

    @BeforeEach
    void start() throws Exception {
        app = new RecordingApp();
        bed = InspectorBed.upstream(dir, app.port());
    }

    @AfterEach
    void stop() throws Exception {
        bed.close();
        app.close();
    }

    @Test
    void aRequestIsRecordedWithItsHeadsTimesAndBodies() throws Exception {
        HttpResponse<String> r = bed.send(HttpRequest.newBuilder(bed.proxied("/json?x=1&y=two")).header("X-Test", "yes"));
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.body()).isEqualTo(RecordingApp.JSON);

        Capture c = bed.newestDone();
        Capture.Snapshot s = c.snapshot();
        assertThat(c.method).isEqualTo("GET");
        assertThat(c.uri).isEqualTo("/json?x=1&y=two");
        assertThat(c.requestHeaders).contains(Map.entry("x-test", "yes"));
        assertThat(BodyView.header(c.requestHeaders, "host")).isEqualTo("127.0.0.1:" + bed.proxy.httpPort());
        assertThat(s.status()).isEqualTo(200);
        assertThat(BodyView.header(s.responseHeaders(), "content-type")).isEqualTo("application/json");
        assertThat(new String(s.responseBody(), StandardCharsets.UTF_8)).isEqualTo(RecordingApp.JSON);
        assertThat(s.requestBodyTotal()).isZero();
        assertThat(s.outcome()).isEqualTo(Outcome.COMPLETE);
        assertThat(s.firstByteMicros()).isPositive().isLessThanOrEqualTo(s.totalMicros());
        assertThat(c.replayOf).isZero();
    }

    @Test
    void bodiesAreKeptUpTo64KiBAndCountedBeyondWhileTheBytesPassUnchanged() throws Exception {
        byte[] body = new byte[300 * KIB];
        new SplittableRandom(7).nextBytes(body);
        HttpResponse<byte[]> r = bed.sendBytes(HttpRequest.newBuilder(bed.proxied("/echo"))
                .header("Content-Type", "application/octet-stream").POST(HttpRequest.BodyPublishers.ofByteArray(body)));
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.body()).as("the echo, byte for byte").isEqualTo(body);
        assertThat(app.next().body()).as("what the app got").isEqualTo(body);

        Capture.Snapshot s = bed.newestDone().snapshot();
        assertThat(s.requestBodyTotal()).isEqualTo(body.length);
        assertThat(s.requestBody()).isEqualTo(Arrays.copyOf(body, Inspector.BODY_LIMIT));
        assertThat(s.responseBodyTotal()).isEqualTo(body.length);
        assertThat(s.responseBody()).isEqualTo(Arrays.copyOf(body, Inspector.BODY_LIMIT));
        assertThat(s.outcome()).isEqualTo(Outcome.COMPLETE);
    }

    @Test
    void manyRequestsAreListedNewestFirst() throws Exception {
        for (int i = 0; i < 5; i++) {
            assertThat(bed.send(HttpRequest.newBuilder(bed.proxied("/n" + i))).statusCode()).isEqualTo(200);
            bed.newestDone();
        }
        assertThat(bed.inspector.store().newestFirst()).extracting(c -> c.uri)
                .containsExactly("/n4", "/n3", "/n2", "/n1", "/n0");
    }
}
