package io.spdyproxy.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import io.spdyproxy.tunnel.handshake.TunnelProtocol;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** The gRPC cases through the proxy's plain port (h2c, prior knowledge) over an HTTP/2 tunnel ({@code --tunnel-protocol h2}). */
class GrpcOverH2cH2TunnelTest extends GrpcCases {
    @Override
    GrpcBed startBed(Path dir) throws Exception {
        return GrpcBed.tunnelled(dir, TunnelProtocol.Kind.H2);
    }

    @Override
    GrpcBed.Route route() {
        return GrpcBed.Route.H2C;
    }

    @Test
    void tunnelRunsHttp2() {
        assertThat(bed().tunnelProtocol()).isEqualTo("h2"); // no silent fallback to SPDY
    }
}
