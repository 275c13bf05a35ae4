package io.spdyproxy.proxy.live;

/**
 * Something the operator can ask to re-read its files (SIGHUP, or a change a watcher saw). A
 * reload that fails keeps what was there and logs why; it never throws.
 */
@FunctionalInterface
public interface Reloadable {
    void reload();
}
