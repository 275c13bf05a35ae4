package io.spdyproxy.tunnel.h2;

import io.netty.handler.codec.http2.Http2Error;
import io.spdyproxy.tunnel.StreamError;

/** {@link StreamError} in HTTP/2 error codes (RFC 9113 section 7) and back. Stateless. */
final class H2Errors {
    private H2Errors() {}

    static Http2Error toH2(StreamError e) {
        return switch (e) {
            case PROTOCOL_ERROR, OTHER -> Http2Error.PROTOCOL_ERROR;
            case REFUSED -> Http2Error.REFUSED_STREAM;
            case CANCEL -> Http2Error.CANCEL;
            case INTERNAL_ERROR, SESSION_CLOSED -> Http2Error.INTERNAL_ERROR;
            case FLOW_CONTROL_ERROR -> Http2Error.FLOW_CONTROL_ERROR;
        };
    }

    /**
     * The peer's code as the tunnel's words. NO_ERROR on a RST_STREAM means "I do not need the
     * rest" (RFC 9113 section 8.1: a server that answered before the request body ended), which
     * the tunnel calls CANCEL.
     */
    static StreamError fromH2(long code) {
        Http2Error e = Http2Error.valueOf(code);
        if (e == null) {
            return StreamError.OTHER;
        }
        return switch (e) {
            case NO_ERROR, CANCEL -> StreamError.CANCEL;
            case PROTOCOL_ERROR -> StreamError.PROTOCOL_ERROR;
            case REFUSED_STREAM -> StreamError.REFUSED;
            case INTERNAL_ERROR -> StreamError.INTERNAL_ERROR;
            case FLOW_CONTROL_ERROR -> StreamError.FLOW_CONTROL_ERROR;
            default -> StreamError.OTHER;
        };
    }
}
