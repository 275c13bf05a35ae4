package io.spdyproxy.cli;

import io.spdyproxy.proxy.ProxyConfig;
import java.io.IOException;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Names the flag behind a listener that could not bind. The socket error says "Address already
 * in use" but not which of the proxy's ports, so each configured port is tried again here, in the
 * order the proxy binds them; the first that fails the same way is the one to name.
 */
final class ListenFailure {
    /** One listener the proxy opens: its flag, address and port. */
    private record Listener(String flag, String address, int port) {}

    private ListenFailure() {}

    /** A message naming the flag, or null when {@code failure} is not a bind failure. */
    static UserError explain(Throwable failure, ProxyConfig config) {
        for (Throwable x = failure; x != null; x = x.getCause() == x ? null : x.getCause()) {
            if (x instanceof java.nio.channels.UnresolvedAddressException) {
                return new UserError("--bind " + config.bind() + ": unknown host (expected: an address of this"
                        + " machine, or 0.0.0.0 for all)");
            }
        }
        String why = bindError(failure);
        if (why == null) {
            return null;
        }
        String lower = why.toLowerCase(Locale.ROOT);
        List<Listener> listeners = listeners(config);
        if (lower.contains("already in use")) {
            for (Listener l : listeners) {
                if (l.port() > 0 && !canBind(l)) {
                    return new UserError(l.flag() + " " + l.port() + ": address already in use (is another"
                            + " spdy-proxy running? pick another port with " + l.flag() + ")");
                }
            }
            return new UserError("a port is already in use (" + why + "); pick others with --port, --tunnel-port,"
                    + " --https-port or --admin-port");
        }
        if (lower.contains("cannot assign requested address")) {
            return new UserError("--bind " + config.bind() + ": not an address of this machine (" + why
                    + "); use one of its addresses, or 0.0.0.0 for all");
        }
        if (lower.contains("permission denied") || lower.contains("access denied")) {
            for (Listener l : listeners) {
                if (l.port() > 0 && l.port() < 1024) {
                    return new UserError(l.flag() + " " + l.port() + ": permission denied (ports below 1024 need"
                            + " root or CAP_NET_BIND_SERVICE; pick a port from 1024 up with " + l.flag() + ")");
                }
            }
        }
        return new UserError("cannot listen on " + config.bind() + ": " + why);
    }

    /**
     * Two listeners on one port cannot both bind: say so before trying. Port 0 (pick a free one)
     * and -1 (off) never clash.
     */
    static void checkDistinct(ProxyConfig config) {
        List<Listener> ls = listeners(config);
        for (int i = 0; i < ls.size(); i++) {
            for (int j = i + 1; j < ls.size(); j++) {
                Listener a = ls.get(i);
                Listener b = ls.get(j);
                if (a.port() > 0 && a.port() == b.port()) {
                    throw new UserError(a.flag() + " " + a.port() + " and " + b.flag() + " " + b.port()
                            + ": the same port (each listener needs its own)");
                }
            }
        }
    }

    private static List<Listener> listeners(ProxyConfig c) {
        List<Listener> out = new ArrayList<>();
        out.add(new Listener("--tunnel-port", c.bind(), c.tunnelPort()));
        out.add(new Listener("--port", c.bind(), c.httpPort()));
        out.add(new Listener("--https-port", c.bind(), c.httpsPort()));
        out.add(new Listener("--admin-port", "127.0.0.1", c.adminPort()));
        return out;
    }

    private static String bindError(Throwable t) {
        for (Throwable x = t; x != null; x = x.getCause() == x ? null : x.getCause()) {
            String m = String.valueOf(x.getMessage());
            if (x instanceof BindException || m.contains("bind(") || m.contains("Address already in use")) {
                return m.replaceFirst("^bind\\(\\.\\.\\) failed: ", "");
            }
        }
        return null;
    }

    private static boolean canBind(Listener l) {
        try (ServerSocket s = new ServerSocket()) {
            s.setReuseAddress(true); // as the proxy's listeners: a port in TIME_WAIT is free
            s.bind(new InetSocketAddress(l.address(), l.port()));
            return true;
        } catch (IOException e) {
            return false;
        }
    }
}
