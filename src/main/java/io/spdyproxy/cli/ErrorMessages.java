package io.spdyproxy.cli;

import java.nio.file.NoSuchFileException;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.Model.CommandSpec;

/**
 * Turns a failed command into one line for the user. The config records validate with their
 * component names ({@code "idleTimeout: PT0S (expected: > 0)"}); the user typed flags, so a
 * message that starts with such a name gets the command's flag instead ({@code --idle-timeout}).
 */
final class ErrorMessages {
    /** Record components whose flag is not simply their name in kebab case. */
    private static final Map<String, String> FLAG_OF = Map.of(
            "httpPort", "--port",
            "certFile", "--cert",
            "keyFile", "--key",
            "tokenHashes", "--token",
            "authRequired", "--auth",
            "cacheValidity", "--file-cache-ttl",
            "proxyHost", "--proxy",
            "proxyPort", "--proxy",
            "url", "--upstream");
    private static final Pattern LEADING_NAMES = Pattern.compile("^([A-Za-z][A-Za-z0-9]*)(?: and ([A-Za-z][A-Za-z0-9]*))?(?=[: ])");

    private ErrorMessages() {}

    static String describe(Throwable e, CommandSpec command) {
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root && !(root instanceof UserError)) {
            root = root.getCause();
        }
        if (root instanceof UserError) {
            return root.getMessage();
        }
        if (root instanceof NoSuchFileException f) {
            return f.getFile() + ": no such file";
        }
        String message = root.getMessage() == null ? root.getClass().getSimpleName() : root.getMessage();
        if (root instanceof IllegalArgumentException || root instanceof java.io.IOException) {
            return withFlagNames(message, command);
        }
        return root.getClass().getSimpleName() + ": " + message;
    }

    /** {@code "certFile and keyFile go together"} becomes {@code "--cert and --key go together"}. */
    static String withFlagNames(String message, CommandSpec command) {
        Matcher m = LEADING_NAMES.matcher(message);
        if (!m.find()) {
            return message;
        }
        String first = flag(m.group(1), command);
        if (first == null) {
            return message;
        }
        String second = m.group(2) == null ? null : flag(m.group(2), command);
        if (m.group(2) != null && second == null) {
            return message;
        }
        return first + (second == null ? "" : " and " + second) + message.substring(m.end());
    }

    private static String flag(String name, CommandSpec command) {
        String flag = FLAG_OF.getOrDefault(name, "--" + kebab(name));
        return command != null && command.findOption(flag) != null ? flag : null;
    }

    private static String kebab(String camel) {
        return camel.replaceAll("([a-z0-9])([A-Z])", "$1-$2").toLowerCase(Locale.ROOT);
    }
}
