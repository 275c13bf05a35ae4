package io.spdyproxy.observe.dashboard;

import io.netty.util.NetUtil;
import java.util.Locale;

/**
 * Whether a request's {@code Host} names this machine's loopback: {@code localhost} or a name under
 * {@code .localhost} (RFC 6761 section 6.3), {@code 127.0.0.0/8}, or {@code [::1]}, with an optional
 * port. The admin listener binds 127.0.0.1, yet a page on another site can point a name of its own
 * at 127.0.0.1 (DNS rebinding) and read the answers as same-origin; the browser still sends that
 * name as the Host, so refusing it is what stops the attack.
 *
 * <p>Threading: stateless.
 */
public final class LoopbackHost {
    private LoopbackHost() {}

    /**
     * True when {@code host} (a {@code Host} header value) names loopback, or is absent: a
     * browser always sends one, so its absence is no rebinding.
     */
    public static boolean allows(String host) {
        if (host == null) {
            return true;
        }
        String h = host.trim().toLowerCase(Locale.ROOT);
        String name;
        if (h.startsWith("[")) {
            int close = h.indexOf(']');
            if (close < 0 || !port(h.substring(close + 1))) {
                return false;
            }
            byte[] addr = NetUtil.createByteArrayFromIpAddressString(h.substring(1, close));
            return addr != null && addr.length == 16 && isV6Loopback(addr);
        }
        int colon = h.indexOf(':');
        if (colon >= 0) {
            if (!port(h.substring(colon))) {
                return false;
            }
            name = h.substring(0, colon);
        } else {
            name = h;
        }
        if (NetUtil.isValidIpV4Address(name)) {
            return name.startsWith("127.");
        }
        if (name.endsWith(".")) {
            name = name.substring(0, name.length() - 1);
        }
        return name.equals("localhost") || name.endsWith(".localhost");
    }

    /** Empty, or a colon and 1 to 5 digits. */
    private static boolean port(String s) {
        if (s.isEmpty()) {
            return true;
        }
        if (s.charAt(0) != ':' || s.length() < 2 || s.length() > 6) {
            return false;
        }
        for (int i = 1; i < s.length(); i++) {
            if (s.charAt(i) < '0' || s.charAt(i) > '9') {
                return false;
            }
        }
        return true;
    }

    private static boolean isV6Loopback(byte[] a) {
        for (int i = 0; i < 15; i++) {
            if (a[i] != 0) {
                return false;
            }
        }
        return a[15] == 1;
    }
}
