package io.spdyproxy.observe.metrics;

import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;

/** The request-duration timers' shape: Prometheus histograms with fixed buckets. Stateless. */
final class Timers {
    /**
     * Bucket bounds from 1 ms to 60 s (Prometheus {@code le}): fixed, so that series from every
     * process aggregate, and few, so that each tunnel costs a bounded number of series.
     */
    static final Duration[] BUCKETS = {ms(1), ms(2), ms(5), ms(10), ms(25), ms(50), ms(100), ms(250), ms(500),
        ms(1000), ms(2500), ms(5000), ms(10_000), ms(30_000), ms(60_000)};

    private Timers() {}

    static Timer.Builder histogram(String name, String description, Tags tags) {
        return Timer.builder(name).description(description).tags(tags).serviceLevelObjectives(BUCKETS)
                .minimumExpectedValue(BUCKETS[0]).maximumExpectedValue(BUCKETS[BUCKETS.length - 1]);
    }

    private static Duration ms(long n) {
        return Duration.ofMillis(n);
    }
}
