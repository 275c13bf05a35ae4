package io.spdyproxy.observe.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.util.concurrent.EventExecutor;
import io.spdyproxy.tunnel.RequestHandler;
import io.spdyproxy.tunnel.StreamClosedException;
import io.spdyproxy.tunnel.StreamError;
import io.spdyproxy.tunnel.StreamObserver;
import io.spdyproxy.tunnel.TunnelExchange;
import io.spdyproxy.tunnel.TunnelSession;
import java.util.Locale;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * The origin's Prometheus metrics (its own {@code --admin-port}): the sessions of each connection
 * slot and their reconnects, and the requests this origin served (status class, how they ended,
 * durations, bytes each way, resets, flow-control stalls), plus the process ({@link ProcessMetrics}).
 * Requests are seen through {@link #wrap}, a {@link RequestHandler} decorator that the tunnel
 * session also takes as its {@link StreamObserver.Factory}: each stream gets a small observer that
 * notes its start, its status and its end.
 *
 * <p>Threading: safe from any thread; stream observers are called on their session's loop, except
 * {@code responseSent}, which runs where the handler answers (hence the volatile fields).
 */
public final class OriginMetrics implements AutoCloseable {
    private static final String[] CLASSES = {"none", "1xx", "2xx", "3xx", "4xx", "5xx"};
    private static final String[] OUTCOMES = {"complete", "reset"};
    private static final StreamError[] ERRORS = StreamError.values();

    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final ProcessMetrics process;
    private final MetricsHttp http;
    private final AtomicReferenceArray<Counter> requests = new AtomicReferenceArray<>(CLASSES.length * 2);
    private final AtomicReferenceArray<Counter> resets = new AtomicReferenceArray<>(2 * ERRORS.length);
    private final Timer total;
    private final Timer firstByteTimer;
    private final Counter bytesIn;
    private final Counter bytesOut;
    private final Counter stalls;
    private final Counter connects;
    private final Counter reconnects;
    private final AtomicInteger active = new AtomicInteger();
    /** The session of each slot that has had one (the latest). */
    private final ConcurrentHashMap<Integer, TunnelSession> slots = new ConcurrentHashMap<>();

    /** @param loops the origin's event loops (pending tasks per loop); null for none */
    public OriginMetrics(Iterable<EventExecutor> loops) {
        process = new ProcessMetrics(registry, loops);
        http = new MetricsHttp(registry, "origin-metrics-scrape");
        Tags none = Tags.empty();
        total = Timers.histogram("spdyproxy.origin.request.duration",
                "Requests from their head to the stream's end", none).register(registry);
        firstByteTimer = Timers.histogram("spdyproxy.origin.request.first.byte",
                "Requests from their head to the response head going out", none).register(registry);
        bytesIn = Counter.builder("spdyproxy.origin.received").baseUnit("bytes")
                .description("Request body bytes received through the tunnel").register(registry);
        bytesOut = Counter.builder("spdyproxy.origin.sent").baseUnit("bytes")
                .description("Response body bytes sent through the tunnel").register(registry);
        stalls = Counter.builder("spdyproxy.origin.flow.stalls")
                .description("Streams that had data to send and found the proxy's window (or the connection) full")
                .register(registry);
        connects = Counter.builder("spdyproxy.origin.connects").description("Tunnel sessions established")
                .register(registry);
        reconnects = Counter.builder("spdyproxy.origin.reconnects")
                .description("Sessions of a slot that had one before").register(registry);
        Gauge.builder("spdyproxy.origin.requests.active", active, AtomicInteger::get)
                .description("Requests being served now").register(registry);
    }

    /** Pending tasks of each of {@code loops} (the origin's, known once its client exists). */
    public void eventLoops(Iterable<EventExecutor> loops) {
        process.eventLoops(loops);
    }

    public MeterRegistry registry() {
        return registry;
    }

    public String scrape() {
        return http.scrape();
    }

    void serve(ChannelHandlerContext ctx, FullHttpRequest req) {
        http.serve(ctx, req);
    }

    /** Slot {@code slot}'s session {@code s} is up (see OriginClient's tunnel listener). */
    public void sessionUp(TunnelSession s, int slot) {
        connects.increment();
        if (slots.put(slot, s) != null) {
            reconnects.increment();
        } else {
            Gauge.builder("spdyproxy.origin.sessions", slots, m -> up(m.get(slot))).tag("slot", Integer.toString(slot))
                    .description("1 while the connection slot's tunnel session is up").register(registry);
        }
    }

    private static double up(TunnelSession s) {
        return s != null && s.state() != TunnelSession.State.CLOSED ? 1 : 0;
    }

    /** {@code inner}, counted: the sessions serving it report each stream here. */
    public RequestHandler wrap(RequestHandler inner) {
        return new Counted(inner);
    }

    /** The decorator: hands every request on; the session finds the observer factory on it. */
    private final class Counted implements RequestHandler, StreamObserver.Factory {
        private final RequestHandler inner;

        Counted(RequestHandler inner) {
            this.inner = inner;
        }

        @Override
        public void onRequest(TunnelExchange exchange) {
            inner.onRequest(exchange);
        }

        @Override
        public StreamObserver streamOpened() {
            active.incrementAndGet();
            return new Stream(System.nanoTime());
        }
    }

    /** One stream's start and status. */
    private final class Stream implements StreamObserver {
        private final long start;
        private volatile int status;
        private volatile long firstByte = -1;

        Stream(long start) {
            this.start = start;
        }

        @Override
        public void responseSent(int code) {
            if (firstByte < 0) {
                status = code;
                firstByte = System.nanoTime() - start;
            }
        }

        @Override
        public void sendStalled() {
            stalls.increment();
        }

        @Override
        public void closed(StreamClosedException cause, long sent, long received) {
            active.decrementAndGet();
            int s = status;
            int cls = s >= 100 && s < 600 ? s / 100 : 0;
            int oc = cause == null ? 0 : 1;
            counter(requests, cls * 2 + oc, () -> Counter.builder("spdyproxy.origin.requests")
                    .tag("class", CLASSES[cls]).tag("outcome", OUTCOMES[oc])
                    .description("Requests served, by status class and how their stream ended").register(registry))
                    .increment();
            total.record(System.nanoTime() - start, TimeUnit.NANOSECONDS);
            long fb = firstByte;
            if (fb >= 0) {
                firstByteTimer.record(fb, TimeUnit.NANOSECONDS);
            }
            bytesIn.increment(received);
            bytesOut.increment(sent);
            if (cause != null) {
                int dir = cause.isLocal() ? 0 : 1;
                counter(resets, dir * ERRORS.length + cause.error().ordinal(), () -> Counter
                        .builder("spdyproxy.origin.resets").tag("direction", dir == 0 ? "sent" : "received")
                        .tag("reason", cause.error().name().toLowerCase(Locale.ROOT))
                        .description("Streams that ended abnormally, by who ended them and why").register(registry))
                        .increment();
            }
        }
    }

    private static Counter counter(AtomicReferenceArray<Counter> cache, int i,
            java.util.function.Supplier<Counter> make) {
        Counter c = cache.get(i);
        if (c == null) {
            c = make.get(); // a race registers it twice over: the registry returns the one meter
            cache.set(i, c);
        }
        return c;
    }

    @Override
    public void close() {
        http.close();
        process.close();
        registry.close();
    }
}
