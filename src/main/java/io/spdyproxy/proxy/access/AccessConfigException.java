package io.spdyproxy.proxy.access;

/**
 * The access-control file is wrong; the message names the file, the tunnel and the key. At start
 * the proxy refuses to run with it; on a reload the previous rules stay.
 */
public final class AccessConfigException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    AccessConfigException(String message) {
        super(message);
    }
}
