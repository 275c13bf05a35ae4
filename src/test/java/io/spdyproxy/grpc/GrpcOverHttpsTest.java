package io.spdyproxy.grpc;

import java.nio.file.Path;

/** The gRPC cases through the proxy's TLS port (ALPN h2), the tunnel and {@code --upstream h2c://}. */
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
