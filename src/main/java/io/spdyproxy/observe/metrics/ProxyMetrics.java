package io.spdyproxy.observe.metrics;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.util.concurrent.EventExecutor;
import io.spdyproxy.observe.RequestListener;
import io.spdyproxy.observe.RequestRecord;
import io.spdyproxy.tunnel.Tunnel;
import io.spdyproxy.tunnel.TunnelSession;
import java.time.Duration;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.LongSupplier;

/**
 * The proxy's Prometheus metrics (served as {@code /metrics} on the admin listener): per tunnel
 * name, what its sessions and requests did ({@link TunnelMeters}); per listener, the connections
 * open; per process, the JVM and Netty ({@link ProcessMetrics}).
 *
 * <p>Tunnel names are chosen by origins (any name with {@code --auth none}), so the {@code tunnel}
 * tag is bounded: at most {@link #MAX_TUNNEL_TAGS} names have their own series, further names count
 * as {@code _other}; a name's series go {@link #RETENTION} after its last session closed (so
 * names that come and go do not fill the cap for ever, and a short reconnect keeps its counters).
 * Requests that reached no connected tunnel count as {@code _none}.
 *
 * <p>Threading: {@link #requestEnded} and the stream observers run on event loops, lock-free;
 * {@link #tunnelUp} and the retention sweep take a lock (sessions come and go rarely).
 */
public final class ProxyMetrics implements RequestListener, AutoCloseable {
    /** The most tunnel names with series of their own. */
    public static final int MAX_TUNNEL_TAGS = 1000;
    /** How long a name's series outlive its last session. */
    public static final Duration RETENTION = Duration.ofMinutes(10);
    static final String OTHER = "_other";
    static final String NONE = "_none";

    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final Map<String, TunnelMeters> byName = new ConcurrentHashMap<>();
    private final TunnelMeters other;
    private final TunnelMeters none;
    private final ProcessMetrics process;
    private final MetricsHttp http;
    private final long retentionNanos;

    /** @param loops the proxy's event loops (pending tasks per loop) */
    public ProxyMetrics(Iterable<EventExecutor> loops) {
        this(loops, RETENTION);
    }

    ProxyMetrics(Iterable<EventExecutor> loops, Duration retention) {
        this.retentionNanos = retention.toNanos();
        this.process = new ProcessMetrics(registry, loops);
        this.other = new TunnelMeters(OTHER, registry);
        this.none = new TunnelMeters(NONE, registry);
        this.http = new MetricsHttp(registry, "metrics-scrape");
    }

    public MeterRegistry registry() {
        return registry;
    }

    /** The Prometheus text exposition now. */
    public String scrape() {
        sweep();
        return http.scrape();
    }

    /** Answers a request for {@code /metrics} (the caller keeps ownership of {@code req}). */
    public void serve(ChannelHandlerContext ctx, FullHttpRequest req) {
        sweep();
        http.serve(ctx, req);
    }

    /** Counts tunnel {@code t} from now until its session closes; call before it takes requests. */
    public void tunnelUp(Tunnel t) {
        TunnelSession s = t.session();
        TunnelMeters m;
        synchronized (this) {
            sweep();
            m = byName.get(t.name());
            if (m == null) {
                if (byName.size() < MAX_TUNNEL_TAGS) {
                    m = new TunnelMeters(t.name(), registry);
                    byName.put(t.name(), m);
                } else {
                    m = other;
                }
            }
            m.sessionUp(s);
        }
        s.observe(m);
        TunnelMeters meters = m;
        s.closeFuture().whenComplete((v, e) -> {
            synchronized (this) {
                meters.sessionDown(s);
            }
        });
    }

    @Override
    public void requestEnded(RequestRecord r) {
        TunnelMeters m = r.tunnel() == null ? none : byName.getOrDefault(r.tunnel(), other);
        m.request(r);
    }

    /** Drops the series of names idle for longer than the retention. */
    private synchronized void sweep() {
        long now = System.nanoTime();
        for (Iterator<TunnelMeters> it = byName.values().iterator(); it.hasNext();) {
            TunnelMeters m = it.next();
            long idle = m.idleSince;
            if (idle != 0 && now - idle >= retentionNanos) {
                it.remove();
                m.remove();
            }
        }
    }

    /**
     * {@code init} with the connections it sets up counted as {@code spdyproxy_connections_open}
     * and {@code spdyproxy_connections_total}, tag {@code listener}.
     */
    public ChannelHandler counting(String listener, ChannelHandler init) {
        AtomicInteger open = new AtomicInteger();
        java.util.concurrent.atomic.LongAdder total = new java.util.concurrent.atomic.LongAdder();
        Gauge.builder("spdyproxy.connections.open", open, AtomicInteger::get).tag("listener", listener)
                .description("Connections open now on a listener").register(registry);
        FunctionCounter.builder("spdyproxy.connections", total, java.util.concurrent.atomic.LongAdder::sum)
                .tag("listener", listener).description("Connections accepted on a listener").register(registry);
        return new ChannelInitializer<Channel>() {
            @Override
            protected void initChannel(Channel ch) {
                open.incrementAndGet();
                total.increment();
                ch.closeFuture().addListener(f -> open.decrementAndGet());
                ch.pipeline().addLast(init);
            }
        };
    }

    /** Exposes {@code count} as the counter {@code name} (for instance the access log's dropped lines). */
    public void counter(String name, String description, LongSupplier count) {
        FunctionCounter.builder(name, count, LongSupplier::getAsLong).description(description).register(registry);
    }

    @Override
    public void close() {
        http.close();
        process.close();
        registry.close();
    }
}
