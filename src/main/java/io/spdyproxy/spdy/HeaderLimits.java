package io.spdyproxy.spdy;

import io.netty.handler.codec.spdy.SpdyHeaders;
import java.util.Map;

/**
 * Whether a header block of ours can be encoded: SPDY/3 section 2.6.10 lengths are 32-bit, but
 * Netty's encoder takes at most 65535 bytes per value, and our own limit on a block applies to
 * what we send as well. Checked before sending, so one oversized value fails its stream instead
 * of the encoder failing the connection.
 */
final class HeaderLimits {
    private HeaderLimits() {}

    /** Why {@code headers} cannot be sent, or null. */
    static String invalid(SpdyHeaders headers, int maxHeaderBlockSize) {
        long total = 0;
        for (Map.Entry<CharSequence, CharSequence> e : headers) {
            int n = e.getKey().length();
            int v = e.getValue().length();
            if (n == 0 || n > 0xFFFF || v > 0xFFFF) {
                return "header '" + e.getKey() + "' too long: name " + n + ", value " + v
                        + " bytes (expected: 1..65535)";
            }
            total += n + v + 8;
        }
        if (total > maxHeaderBlockSize) {
            return "header block of " + total + " bytes (expected: <= maxHeaderBlockSize "
                    + maxHeaderBlockSize + ")";
        }
        return null;
    }
}
