package io.spdyproxy.proxy.access;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.yaml.snakeyaml.error.YAMLException;

/**
 * Reads the access-control file: a {@code tunnels} mapping of tunnel name to its rules (see the
 * README for the format). Every mistake is an error naming the file, the tunnel and the key; an
 * unknown key is one too, so that a typo never leaves a tunnel open.
 *
 * <p>Stateless.
 */
final class AccessFile {
    private static final Set<String> KEYS = Set.of("basicAuth", "bearerTokens", "allow", "deny",
            "maxConcurrentRequests", "bandwidth");
    /** The modular crypt format of bcrypt: $2a$/$2b$/$2y$, a two-digit cost, 53 characters of salt and hash. */
    private static final Pattern BCRYPT = Pattern.compile("\\$2[aby]\\$(\\d\\d)\\$[./A-Za-z0-9]{53}");
    private static final Pattern SIZE = Pattern.compile("(\\d+)\\s*([KMG]i?B?|B)?(?:/s)?", Pattern.CASE_INSENSITIVE);

    /** 1 TiB: more is a typo, not a limit. */
    private static final long MAX_RATE = 1L << 40;

    private AccessFile() {}

    /** The policies by tunnel name, or an {@link AccessConfigException} saying what is wrong. */
    static Map<String, TunnelPolicy> read(Path file) {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new AccessConfigException(file + ": cannot read it (" + e + ")");
        }
        return parse(file, text);
    }

    static Map<String, TunnelPolicy> parse(Path file, String text) {
        Object root;
        try {
            root = new Yaml(new SafeConstructor(new LoaderOptions())).load(text);
        } catch (YAMLException e) {
            throw new AccessConfigException(file + ": not valid YAML: " + e.getMessage().replace('\n', ' '));
        }
        if (root == null) {
            return Map.of();
        }
        Map<?, ?> top = map(root, file + ": the file");
        for (Object k : top.keySet()) {
            if (!"tunnels".equals(k)) {
                throw new AccessConfigException(file + ": unknown key '" + k + "' (expected: tunnels)");
            }
        }
        Map<String, TunnelPolicy> out = new LinkedHashMap<>();
        Object tunnels = top.get("tunnels");
        if (tunnels == null) {
            return out;
        }
        for (Map.Entry<?, ?> e : map(tunnels, file + ": tunnels").entrySet()) {
            String name = String.valueOf(e.getKey());
            String where = file + ": tunnel '" + name + "': ";
            out.put(name, policy(name, e.getValue() == null ? Map.of() : map(e.getValue(), where + "its rules"), where));
        }
        return out;
    }

    private static TunnelPolicy policy(String name, Map<?, ?> m, String where) {
        for (Object k : m.keySet()) {
            if (!KEYS.contains(String.valueOf(k))) {
                throw new AccessConfigException(where + "unknown key '" + k + "' (known: " + KEYS + ")");
            }
        }
        Map<String, String> users = new LinkedHashMap<>();
        if (m.get("basicAuth") != null) {
            Map<?, ?> basic = map(m.get("basicAuth"), where + "basicAuth");
            for (Object k : basic.keySet()) {
                if (!"users".equals(k)) {
                    throw new AccessConfigException(where + "basicAuth: unknown key '" + k + "' (expected: users)");
                }
            }
            Object u = basic.get("users");
            if (u != null) {
                for (Map.Entry<?, ?> e : map(u, where + "basicAuth.users").entrySet()) {
                    String user = String.valueOf(e.getKey());
                    String hash = String.valueOf(e.getValue());
                    if (user.isEmpty() || user.indexOf(':') >= 0) {
                        throw new AccessConfigException(where + "basicAuth.users: '" + user
                                + "' (expected: a user name without ':')");
                    }
                    Matcher bc = BCRYPT.matcher(hash);
                    if (!bc.matches() || Integer.parseInt(bc.group(1)) < 4 || Integer.parseInt(bc.group(1)) > 31) {
                        throw new AccessConfigException(where + "basicAuth.users." + user
                                + ": not a bcrypt hash (expected: $2y$10$ and 53 characters, e.g. from htpasswd -nbB)");
                    }
                    users.put(user, hash);
                }
            }
        }
        List<byte[]> bearer = new ArrayList<>();
        List<String> tokens = strings(m.get("bearerTokens"), where + "bearerTokens");
        for (int i = 0; i < tokens.size(); i++) {
            String t = tokens.get(i);
            String hex = t.startsWith("sha256:") ? t.substring(7).toLowerCase(Locale.ROOT) : "";
            if (!hex.matches("[0-9a-f]{64}")) {
                // Never echoed: it may be a token in clear.
                throw new AccessConfigException(where + "bearerTokens[" + i + "]: not a hash (expected: sha256: and the 64 hex digits of the token's SHA-256; tokens are not kept in clear)");
            }
            bearer.add(HexFormat.of().parseHex(hex));
        }
        List<Cidr> allow = ranges(m.get("allow"), where + "allow");
        List<Cidr> deny = ranges(m.get("deny"), where + "deny");
        int max = (int) number(m.get("maxConcurrentRequests"), where + "maxConcurrentRequests", 0, Integer.MAX_VALUE);
        long rate = 0;
        long burst = 0;
        if (m.get("bandwidth") != null) {
            Map<?, ?> bw = map(m.get("bandwidth"), where + "bandwidth");
            for (Object k : bw.keySet()) {
                if (!"bytesPerSecond".equals(k) && !"burst".equals(k)) {
                    throw new AccessConfigException(where + "bandwidth: unknown key '" + k
                            + "' (expected: bytesPerSecond, burst)");
                }
            }
            rate = number(bw.get("bytesPerSecond"), where + "bandwidth.bytesPerSecond", 1, MAX_RATE);
            burst = bw.get("burst") == null ? Math.max(rate / 4, 16 * 1024)
                    : number(bw.get("burst"), where + "bandwidth.burst", 1, MAX_RATE);
        }
        return new TunnelPolicy(name, users, bearer, allow, deny, max, rate, burst);
    }

    private static Map<?, ?> map(Object o, String what) {
        if (o instanceof Map<?, ?> m) {
            return m;
        }
        throw new AccessConfigException(what + ": " + o + " (expected: a mapping)");
    }

    private static List<String> strings(Object o, String what) {
        if (o == null) {
            return List.of();
        }
        if (!(o instanceof List<?> l)) {
            throw new AccessConfigException(what + ": " + o + " (expected: a list)");
        }
        List<String> out = new ArrayList<>();
        for (Object x : l) {
            out.add(String.valueOf(x).trim());
        }
        return out;
    }

    private static List<Cidr> ranges(Object o, String what) {
        List<Cidr> out = new ArrayList<>();
        for (String s : strings(o, what)) {
            try {
                out.add(Cidr.parse(s));
            } catch (IllegalArgumentException e) {
                throw new AccessConfigException(what + ": " + e.getMessage());
            }
        }
        return out;
    }

    /** A count or a size: {@code 1048576}, {@code "1MiB"}, {@code "512 KiB"}, {@code "2MB"}, {@code "1MiB/s"} (K = 1024). */
    private static long number(Object o, String what, long min, long max) {
        boolean size = !what.endsWith("maxConcurrentRequests");
        String expected = size ? "a number, or a size such as 1MiB" : "a number";
        if (o == null) {
            if (min > 0) {
                throw new AccessConfigException(what + ": missing (expected: " + expected + ")");
            }
            return 0;
        }
        long v;
        Matcher m = SIZE.matcher(o.toString().trim());
        if (o instanceof Integer || o instanceof Long) {
            Number n = (Number) o;
            v = n.longValue();
        } else if (m.matches() && (size || m.group(2) == null) && m.group(1).length() <= 15) {
            v = Long.parseLong(m.group(1)) * switch (m.group(2) == null ? 'B' : Character.toUpperCase(m.group(2).charAt(0))) {
                case 'K' -> 1024L;
                case 'M' -> 1024L * 1024;
                case 'G' -> 1024L * 1024 * 1024;
                default -> 1L;
            };
        } else {
            throw new AccessConfigException(what + ": " + o + " (expected: " + expected + ")");
        }
        if (v < min || v > max) {
            throw new AccessConfigException(what + ": " + o + " (expected: " + min + " to " + max + ")");
        }
        return v;
    }
}
