package io.spdyproxy.grpc;

import java.nio.file.Path;
import org.junit.jupiter.api.Disabled;

/** The gRPC cases through the proxy's TLS port (ALPN h2), the tunnel and {@code --upstream h2c://}. */
@Disabled("needs the HTTP/2 front end (ALPN h2 on the HTTPS port) and the origin's --upstream h2c:// on main; its two"
        + " status cases also need a trailers-only response (HEADERS with END_STREAM) kept whole by the front end")
class GrpcOverHttpsTest extends GrpcCases {
    @Override
    GrpcBed startBed(Path dir) throws Exception {
        return GrpcBed.tunnelled(dir);
    }

    @Override
    GrpcBed.Route route() {
        return GrpcBed.Route.HTTPS;
    }
}
