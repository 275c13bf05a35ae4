package io.spdyproxy.observe.dashboard;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import org.junit.jupiter.api.Test;

/** {@link Json}: strings come back exactly through a JSON parser, and the text is ASCII without markup. */
class JsonTest {

    @Test
    void escapesEverythingAParserOrAPageCouldMisread() {
        String hostile = "q\"b\\s/\u0000\u001f\n\r\t</script><!--&amp;'\u007f\u00e9\u2028\u2029\ud83d\ude00";
        String json = new Json(64).beginObject().field("s", hostile).field("n", 42).field("x", (String) null)
                .endObject().toString();
        assertThat(json).startsWith("{\"s\":\"q\\\"b\\\\s/\\u0000\\u001f\\u000a").endsWith(",\"n\":42,\"x\":null}");
        assertThat(json.chars().allMatch(c -> c >= 0x20 && c < 0x7f)).as("printable ASCII: " + json).isTrue();
        assertThat(json).doesNotContain("<", ">", "&", "'");
        Map<String, Object> back = EventStreamClient.parse(json);
        assertThat(back.get("s")).isEqualTo(hostile);
    }

    @Test
    void longStringsAreCutWithAnEllipsis() {
        String json = new Json(64).beginObject().field("s", "a".repeat(Json.MAX_STRING + 100)).endObject().toString();
        String s = (String) EventStreamClient.parse(json).get("s");
        assertThat(s).hasSize(Json.MAX_STRING + 1).endsWith("a\u2026");
    }

    @Test
    void nestsObjectsArraysAndRawValues() {
        String json = new Json(64).beginObject().field("rate", 1.26).beginArray("a").beginObject().field("k", 1)
                .endObject().beginObject().endObject().endArray().raw("r", "{\"z\":true}").endObject().toString();
        assertThat(json).isEqualTo("{\"rate\":1.3,\"a\":[{\"k\":1},{}],\"r\":{\"z\":true}}");
    }
}
