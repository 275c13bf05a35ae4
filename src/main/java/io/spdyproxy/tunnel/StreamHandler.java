package io.spdyproxy.tunnel;

/**
 * The events of one stream this side opened (the proxy's view of a request it forwarded): the
 * response head, then {@link StreamEvents}. Called on the session's event loop, in order.
 */
public interface StreamHandler extends StreamEvents {
    /** The peer's response head, unvalidated; {@code endOfStream} when no body follows. */
    void onHead(TunnelStream stream, ResponseHead head, boolean endOfStream);
}
