package io.spdyproxy.tunnel;

/**
 * Why a tunnel stream ended abnormally. {@link #isRetryable()} is true only when the peer provably
 * never processed the stream (refused, or above a GOAWAY's last-good id), so the request may be
 * sent again on another session.
 */
public final class StreamClosedException extends Exception {
    private static final long serialVersionUID = 1L;

    private final StreamError error;
    private final boolean retryable;
    private final boolean local;

    public StreamClosedException(StreamError error, boolean retryable, boolean local, String message) {
        super(message, null, false, false);
        this.error = error;
        this.retryable = retryable;
        this.local = local;
    }

    public StreamError error() {
        return error;
    }

    /** True when the stream never reached the peer's application, so resending is safe. */
    public boolean isRetryable() {
        return retryable;
    }

    /** True when this side ended the stream, false when the peer (or the connection) did. */
    public boolean isLocal() {
        return local;
    }
}
