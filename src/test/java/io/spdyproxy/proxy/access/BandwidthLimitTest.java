package io.spdyproxy.proxy.access;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.OutputStream;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A tunnel's bandwidth limit end to end. It works through backpressure: a download's stream is
 * not consumed while the bucket is empty, so its window closes and the origin stops producing; an
 * upload's client socket is not read. Timing is asserted only from below (a transfer cannot be
 * faster than the rate allows, minus what the windows and the burst let through at once).
 */
@Timeout(60)
class BandwidthLimitTest {
    private static final int KIB = 1024;
    /** The proxy's initial stream receive window for a tunnel stream, and the origin's send queue. */
    private static final int WINDOW = 256 * KIB;

    @TempDir
    Path tmp;
    private AccessBed bed;

    @AfterEach
    void tearDown() throws Exception {
        if (bed != null) {
            bed.close();
        }
    }

    @Test
    void aDownloadTakesAtLeastItsSizeOverTheRate() throws Exception {
        int rate = 1024 * KIB;
        int burst = 32 * KIB;
        int n = 1536 * KIB;
        bed = new AccessBed(tmp, "tunnels:\n  alpha: { bandwidth: { bytesPerSecond: " + rate + ", burst: " + burst
                + " } }\n", c -> c);
        bed.origin("alpha");
        bed.origin("beta");
        try (RawHttp c = new RawHttp(bed.port())) {
            // The same download from a tunnel without a limit: it passes (and warms the JIT up).
            assertThat(c.get("beta.test", "/bytes?n=" + n / 2).body()).hasSize(n / 2);

            c.send("GET", "alpha.test", "/bytes?n=" + n);
            assertThat(c.readHead().status()).isEqualTo(200);
            int first = 64 * KIB;
            c.in.readNBytes(first);
            long start = System.nanoTime();
            int rest = c.in.readNBytes(n - first).length;
            double seconds = (System.nanoTime() - start) / 1e9;
            assertThat(rest).isEqualTo(n - first);
            // From any moment on, the client can get at most what is in flight (one stream
            // window) plus the burst plus what the rate refills: a lower bound whatever the
            // machine's speed before that moment.
            double least = (double) (rest - WINDOW - burst) / rate;
            assertThat(seconds).as("%d bytes at %d B/s", rest, rate).isGreaterThanOrEqualTo(0.9 * least);
        }
    }

    @Test
    void aSlowTunnelHoldsItsOriginBackWhileAnotherTunnelRunsFree() throws Exception {
        bed = new AccessBed(tmp, "tunnels:\n  alpha: { bandwidth: { bytesPerSecond: \"32KiB/s\", burst: 16KiB } }\n",
                c -> c);
        AccessBed.Origin alpha = bed.origin("alpha");
        AccessBed.Origin beta = bed.origin("beta");
        long wanted = 64L * 1024 * KIB;
        try (RawHttp slow = new RawHttp(bed.port()); RawHttp fast = new RawHttp(bed.port())) {
            slow.send("GET", "alpha.test", "/bytes?n=" + wanted);
            assertThat(slow.readHead().status()).isEqualTo(200);
            // The origin fills the windows, then its stream stays full: nothing more is taken from it.
            assertThat(alpha.blocked.await(10, TimeUnit.SECONDS)).isTrue();
            long received = slow.in.readNBytes(WINDOW).length;

            // Meanwhile the other tunnel's download runs at full speed: 2 MiB while alpha gets a few KiB.
            int big = 2 * 1024 * KIB;
            RawHttp.Response other = fast.get("beta.test", "/bytes?n=" + big);
            assertThat(other.body()).hasSize(big);
            assertThat(beta.produced.get()).isEqualTo(big);

            // Beta's transfer took a while: alpha's origin still has not been let past its windows.
            long produced = alpha.produced.get();
            assertThat(produced).as("bytes the origin produced, of the %d it wanted to send", wanted)
                    .isLessThanOrEqualTo(received + WINDOW);
        }
    }

    @Test
    void anUploadIsReadNoFasterThanTheRate() throws Exception {
        int rate = 1024 * KIB;
        int n = 1024 * KIB;
        bed = new AccessBed(tmp, "tunnels:\n  alpha: { bandwidth: { bytesPerSecond: 1MiB, burst: 32KiB } }\n", c -> c);
        bed.origin("alpha");
        try (RawHttp c = new RawHttp(bed.port())) {
            long start = System.nanoTime();
            c.send("POST", "alpha.test", "/upload", "Content-Length: " + n);
            OutputStream out = c.out;
            byte[] chunk = new byte[64 * KIB];
            for (int sent = 0; sent < n; sent += chunk.length) {
                out.write(chunk);
            }
            out.flush();
            RawHttp.Response r = c.read();
            double seconds = (System.nanoTime() - start) / 1e9;
            assertThat(r.text()).isEqualTo("got " + n);
            // Socket buffers on the way hold some; the proxy reads one chunk ahead of the bucket.
            double least = (double) (n - 32 * KIB - 64 * KIB - WINDOW) / rate;
            assertThat(seconds).isGreaterThanOrEqualTo(0.9 * least);
        }
    }

    @Test
    void anUpgradedPipeIsPacedToo() throws Exception {
        int rate = 512 * KIB;
        int burst = 16 * KIB;
        int n = 1024 * KIB;
        bed = new AccessBed(tmp, "tunnels:\n  alpha: { bandwidth: { bytesPerSecond: " + rate + ", burst: " + burst
                + " } }\n", c -> c);
        bed.origin("alpha");
        try (RawHttp c = new RawHttp(bed.port())) {
            c.send("GET", "alpha.test", "/echo", "Connection: Upgrade", "Upgrade: echo");
            assertThat(c.readHead().status()).isEqualTo(101);
            Thread writer = new Thread(() -> {
                try {
                    byte[] chunk = new byte[16 * KIB];
                    for (int sent = 0; sent < n; sent += chunk.length) {
                        c.out.write(chunk);
                    }
                    c.out.flush();
                } catch (java.io.IOException e) {
                    // the test fails on the read side
                }
            }, "echo-writer");
            writer.start();
            int first = 64 * KIB;
            c.in.readNBytes(first);
            long start = System.nanoTime();
            int rest = c.in.readNBytes(n - first).length;
            double seconds = (System.nanoTime() - start) / 1e9;
            writer.join(10_000);
            assertThat(rest).isEqualTo(n - first);
            // Each direction has its bucket; the echo is bounded by either. In flight at the start:
            // at most a stream window, the burst and the chunk the proxy read ahead.
            double least = (double) (rest - WINDOW - burst - 64 * KIB) / rate;
            assertThat(seconds).isGreaterThanOrEqualTo(0.9 * least);
        }
    }
}
