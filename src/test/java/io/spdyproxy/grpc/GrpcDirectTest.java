package io.spdyproxy.grpc;

import java.nio.file.Path;

/** The gRPC cases straight against the app: the baseline that proves the cases themselves. */
class GrpcDirectTest extends GrpcCases {
    @Override
    GrpcBed startBed(Path dir) throws Exception {
        return GrpcBed.direct();
    }

    @Override
    GrpcBed.Route route() {
        return GrpcBed.Route.DIRECT;
    }
}
