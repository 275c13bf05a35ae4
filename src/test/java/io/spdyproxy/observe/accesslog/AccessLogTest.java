package io.spdyproxy.observe.accesslog;

import static org.assertj.core.api.Assertions.assertThat;

import io.spdyproxy.observe.RequestRecord;
import io.spdyproxy.observe.RequestRecord.Outcome;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The access log's two formats, its escaping of what clients chose, stdout, reopening and drops. */
@Timeout(30)
class AccessLogTest {
    static final long T = 1_764_000_000_123L;

    @TempDir
    Path tmp;

    static RequestRecord record(String target, String ua) {
        return new RequestRecord(T, "203.0.113.7", "shop", "HTTP/1.1", "https", "GET", "shop.example.com", target,
                "https://ref.example/", ua, null, 200, 10, 1234, 2_500_000, 12_345_678, Outcome.COMPLETE);
    }

    private List<String> write(AccessLogFormat format, RequestRecord... records) throws Exception {
        Path file = tmp.resolve("access-" + format + ".log");
        AccessLog log = AccessLog.open(file.toString(), format);
        for (RequestRecord r : records) {
            log.requestEnded(r);
        }
        log.close(); // the writer drains its queue before the file closes
        return Files.readAllLines(file, StandardCharsets.UTF_8);
    }

    private static String clfTime() {
        return DateTimeFormatter.ofPattern("dd/MMM/yyyy:HH:mm:ss Z", Locale.ENGLISH)
                .withZone(ZoneId.systemDefault()).format(Instant.ofEpochMilli(T));
    }

    @Test
    void combinedIsApacheCombinedThenTheExtraFields() throws Exception {
        List<String> lines = write(AccessLogFormat.COMBINED, record("/index.html?q=1", "curl/8.5"));
        assertThat(lines).containsExactly("203.0.113.7 - - [" + clfTime() + "] \"GET /index.html?q=1 HTTP/1.1\" 200 1234"
                + " \"https://ref.example/\" \"curl/8.5\" \"shop\" \"shop.example.com\" 10 12.345 complete");
    }

    @Test
    void jsonLinesHaveStableFieldNames() throws Exception {
        List<String> lines = write(AccessLogFormat.JSON, record("/a", "curl/8.5"));
        String time = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSXXX").withZone(ZoneId.systemDefault())
                .format(Instant.ofEpochMilli(T));
        assertThat(lines).containsExactly("{\"time\":\"" + time + "\",\"client\":\"203.0.113.7\",\"user\":null,"
                + "\"tunnel\":\"shop\",\"method\":\"GET\",\"host\":\"shop.example.com\",\"path\":\"/a\","
                + "\"protocol\":\"HTTP/1.1\",\"scheme\":\"https\",\"status\":200,\"bytes_in\":10,\"bytes_out\":1234,"
                + "\"first_byte_ms\":2.500,\"duration_ms\":12.345,\"outcome\":\"complete\","
                + "\"referer\":\"https://ref.example/\",\"user_agent\":\"curl/8.5\"}");
    }

    @Test
    void hostileFieldsCannotForgeLines() throws Exception {
        // Header and request-line text reaches us one char per byte (ISO-8859-1), so \u00e9 is the
        // byte 0xE9; a char beyond a byte is written as its UTF-8 bytes.
        String path = "/x\" 200 0\n203.0.113.9 - - [01/Jan/2000:00:00:00 +0000] \"GET /forged\\\u0001\u00e9\u2028";
        String ua = "ua\r\n\"}{\"status\":999\u007f";
        List<String> combined = write(AccessLogFormat.COMBINED, record(path, ua));
        assertThat(combined).hasSize(1);
        assertThat(combined.get(0)).contains("\"GET /x\\x22 200 0\\x0A203.0.113.9 - - [01/Jan/2000:00:00:00 +0000]"
                + " \\x22GET /forged\\x5C\\x01\\xE9\\xE2\\x80\\xA8 HTTP/1.1\"")
                .contains("\"ua\\x0D\\x0A\\x22}{\\x22status\\x22:999\\x7F\"");
        List<String> json = write(AccessLogFormat.JSON, record(path, ua));
        assertThat(json).hasSize(1);
        assertThat(json.get(0)).contains("\"path\":\"/x\\\" 200 0\\n203.0.113.9 - - [01/Jan/2000:00:00:00 +0000]"
                + " \\\"GET /forged\\\\\\u0001\u00e9\\u2028\"")
                .contains("\"user_agent\":\"ua\\r\\n\\\"}{\\\"status\\\":999\\u007F\"}");
    }

