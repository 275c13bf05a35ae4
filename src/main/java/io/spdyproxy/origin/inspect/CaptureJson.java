package io.spdyproxy.origin.inspect;

import java.time.Instant;
import java.util.Base64;
import java.util.List;
import java.util.Map;

/**
 * The API's JSON for captures: a summary per list row, and the whole of one capture (heads,
 * bodies in base64 with the view the page starts with, whether it can be replayed as is).
 */
final class CaptureJson {
    private CaptureJson() {}

    static String list(List<Capture> newestFirst, long version, int kept, long bytes) {
        Json j = new Json().beginObject().field("version", version).field("kept", kept).field("bytes", bytes)
                .key("requests").beginArray();
        for (Capture c : newestFirst) {
            summary(j.beginObject(), c, c.snapshot(false)); // the rows need no body bytes
            j.endObject();
        }
        return j.endArray().endObject().toString();
    }

    static String detail(Capture c) {
        Capture.Snapshot s = c.snapshot();
        Json j = new Json().beginObject();
        summary(j, c, s);
        j.field("scheme", c.scheme).field("reason", s.reason()).field("error", s.error());
        headers(j.key("requestHeaders"), c.requestHeaders);
        headers(j.key("requestTrailers"), s.requestTrailers());
        headers(j.key("responseHeaders"), s.responseHeaders());
        headers(j.key("responseTrailers"), s.responseTrailers());
        body(j.key("requestBody"), c.requestHeaders, s.requestBody(), s.requestBodyTotal());
        body(j.key("responseBody"), s.responseHeaders(), s.responseBody(), s.responseBodyTotal());
        boolean whole = s.requestBodyTotal() <= s.requestBody().length;
        j.field("replayable", whole).field("replayNote", whole ? ""
                : "only the first " + s.requestBody().length + " of " + s.requestBodyTotal()
                        + " body bytes were captured: edit the body to replay");
        return j.endObject().toString();
    }

    private static void summary(Json j, Capture c, Capture.Snapshot s) {
        String host = BodyView.header(c.requestHeaders, "host");
        j.field("id", c.id).field("replayOf", c.replayOf).field("time", Instant.ofEpochMilli(c.startMillis).toString())
                .field("method", c.method).field("path", c.uri).field("host", host == null ? "" : host)
                .field("status", s.status()).field("firstByteMicros", s.firstByteMicros())
                .field("totalMicros", s.totalMicros()).field("outcome", s.outcome().name().toLowerCase(java.util.Locale.ROOT))
                .field("outcomeText", s.outcome().text + (s.error().isEmpty() ? "" : " (" + s.error() + ")"))
                .field("requestBytes", s.requestBodyTotal()).field("responseBytes", s.responseBodyTotal());
    }

    private static void headers(Json j, List<Map.Entry<String, String>> headers) {
        j.beginArray();
        for (Map.Entry<String, String> h : headers) {
            j.beginArray().value(h.getKey()).value(h.getValue()).endArray();
        }
        j.endArray();
    }

    private static void body(Json j, List<Map.Entry<String, String>> headers, byte[] captured, long total) {
        boolean truncated = total > captured.length;
        String type = BodyView.header(headers, "content-type");
        j.beginObject().field("contentType", type == null ? "" : type).field("total", total)
                .field("captured", captured.length).field("truncated", truncated)
                .field("view", BodyView.of(headers, captured, truncated).id())
                .field("base64", Base64.getEncoder().encodeToString(captured)).endObject();
    }
}
