package io.spdyproxy.origin.inspect;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpVersion;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The ring and the body copies: bounded by count and by bytes, copying without retaining. */
class CaptureStoreTest {
    private static final int KIB = 1024;

    private static HttpRequest get(String uri) {
        HttpRequest r = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, uri);
        r.headers().set("host", "app.test");
        return r;
    }

    @Test
    void theRingKeepsTheNewestRequestsOnly() {
        CaptureStore store = new CaptureStore(500, 32L * 1024 * KIB, 64 * KIB);
        for (int i = 1; i <= 600; i++) {
            store.begin(get("/" + i), "http", 0);
        }
        assertThat(store.size()).isEqualTo(500);
        List<Capture> kept = store.newestFirst();
        assertThat(kept.get(0).uri).isEqualTo("/600");
        assertThat(kept.get(499).uri).isEqualTo("/101");
        assertThat(store.get(100)).isNull();
        assertThat(store.get(101)).isNotNull();
    }

    @Test
    void capturedBytesStayBelowTheBudgetWhateverTheTrafficDoes() {
        long budget = 1024 * KIB;
        CaptureStore store = new CaptureStore(500, budget, 64 * KIB);
        ByteBuf chunk = Unpooled.wrappedBuffer(new byte[16 * KIB]);
        Capture first = null;
        for (int i = 0; i < 40; i++) {
            Capture c = store.begin(get("/big"), "http", 0);
            first = first == null ? c : first;
            for (int k = 0; k < 10; k++) { // 160 KiB each way: 64 KiB kept of each
                c.requestChunk(chunk);
                c.responseChunk(chunk);
            }
            assertThat(store.bytes()).isLessThanOrEqualTo(budget);
        }
        assertThat(store.size()).isBetween(7, 8); // 128 KiB and headers each
        // The evicted kept its counters and dropped its copies.
        Capture.Snapshot s = first.snapshot();
        assertThat(s.requestBodyTotal()).isEqualTo(160 * KIB);
        assertThat(s.requestBody()).isEmpty();
        chunk.release();
    }

    @Test
    void aBodyIsCutAtTheLimitAndCountedBeyondWithoutTouchingTheBuffer() {
        BodyCapture body = new BodyCapture(64 * KIB);
        byte[] data = new byte[100 * KIB];
        for (int i = 0; i < data.length; i++) {
            data[i] = (byte) (i * 31);
        }
        ByteBuf buf = PooledByteBufAllocator.DEFAULT.directBuffer(data.length).writeBytes(data);
        buf.readerIndex(10);
        assertThat(body.append(buf)).isEqualTo(64 * KIB);
        assertThat(buf.refCnt()).isEqualTo(1);
        assertThat(buf.readerIndex()).isEqualTo(10);
        assertThat(body.append(buf)).isZero();
        assertThat(body.total()).isEqualTo(2L * (100 * KIB - 10));
        assertThat(body.truncated()).isTrue();
        assertThat(body.captured()).isEqualTo(Arrays.copyOfRange(data, 10, 10 + 64 * KIB));
        buf.release();
    }

    @Test
    void theBodyViewFollowsTheContentTypeAndTheBytes() {
        byte[] json = "{\"a\":[1,2]}".getBytes(StandardCharsets.UTF_8);
        byte[] text = "héllo\r\n\tthere".getBytes(StandardCharsets.UTF_8);
        byte[] binary = {(byte) 0x89, 'P', 'N', 'G', 0, 1, 2};
        assertThat(view("application/json; charset=utf-8", json)).isEqualTo(BodyView.JSON);
        assertThat(view("application/problem+json", json)).isEqualTo(BodyView.JSON);
        assertThat(view("text/html", text)).isEqualTo(BodyView.TEXT);
        assertThat(view(null, text)).isEqualTo(BodyView.TEXT);
        assertThat(view("application/x-www-form-urlencoded", "a=1&b=2".getBytes(StandardCharsets.UTF_8)))
                .isEqualTo(BodyView.TEXT);
        assertThat(view("image/png", binary)).isEqualTo(BodyView.HEX);
        assertThat(view(null, binary)).isEqualTo(BodyView.HEX);
        assertThat(view("application/octet-stream", text)).isEqualTo(BodyView.HEX);
        assertThat(view("text/plain", binary)).as("a text type whose bytes are not text").isEqualTo(BodyView.HEX);
        assertThat(BodyView.of(List.of(Map.entry("Content-Type", "application/json"),
                Map.entry("Content-Encoding", "gzip")), json, false)).as("compressed").isEqualTo(BodyView.HEX);
        assertThat(view("text/plain", new byte[0])).isEqualTo(BodyView.EMPTY);
        // Cut inside a two-byte character at the capture limit: still text.
        byte[] cut = Arrays.copyOf(text, 2);
        assertThat(BodyView.of(List.of(Map.entry("content-type", "text/plain")), cut, true)).isEqualTo(BodyView.TEXT);
        assertThat(BodyView.of(List.of(Map.entry("content-type", "text/plain")), cut, false)).isEqualTo(BodyView.HEX);
    }

    private static BodyView view(String type, byte[] body) {
        return BodyView.of(type == null ? List.of() : List.of(Map.entry("content-type", type)), body, false);
    }

    @Test
    void jsonEscapesWhatAPeerSent() {
        String s = new Json().beginObject().field("path", "/a\"b\\c\n</script>\u0001").key("list").beginArray()
                .value(1).value("x").beginArray().endArray().endArray().field("ok", true).endObject().toString();
        assertThat(s).isEqualTo("{\"path\":\"/a\\\"b\\\\c\\n\\u003c/script\\u003e\\u0001\",\"list\":[1,\"x\",[]],"
                + "\"ok\":true}");
    }

    @Test
    void aStoreTooSmallForOneRequestIsRefused() {
        assertThatThrownBy(() -> new CaptureStore(10, 64 * KIB, 64 * KIB))
                .hasMessage("maxBytes: 65536 (expected: >= 131072)");
    }
}
