package io.spdyproxy.cli;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

/**
 * A flat YAML config file whose keys are the long flag names in camelCase (e.g. {@code
 * tunnelPort: 1444}); flags given on the command line win. Unknown keys are an error, so a typo
 * never passes silently.
 */
final class YamlConfig {
    private final Map<String, Object> values;
    private final Path file;

    private YamlConfig(Path file, Map<String, Object> values) {
        this.file = file;
        this.values = values;
    }

    static YamlConfig load(Path file, Set<String> allowedKeys) throws IOException {
        if (file == null) {
            return new YamlConfig(null, Map.of());
        }
        if (!Files.isRegularFile(file)) {
            throw new UserError("--config " + file + ": no such file");
        }
        try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            Object o = new Yaml(new SafeConstructor(new LoaderOptions())).load(r);
            if (o == null) {
                return new YamlConfig(file, Map.of());
            }
            if (!(o instanceof Map<?, ?> m)) {
                throw new IOException(file + ": expected a mapping of settings");
            }
            @SuppressWarnings("unchecked")
            Map<String, Object> values = (Map<String, Object>) m;
            for (String k : values.keySet()) {
                if (!allowedKeys.contains(k)) {
                    throw new IOException(file + ": unknown setting '" + k + "' (known: " + allowedKeys + ")");
                }
            }
            return new YamlConfig(file, values);
        }
    }

    String string(String key, String fallback) {
        Object v = values.get(key);
        return v == null ? fallback : v.toString();
    }

    int integer(String key, int fallback) {
        Object v = values.get(key);
        if (v == null) {
            return fallback;
        }
        if (v instanceof Number n) {
            return n.intValue();
        }
        try {
            return Integer.parseInt(v.toString().trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(file + ": " + key + ": " + v + " (expected: a number)");
        }
    }

    boolean bool(String key, boolean fallback) {
        Object v = values.get(key);
        return v == null ? fallback : Boolean.parseBoolean(v.toString());
    }

    java.time.Duration duration(String key, java.time.Duration fallback) {
        Object v = values.get(key);
        try {
            return v == null ? fallback : Durations.parse(v.toString());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(file + ": " + key + ": " + e.getMessage(), e);
        }
    }

    @SuppressWarnings("unchecked")
    Map<String, Object> map(String key) {
        Object v = values.get(key);
        if (v == null) {
            return Map.of();
        }
        if (!(v instanceof Map<?, ?>)) {
            throw new IllegalArgumentException(file + ": " + key + " (expected: a mapping)");
        }
        return (Map<String, Object>) v;
    }
}
