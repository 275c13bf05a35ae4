package io.spdyproxy.cli;

/**
 * A {@code HOST:PORT} flag value ({@code [v6]:PORT} for an IPv6 literal), parsed with a message
 * that names the flag.
 */
record HostPort(String host, int port) {

    static HostPort parse(String flag, String value) {
        String expected = " (expected: HOST:PORT, e.g. proxy.example.net:1444)";
        String v = value == null ? "" : value.trim();
        int colon = v.startsWith("[") ? v.indexOf("]:") + 1 : v.lastIndexOf(':');
        if (colon <= 0 || colon == v.length() - 1) {
            throw new UserError(flag + " " + value + ": no port" + expected);
        }
        String host = v.substring(0, colon);
        if (host.startsWith("[")) {
            host = host.substring(1, host.length() - 1);
        } else if (host.contains(":")) {
            throw new UserError(flag + " " + value + ": an IPv6 address needs brackets (expected: HOST:PORT, e.g. [::1]:1444)");
        }
        String p = v.substring(colon + 1);
        int port = p.matches("\\d{1,5}") ? Integer.parseInt(p) : -1;
        if (port < 1 || port > 65535) {
            throw new UserError(flag + " " + value + ": '" + p + "' is not a port number from 1 to 65535" + expected);
        }
        return new HostPort(host, port);
    }
}