    @Test
    void absentFieldsAndAbortedRequests() throws Exception {
        RequestRecord r = new RequestRecord(T, "::1", null, "HTTP/2.0", "http", "POST", null, "/up", null, null,
                "alice", 0, 5, 0, -1, 1_000, Outcome.CLIENT_ABORTED);
        assertThat(write(AccessLogFormat.COMBINED, r).get(0)).startsWith("::1 - alice [")
                .endsWith("] \"POST /up HTTP/2.0\" 000 - \"-\" \"-\" \"-\" \"-\" 5 0.001 client_aborted");
        assertThat(write(AccessLogFormat.JSON, r).get(0)).contains("\"tunnel\":null,", "\"host\":null,",
                "\"user\":\"alice\"", "\"status\":0,", "\"first_byte_ms\":null,", "\"outcome\":\"client_aborted\"");
    }

    @Test
    void dashIsStdout() {
        PrintStream saved = System.out;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
        try {
            AccessLog log = AccessLog.open("-", AccessLogFormat.COMBINED);
            log.requestEnded(record("/to-stdout", "ua"));
            log.close();
        } finally {
            System.setOut(saved);
        }
        assertThat(captured.toString(StandardCharsets.UTF_8)).contains("\"GET /to-stdout HTTP/1.1\" 200").endsWith("\n");
    }

    @Test
    void reopenAfterARenameWritesANewFile() throws Exception {
        Path file = tmp.resolve("access.log");
        Path rotated = tmp.resolve("access.log.1");
        AccessLog log = AccessLog.open(file.toString(), AccessLogFormat.COMBINED);
        log.requestEnded(record("/before", "ua"));
        Files.move(file, rotated); // what logrotate does; then it signals the process
        log.reopen();
        log.requestEnded(record("/after", "ua"));
        log.close();
        String now = Files.readString(file);
        String old = Files.readString(rotated);
        assertThat(now).contains("/after");
        assertThat(old).doesNotContain("/after");
        // The line before the rename is in exactly one of them, whenever the writer got to it.
        assertThat(count(now + old, "/before")).isEqualTo(1);
    }

    @Test
    void aFullQueueDropsAndCountsNeverBlocks() throws Exception {
        Path file = tmp.resolve("drops.log");
        AccessLog log = AccessLog.open(file.toString(), AccessLogFormat.JSON, 1);
        int n = 20_000;
        for (int i = 0; i < n; i++) {
            log.requestEnded(record("/" + i, "ua"));
        }
        log.close();
        long written = Files.readAllLines(file).size();
        // One producer: every line is either written or counted as dropped.
        assertThat(written + log.dropped()).isEqualTo(n);
        assertThat(log.dropped()).isPositive();
    }

    @Test
    void aFileThatCannotBeOpenedIsAnError() throws Exception {
        Path notADirectory = Files.writeString(tmp.resolve("plain-file"), "x");
        org.assertj.core.api.Assertions.assertThatThrownBy(
                () -> AccessLog.open(notADirectory.resolve("access.log").toString(), AccessLogFormat.JSON))
                .isInstanceOf(java.io.UncheckedIOException.class).hasMessageContaining("access.log");
    }

    private static int count(String s, String what) {
        int n = 0;
        for (int i = s.indexOf(what); i >= 0; i = s.indexOf(what, i + 1)) {
            n++;
        }
        return n;
    }
}
