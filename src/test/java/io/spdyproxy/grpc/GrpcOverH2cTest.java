package io.spdyproxy.grpc;

import java.nio.file.Path;

/** The gRPC cases through the proxy's plain port (h2c, prior knowledge), the tunnel and {@code --upstream h2c://}. */
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
