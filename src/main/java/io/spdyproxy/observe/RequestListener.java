package io.spdyproxy.observe;

import java.util.List;

/**
 * Told of every request the proxy finished ({@link RequestRecord}). Called on the client
 * connection's event loop, once per request: it must not block or throw (hand slow work, such
 * as writing a file, to another thread).
 */
@FunctionalInterface
public interface RequestListener {
    /** Hears nothing; the proxy skips building records when this is all it has. */
    RequestListener NONE = r -> {};

    void requestEnded(RequestRecord record);

    /** All of {@code listeners}, in order; {@link #NONE} when empty. */
    static RequestListener of(List<RequestListener> listeners) {
        List<RequestListener> all = List.copyOf(listeners);
        if (all.isEmpty()) {
            return NONE;
        }
        if (all.size() == 1) {
            return all.get(0);
        }
        return r -> {
            for (RequestListener l : all) {
                l.requestEnded(r);
            }
        };
    }
}
