package io.spdyproxy.tunnel.handshake;

/**
 * Every {@link TunnelEndToEndTest} again over an HTTP/2 tunnel ({@code --tunnel-protocol h2}), with
 * smaller transfers: the SPDY run already proves the 1 GiB sizes end to end, and what is h2's own
 * (its windows, its flow control with a slow or stalled reader) shows at a quarter of the size.
 */
class TunnelEndToEndOverH2Test extends TunnelEndToEndTest {
    @Override
    TunnelProtocol.Kind tunnelProtocol() {
        return TunnelProtocol.Kind.H2;
    }

    /** 256 MiB: still 256 times the h2 stream window (1 MiB). */
    @Override
    long bigTransferBytes() {
        return 256 * TunnelFixture.MIB;
    }

    /** 64 KiB/s: the paced path is the same, in 4 s rather than 15 s. */
    @Override
    int slowReaderBytesPerTick() {
        return 16384;
    }

    /** 100 streams at once on one h2 tunnel, of 240 KiB each rather than 2 MiB. */
    @Override
    String concurrentDownloadFile() {
        return "sample.mp4";
    }
}
