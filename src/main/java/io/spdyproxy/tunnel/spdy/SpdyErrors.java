package io.spdyproxy.tunnel.spdy;

import io.spdyproxy.spdy.SpdyError;
import io.spdyproxy.spdy.SpdyStreamException;
import io.spdyproxy.tunnel.StreamClosedException;
import io.spdyproxy.tunnel.StreamError;

/** {@link StreamError} in SPDY/3 statuses (section 2.6.3) and back. Stateless. */
final class SpdyErrors {
    private SpdyErrors() {}

    static SpdyError toSpdy(StreamError e) {
        return switch (e) {
            case PROTOCOL_ERROR, OTHER -> SpdyError.PROTOCOL_ERROR;
            case REFUSED -> SpdyError.REFUSED_STREAM;
            case CANCEL -> SpdyError.CANCEL;
            case INTERNAL_ERROR, SESSION_CLOSED -> SpdyError.INTERNAL_ERROR;
            case FLOW_CONTROL_ERROR -> SpdyError.FLOW_CONTROL_ERROR;
        };
    }

    static StreamError fromSpdy(SpdyError e) {
        return switch (e) {
            case PROTOCOL_ERROR -> StreamError.PROTOCOL_ERROR;
            case REFUSED_STREAM -> StreamError.REFUSED;
            case CANCEL -> StreamError.CANCEL;
            case INTERNAL_ERROR -> StreamError.INTERNAL_ERROR;
            case FLOW_CONTROL_ERROR -> StreamError.FLOW_CONTROL_ERROR;
            case SESSION_CLOSED -> StreamError.SESSION_CLOSED;
            default -> StreamError.OTHER;
        };
    }

    static StreamClosedException closed(SpdyStreamException e) {
        return e == null ? null
                : new StreamClosedException(fromSpdy(e.error()), e.isRetryable(), e.isLocal(), e.getMessage());
    }

    /** A failed {@code newStream} future's cause, as the tunnel's exception. */
    static Throwable opening(Throwable e) {
        Throwable cause = e instanceof java.util.concurrent.CompletionException && e.getCause() != null
                ? e.getCause() : e;
        if (cause instanceof SpdyStreamException se) {
            return closed(se);
        }
        return cause;
    }
}
