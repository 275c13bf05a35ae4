package io.spdyproxy.proxy;

import io.spdyproxy.observe.RequestListener;
import java.util.ArrayList;
import java.util.List;

/**
 * The listeners told of every finished request (access log, metrics, dashboard). Added while the
 * proxy starts, read on every request's end.
 *
 * <p>Threading: {@link #add} from any thread; {@link #current} is a volatile read.
 */
final class RequestListeners {
    private final List<RequestListener> all = new ArrayList<>();
    private volatile RequestListener current = RequestListener.NONE;

    synchronized void add(RequestListener l) {
        all.add(l);
        current = RequestListener.of(all);
    }

    RequestListener current() {
        return current;
    }
}
