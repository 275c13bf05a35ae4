package io.spdyproxy.observe.dashboard;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.yaml.snakeyaml.Yaml;

/**
 * A plain-socket client of {@code /api/events}: sends the request, reads the response head, then
 * one event at a time (the chunk-size lines of the chunked body are skipped; each event is one
 * {@code data:} line of JSON, parsed with SnakeYAML, JSON being a subset of YAML).
 */
final class EventStreamClient implements AutoCloseable {
    final Socket socket;
    private final BufferedReader in;
    final String statusLine;
    final Map<String, String> headers = new LinkedHashMap<>();

    EventStreamClient(int port) throws IOException {
        socket = new Socket("127.0.0.1", port);
        socket.setSoTimeout(10_000); // a guard: an event comes every second
        socket.getOutputStream().write(("GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:" + port
                + "\r\nAccept: text/event-stream\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.ISO_8859_1));
        statusLine = in.readLine();
        for (String l; (l = in.readLine()) != null && !l.isEmpty(); ) {
            int colon = l.indexOf(':');
            headers.put(l.substring(0, colon).trim().toLowerCase(java.util.Locale.ROOT), l.substring(colon + 1).trim());
        }
    }

    /** The next event's JSON text; fails at the end of the stream. */
    String nextData() throws IOException {
        for (String l; (l = in.readLine()) != null; ) {
            if (l.startsWith("data: ")) {
                return l.substring("data: ".length());
            }
        }
        throw new AssertionError("the event stream ended");
    }

    /** The next event, parsed. */
    Map<String, Object> next() throws IOException {
        return parse(nextData());
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> parse(String json) {
        return (Map<String, Object>) new Yaml().load(json);
    }

    @SuppressWarnings("unchecked")
    static List<Map<String, Object>> list(Map<String, Object> snapshot, String member) {
        return (List<Map<String, Object>>) snapshot.get(member);
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> map(Map<String, Object> snapshot, String member) {
        return (Map<String, Object>) snapshot.get(member);
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
