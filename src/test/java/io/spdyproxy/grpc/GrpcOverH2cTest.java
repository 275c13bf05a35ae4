package io.spdyproxy.grpc;

import java.nio.file.Path;
import org.junit.jupiter.api.Disabled;

/** The gRPC cases through the proxy's plain port (h2c, prior knowledge), the tunnel and {@code --upstream h2c://}. */
@Disabled("needs the HTTP/2 front end (h2c on the HTTP port) and the origin's --upstream h2c:// on main; its two status cases"
        + " also need a trailers-only response (HEADERS with END_STREAM) kept whole by the front end")
class GrpcOverH2cTest extends GrpcCases {
    @Override
    GrpcBed startBed(Path dir) throws Exception {
        return GrpcBed.tunnelled(dir);
    }

    @Override
    GrpcBed.Route route() {
        return GrpcBed.Route.H2C;
    }
}
