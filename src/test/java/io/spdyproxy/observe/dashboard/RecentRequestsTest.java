package io.spdyproxy.observe.dashboard;

import static org.assertj.core.api.Assertions.assertThat;

import io.spdyproxy.observe.RequestRecord;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** {@link RecentRequests}: a fixed ring, read newest first, that many threads fill at once. */
class RecentRequestsTest {

    static RequestRecord record(String target) {
        return new RequestRecord(1L, "127.0.0.1:1", "t", "HTTP/1.1", "http", "GET", "h", target, null, null, null,
                200, 0, 0, 1, 2, RequestRecord.Outcome.COMPLETE);
    }

    @Test
    void keepsTheNewestAndReadsThemNewestFirst() {
        RecentRequests ring = new RecentRequests();
        assertThat(ring.between(0, ring.lastSeq(), 100)).isEmpty();
        for (int i = 1; i <= 300; i++) {
            ring.add(record("/" + i));
        }
        assertThat(ring.lastSeq()).isEqualTo(300);
        var latest = ring.between(0, 300, 100);
        assertThat(latest).hasSize(100);
        assertThat(latest.get(0).record().target()).isEqualTo("/300");
        assertThat(latest.get(99).record().target()).isEqualTo("/201");
        assertThat(ring.between(295, 300, 100)).extracting(e -> e.seq()).containsExactly(300L, 299L, 298L, 297L, 296L);
        // Asked for more than the ring holds: only what it still has.
        assertThat(ring.between(0, 300, 1000)).hasSize(RecentRequests.CAPACITY);
    }

    @Test
    void concurrentWritersLoseNothingTheRingStillHolds() throws Exception {
        RecentRequests ring = new RecentRequests();
        int threads = 4;
        int each = 10_000;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        CountDownLatch done = new CountDownLatch(threads);
        for (int t = 0; t < threads; t++) {
            pool.execute(() -> {
                for (int i = 0; i < each; i++) {
                    ring.add(record("/x"));
                }
                done.countDown();
            });
        }
        assertThat(done.await(10, TimeUnit.SECONDS)).isTrue();
        pool.shutdown();
        assertThat(ring.lastSeq()).isEqualTo((long) threads * each);
        assertThat(ring.between(0, ring.lastSeq(), 100)).hasSize(100)
                .extracting(e -> e.seq()).startsWith((long) threads * each);
    }
}
