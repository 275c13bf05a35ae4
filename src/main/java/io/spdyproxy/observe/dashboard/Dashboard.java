package io.spdyproxy.observe.dashboard;

import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.ScheduledFuture;
import io.spdyproxy.observe.RequestListener;
import io.spdyproxy.observe.RequestRecord;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The live dashboard of the admin listener: the page ({@code /}, {@code /dashboard} and its
 * files), a JSON snapshot ({@code /api/dashboard}) and server-sent events ({@code /api/events}, one
 * snapshot a second with the requests finished since the last). It hears every finished request
 * as a {@link RequestListener} into a fixed ring, and samples the tunnels once a second into rates.
 *
 * <p>Threading: {@link #requestEnded} is called on every client loop and takes no lock;
 * {@link #handle} runs on an admin connection's loop; the sample runs on one executor's thread
 * ({@link #start}), which alone writes {@link #head}.
 */
public final class Dashboard implements RequestListener, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Dashboard.class);
    /** Requests an event or snapshot carries at most. */
    static final int SHOWN = 100;

    private final DashboardSource source;
    private final RecentRequests recent = new RecentRequests();
    private final TunnelTraffic traffic = new TunnelTraffic();
    private final EventStreams streams = new EventStreams();
    /** The last sample's snapshot head (see {@link SnapshotWriter#head}); ticker-written. */
    private volatile String head;
    /** The newest request the last event carried; ticker-only. */
    private long sentSeq;
    private ScheduledFuture<?> ticker;

    public Dashboard(DashboardSource source) {
        this.source = source;
        this.head = SnapshotWriter.head(System.currentTimeMillis(), source, traffic.sample(source.tunnels()));
    }

    /** Samples once a second on {@code executor} from now until {@link #close}. */
    public synchronized Dashboard start(EventExecutor executor) {
        if (ticker == null) {
            ticker = executor.scheduleAtFixedRate(this::tick, 1, 1, TimeUnit.SECONDS);
        }
        return this;
    }

    @Override
    public void requestEnded(RequestRecord record) {
        recent.add(record);
        traffic.count(record);
    }

    /**
     * Answers {@code req} when its path is the dashboard's; false leaves it to the caller. A
     * connection that carries an event stream answers nothing more (true, request dropped).
     */
    public boolean handle(ChannelHandlerContext ctx, FullHttpRequest req) {
        if (EventStreams.isStreaming(ctx.channel())) {
            return true;
        }
        String path = req.uri().split("\\?", 2)[0];
        boolean api = path.equals("/api/dashboard") || path.equals("/api/events");
        Assets.Asset asset = Assets.at(path);
        if (!api && asset == null) {
            return false;
        }
        boolean events = path.equals("/api/events");
        if (!req.method().equals(HttpMethod.GET) && (events || !req.method().equals(HttpMethod.HEAD))) {
            Responses.text(ctx, req, HttpResponseStatus.METHOD_NOT_ALLOWED, req.method() + ": expected GET");
            return true;
        }
        if (asset != null) {
            Responses.send(ctx, req, HttpResponseStatus.OK, asset.type(), asset.body());
        } else if (path.equals("/api/dashboard")) {
            Responses.json(ctx, req, snapshot());
        } else {
            streams.subscribe(ctx, req, snapshot());
        }
        return true;
    }

    /** The last sample with the latest {@value #SHOWN} requests, as {@code /api/dashboard} serves it. */
    public String snapshot() {
        long last = recent.lastSeq();
        return SnapshotWriter.complete(head, recent.between(0, last, SHOWN));
    }

    /** Whether {@code host} may reach the admin listener (see {@link LoopbackHost}). */
    public static boolean hostAllowed(FullHttpRequest req) {
        return LoopbackHost.allows(req.headers().get(HttpHeaderNames.HOST));
    }

    private void tick() {
        try {
            List<TunnelTraffic.Rates> rates = traffic.sample(source.tunnels());
            String h = SnapshotWriter.head(System.currentTimeMillis(), source, rates);
            head = h;
            long last = recent.lastSeq();
            String event = SnapshotWriter.complete(h, recent.between(sentSeq, last, SHOWN));
            sentSeq = last;
            streams.broadcast(event);
        } catch (RuntimeException e) {
            // Never into the loop: the next tick tries again.
            log.warn("dashboard sample failed", e);
        }
    }

    @Override
    public synchronized void close() {
        if (ticker != null) {
            ticker.cancel(false);
        }
        streams.closeAll();
    }
}
