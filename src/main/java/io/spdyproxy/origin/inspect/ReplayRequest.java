package io.spdyproxy.origin.inspect;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

/**
 * The body of {@code POST /api/requests/{id}/replay}: a JSON object, every field optional:
 * {@code method}, {@code path}, {@code headers} (a list of {@code [name, value]} pairs replacing
 * all headers), {@code body} (text, sent as UTF-8) or {@code bodyBase64}. Parsed with SnakeYAML's
 * safe loader (JSON is YAML), which builds nothing but maps, lists and scalars.
 */
final class ReplayRequest {
    private ReplayRequest() {}

    /** The edits {@code json} asks for; throws IllegalArgumentException with what is wrong. */
    static Replayer.Edits parse(String json) {
        if (json.isBlank()) {
            return Replayer.Edits.NONE;
        }
        Object doc;
        try {
            LoaderOptions options = new LoaderOptions();
            options.setMaxAliasesForCollections(0);
            options.setAllowDuplicateKeys(false);
            doc = new Yaml(new SafeConstructor(options)).load(json);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("replay: the body is not JSON: " + e.getMessage().lines().findFirst()
                    .orElse(""));
        }
        if (doc == null) {
            return Replayer.Edits.NONE;
        }
        if (!(doc instanceof Map<?, ?> map)) {
            throw new IllegalArgumentException("replay: expected a JSON object such as {\"method\":\"POST\"}");
        }
        for (Object key : map.keySet()) {
            if (!List.of("method", "path", "headers", "body", "bodyBase64").contains(key)) {
                throw new IllegalArgumentException("replay: unknown field " + key
                        + " (expected: method, path, headers, body, bodyBase64)");
            }
        }
        if (map.get("body") != null && map.get("bodyBase64") != null) {
            throw new IllegalArgumentException("replay: body and bodyBase64 exclude each other");
        }
        byte[] body = null;
        if (map.get("body") != null) {
            body = string(map, "body").getBytes(StandardCharsets.UTF_8);
        } else if (map.get("bodyBase64") != null) {
            try {
                body = Base64.getDecoder().decode(string(map, "bodyBase64"));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("replay: bodyBase64 is not base64: " + e.getMessage());
            }
        }
        return new Replayer.Edits(string(map, "method"), string(map, "path"), headers(map.get("headers")), body);
    }

    private static String string(Map<?, ?> map, String key) {
        Object v = map.get(key);
        if (v == null) {
            return null;
        }
        if (!(v instanceof String s)) {
            throw new IllegalArgumentException("replay: " + key + " must be a string");
        }
        return s;
    }

    private static List<Map.Entry<String, String>> headers(Object v) {
        if (v == null) {
            return null;
        }
        if (!(v instanceof List<?> list)) {
            throw new IllegalArgumentException("replay: headers must be a list of [name, value] pairs");
        }
        List<Map.Entry<String, String>> out = new ArrayList<>();
        for (Object pair : list) {
            if (!(pair instanceof List<?> p) || p.size() != 2 || !(p.get(0) instanceof String name)
                    || !(p.get(1) instanceof String value)) {
                throw new IllegalArgumentException("replay: headers must be a list of [name, value] string pairs");
            }
            out.add(Map.entry(name, value));
        }
        return out;
    }
}
