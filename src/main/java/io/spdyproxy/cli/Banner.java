package io.spdyproxy.cli;

import io.spdyproxy.proxy.ProxyConfig;
import io.spdyproxy.proxy.ProxyIdentity;
import io.spdyproxy.proxy.ProxyServer;
import java.net.InetAddress;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * What the proxy prints at start: URLs a user can open (never {@code 0.0.0.0}), its certificate's
 * fingerprint, how origins authenticate, and an origin command that can be pasted and run as
 * printed: {@code java -jar} with the running jar's absolute path, this machine's address, and an
 * obvious placeholder for what only the user knows (the directory to serve).
 */
final class Banner {
    static final String DIR = "<DIR>";
    static final String HOST_PLACEHOLDER = "<this-machine's-address>";
    static final String JAR_PLACEHOLDER = "<path-to>/spdy-proxy.jar";

    private Banner() {}

    static List<String> lines(ProxyConfig config, ProxyServer server, String jar, String localHostName) {
        List<String> out = new ArrayList<>();
        String host = urlHost(config.bind());
        out.add("spdy-proxy: tunnel port " + server.tunnelPort() + " (TLS), clients on "
                + (server.httpPort() >= 0 ? "http://" + host + ":" + server.httpPort() + "/" : "")
                + (server.httpsPort() >= 0 ? " https://" + host + ":" + server.httpsPort() + "/" : "")
                + (server.adminPort() >= 0 ? ", dashboard on http://127.0.0.1:" + server.adminPort() + "/ (JSON /debug, Prometheus /metrics)" : ""));
        if (server.adminToken() != null) {
            out.add("admin API on http://127.0.0.1:" + server.adminPort() + "/api/tokens, bearer token in "
                    + server.adminToken().file() + (server.adminToken().generated() ? " (generated now)" : ""));
        }
        ProxyIdentity id = server.identity();
        out.add("certificate SHA-256 fingerprint: " + id.fingerprint());
        String credentials;
        if (!config.authRequired()) {
            out.add("authentication is OFF (--auth none): any origin may connect.");
            credentials = "";
        } else if (id.newToken() != null) {
            out.add("generated a token for tunnel 'default' (shown once; stored hashed in " + id.tokensFile() + "):");
            out.add("  " + id.newToken());
            credentials = " --token " + id.newToken();
        } else {
            Set<String> names = new TreeSet<>(id.tokenHashes().keySet());
            out.add("origins authenticate with tokens for: " + names);
            tokenSources(config, id, out);
            credentials = names.equals(Set.of("default")) ? " --token <TOKEN>" : " --name <NAME> --token <TOKEN>";
        }
        String originHost = originHost(config.bind(), localHostName);
        out.add("connect an origin (on the machine with the files):");
        out.add("  java -jar " + shellQuoted(jar) + " origin --proxy " + originHost + ":" + server.tunnelPort()
                + credentials + " --fingerprint " + id.fingerprint() + " --root " + DIR);
        out.add("  (replace " + DIR + " with the directory to serve, or use --upstream http://127.0.0.1:PORT"
                + " instead of --root for a local app" + (credentials.contains("<TOKEN>")
                        ? "; <TOKEN> is the tunnel's token" : "") + ")");
        if (originHost.equals(HOST_PLACEHOLDER)) {
            out.add("  (replace " + HOST_PLACEHOLDER + " with the name or address origins reach this machine by)");
        } else if (wildcard(config.bind())) {
            out.add("  (" + originHost + " is this machine's host name: if origins reach it by another name or"
                    + " address, use that)");
        }
        if (jar.equals(JAR_PLACEHOLDER)) {
            out.add("  (replace " + JAR_PLACEHOLDER + " with where the spdy-proxy jar is)");
        }
        return out;
    }

    /** Says where each tunnel's token comes from when tokens are configured and a tokens file exists. */
    private static void tokenSources(ProxyConfig config, ProxyIdentity id, List<String> out) {
        if (id.tokensFile() == null || id.namesInFile().isEmpty()) {
            return;
        }
        Set<String> configured = new TreeSet<>(config.tokenHashes().keySet());
        Set<String> fromFile = new TreeSet<>(id.namesInFile());
        fromFile.removeAll(configured);
        if (!fromFile.isEmpty()) {
            out.add("  " + fromFile + " from " + id.tokensFile());
        }
        if (!configured.isEmpty()) {
            out.add("  " + configured + " from --token or --config");
        }
        for (String name : new TreeSet<>(id.namesInFile())) {
            if (configured.contains(name)) {
                out.add("  tunnel '" + name + "': the configured token replaces the one in " + id.tokensFile());
            }
        }
    }

    static boolean wildcard(String bind) {
        String b = bind == null ? "" : bind.trim();
        return b.isEmpty() || b.equals("0.0.0.0") || b.equals("::") || b.equals("[::]") || b.matches("[0:]+");
    }

    /** The host of a URL a user on this machine can open. */
    static String urlHost(String bind) {
        return wildcard(bind) ? "localhost" : bracketed(bind);
    }

    /** The host an origin elsewhere dials: the bound address, else this machine's name, else a placeholder. */
    static String originHost(String bind, String localHostName) {
        if (!wildcard(bind)) {
            return bracketed(bind);
        }
        boolean useful = localHostName != null && !localHostName.isBlank()
                && !localHostName.equalsIgnoreCase("localhost") && !localHostName.startsWith("127.");
        return useful ? localHostName : HOST_PLACEHOLDER;
    }

    private static String bracketed(String host) {
        return host.contains(":") && !host.startsWith("[") ? "[" + host + "]" : host;
    }

    /** This machine's host name, or null. */
    static String localHostName() {
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (java.io.IOException | SecurityException e) {
            return null;
        }
    }

    /** The absolute path of the jar this code runs from, or a placeholder (run from classes). */
    static String runningJar() {
        try {
            URL location = Banner.class.getProtectionDomain().getCodeSource().getLocation();
            return jarPath(Path.of(location.toURI()));
        } catch (Exception e) {
            return JAR_PLACEHOLDER;
        }
    }

    static String jarPath(Path codeSource) {
        return Files.isRegularFile(codeSource) && codeSource.getFileName().toString().endsWith(".jar")
                ? codeSource.toAbsolutePath().normalize().toString() : JAR_PLACEHOLDER;
    }

    /** {@code s} as one POSIX shell word. Placeholders in angle brackets stay as they are, to be replaced. */
    static String shellQuoted(String s) {
        if (s.matches("[A-Za-z0-9_./:@%+=,-]+") || s.equals(JAR_PLACEHOLDER)) {
            return s;
        }
        return "'" + s.replace("'", "'\\''") + "'";
    }
}
