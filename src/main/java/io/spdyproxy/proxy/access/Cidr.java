package io.spdyproxy.proxy.access;

import io.netty.util.NetUtil;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.util.Arrays;

/**
 * One address range of an allow or deny list: {@code 10.0.0.0/8}, {@code 2001:db8::/32}, or a
 * single address. IPv4 and IPv6 are separate families, except that an IPv4-mapped IPv6 address
 * ({@code ::ffff:10.1.2.3}, RFC 4291 section 2.5.5.2, what a dual-stack socket reports for an IPv4
 * peer) is taken as the IPv4 address it carries, on both sides of the match.
 *
 * @param network the range's first address: 4 or 16 bytes, host bits zero
 * @param prefix how many leading bits must match
 */
record Cidr(byte[] network, int prefix) {

    /** Parses an address literal with an optional {@code /prefix}; never a host name (no DNS). */
    static Cidr parse(String text) {
        String s = text.trim();
        int slash = s.indexOf('/');
        String addr = slash < 0 ? s : s.substring(0, slash);
        byte[] bytes = NetUtil.createByteArrayFromIpAddressString(addr);
        if (bytes == null) {
            throw new IllegalArgumentException(text + " (expected: an IPv4 or IPv6 address, optionally /prefix)");
        }
        int max = bytes.length * 8;
        int prefix = max;
        if (slash >= 0) {
            try {
                prefix = Integer.parseInt(s.substring(slash + 1));
            } catch (NumberFormatException e) {
                prefix = -1;
            }
            if (prefix < 0 || prefix > max) {
                throw new IllegalArgumentException(text + " (expected: a prefix length 0.." + max + ")");
            }
        }
        if (bytes.length == 16 && prefix >= 96 && isMapped(bytes)) {
            bytes = Arrays.copyOfRange(bytes, 12, 16);
            prefix -= 96;
        }
        return new Cidr(mask(bytes, prefix), prefix);
    }

    boolean matches(InetAddress address) {
        byte[] a = normalized(address);
        if (a.length != network.length) {
            return false;
        }
        return Arrays.equals(mask(a, prefix), network);
    }

    /** The address's bytes, an IPv4-mapped IPv6 address as its IPv4 address. */
    static byte[] normalized(InetAddress address) {
        byte[] a = address.getAddress();
        if (address instanceof Inet6Address && isMapped(a)) {
            return Arrays.copyOfRange(a, 12, 16);
        }
        return a;
    }

    private static boolean isMapped(byte[] a) {
        for (int i = 0; i < 10; i++) {
            if (a[i] != 0) {
                return false;
            }
        }
        return a[10] == (byte) 0xff && a[11] == (byte) 0xff;
    }

    private static byte[] mask(byte[] a, int prefix) {
        byte[] out = a.clone();
        for (int i = 0; i < out.length; i++) {
            int keep = Math.max(0, Math.min(8, prefix - i * 8));
            out[i] &= (byte) (0xff << (8 - keep));
        }
        return out;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Cidr c && c.prefix == prefix && Arrays.equals(c.network, network);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(network) + prefix;
    }

    @Override
    public String toString() {
        try {
            return InetAddress.getByAddress(network).getHostAddress() + "/" + prefix;
        } catch (java.net.UnknownHostException e) {
            return Arrays.toString(network) + "/" + prefix;
        }
    }
}
