package io.spdyproxy.spdy;

import io.netty.handler.codec.spdy.SpdySessionStatus;
import io.netty.handler.codec.spdy.SpdyStreamStatus;

/**
 * The one error vocabulary of the library: each failure maps to its RST_STREAM status (SPDY/3
 * section 2.6.3) and, for session errors, to a GOAWAY status (section 2.6.6).
 */
public enum SpdyError {
    PROTOCOL_ERROR(1, SpdySessionStatus.PROTOCOL_ERROR),
    INVALID_STREAM(2, SpdySessionStatus.PROTOCOL_ERROR),
    REFUSED_STREAM(3, SpdySessionStatus.PROTOCOL_ERROR),
    UNSUPPORTED_VERSION(4, SpdySessionStatus.PROTOCOL_ERROR),
    CANCEL(5, SpdySessionStatus.OK),
    INTERNAL_ERROR(6, SpdySessionStatus.INTERNAL_ERROR),
    FLOW_CONTROL_ERROR(7, SpdySessionStatus.PROTOCOL_ERROR),
    STREAM_IN_USE(8, SpdySessionStatus.PROTOCOL_ERROR),
    STREAM_ALREADY_CLOSED(9, SpdySessionStatus.PROTOCOL_ERROR),
    FRAME_TOO_LARGE(11, SpdySessionStatus.PROTOCOL_ERROR),
    /** Not a wire status: the session ended (connection closed, GOAWAY, keepalive) under the stream. */
    SESSION_CLOSED(6, SpdySessionStatus.INTERNAL_ERROR);

    private final int rstCode;
    private final SpdySessionStatus goAwayStatus;

    SpdyError(int rstCode, SpdySessionStatus goAwayStatus) {
        this.rstCode = rstCode;
        this.goAwayStatus = goAwayStatus;
    }

    public int rstCode() {
        return rstCode;
    }

    SpdyStreamStatus rstStatus() {
        return SpdyStreamStatus.valueOf(rstCode);
    }

    SpdySessionStatus goAwayStatus() {
        return goAwayStatus;
    }

    static SpdyError ofRstCode(int code) {
        for (SpdyError e : values()) {
            if (e.rstCode == code && e != SESSION_CLOSED) {
                return e;
            }
        }
        return PROTOCOL_ERROR;
    }
}
