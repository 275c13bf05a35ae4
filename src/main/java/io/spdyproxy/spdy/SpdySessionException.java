package io.spdyproxy.spdy;

/** Why a session ended abnormally: a protocol violation, a limit crossed, or a dead peer. */
public final class SpdySessionException extends Exception {
    private static final long serialVersionUID = 1L;

    private final SpdyError error;

    public SpdySessionException(SpdyError error, String message) {
        super(message, null, false, false);
        this.error = error;
    }

    public SpdyError error() {
        return error;
    }
}
