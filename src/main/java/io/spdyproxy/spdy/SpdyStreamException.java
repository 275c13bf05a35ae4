package io.spdyproxy.spdy;

/**
 * Why a stream ended abnormally. {@link #isRetryable()} is true only when the peer provably never
 * processed the stream (REFUSED_STREAM, or an id above a GOAWAY's last-good id), so a caller may
 * resend the request on another session.
 */
public final class SpdyStreamException extends Exception {
    private static final long serialVersionUID = 1L;

    private final SpdyError error;
    private final boolean retryable;
    private final boolean local;

    public SpdyStreamException(SpdyError error, boolean retryable, boolean local, String message) {
        super(message, null, false, false);
        this.error = error;
        this.retryable = retryable;
        this.local = local;
    }

    public SpdyError error() {
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
