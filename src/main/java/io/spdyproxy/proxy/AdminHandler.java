package io.spdyproxy.proxy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.spdyproxy.observe.dashboard.Dashboard;
import io.spdyproxy.observe.metrics.ProxyMetrics;
import io.spdyproxy.proxy.live.TokenApi;
import io.spdyproxy.tunnel.SessionStats;
import io.spdyproxy.tunnel.Tunnel;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * The status endpoint (the original's {@code /debug} counters, as JSON): {@code GET /debug} or
 * {@code /status} lists tunnels with their streams and the front end's counters. The dashboard
 * ({@link Dashboard}) answers its own paths. A request whose Host is not a loopback name gets 403
 * (DNS rebinding).
 *
 * <p>Threading: Netty calls it on its channel's event loop; it only reads thread-safe state.
 */
final class AdminHandler extends SimpleChannelInboundHandler<FullHttpRequest> {
    private final ProxyContext px;
    private final ProxyMetrics metrics;
    private final TokenApi tokenApi;
    private final Dashboard dashboard;

    AdminHandler(ProxyContext px) {
        this(px, null, null, null);
    }

    /**
     * With the token API ({@code /api/tokens}), the dashboard and {@code /metrics}; each is left
     * out when null.
     */
    AdminHandler(ProxyContext px, TokenApi tokenApi, Dashboard dashboard, ProxyMetrics metrics) {
        this.px = px;
        this.tokenApi = tokenApi;
        this.dashboard = dashboard;
        this.metrics = metrics;
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
        String path = req.uri().split("\\?", 2)[0];
        FullHttpResponse r;
        if (!Dashboard.hostAllowed(req)) {
            r = json(HttpResponseStatus.FORBIDDEN,
                    "{\"error\":\"Host must name loopback (localhost, 127.0.0.1, [::1])\"}\n");
        } else if (tokenApi != null && TokenApi.owns(path)) {
            tokenApi.serve(ctx.channel(), req); // answers once the file work is done, off the loop
            return;
        } else if (metrics != null && path.equals("/metrics")) {
            metrics.serve(ctx, req); // Prometheus text format, scraped off the event loop
            return;
        } else if (dashboard != null && dashboard.handle(ctx, req)) {
            return;
        } else if (path.equals("/debug") || path.equals("/status") || (dashboard == null && path.equals("/"))) {
            if (req.uri().contains("gc=true")) {
                System.gc(); // for benchmarks: heap figures after a collection
            }
            r = json(HttpResponseStatus.OK, status());
        } else {
            r = json(HttpResponseStatus.NOT_FOUND, "{\"error\":\"not found\"}\n");
        }
        boolean keepAlive = HttpUtil.isKeepAlive(req);
        HttpUtil.setKeepAlive(r, keepAlive);
        var f = ctx.writeAndFlush(r);
        if (!keepAlive) {
            f.addListener(ChannelFutureListener.CLOSE);
        }
    }

    String status() {
        ProxyStats st = px.stats();
        StringBuilder b = new StringBuilder(512);
        b.append("{\"connections\":").append(st.connections())
                .append(",\"connectionsTotal\":").append(st.connectionsTotal())
                .append(",\"requestsInFlight\":").append(st.requestsInFlight())
                .append(",\"requestsTotal\":").append(st.requestsTotal())
                .append(",\"bytesToClients\":").append(st.bytesToClients())
                .append(",\"heapUsedBytes\":").append(heapUsed())
                .append(",\"tunnelCount\":").append(px.registry().all().size())
                .append(",\"errors\":{");
        boolean first = true;
        for (var e : st.errors().entrySet()) {
            b.append(first ? "" : ",").append('"').append(e.getKey()).append("\":").append(e.getValue());
            first = false;
        }
        b.append("},\"tunnels\":[");
        List<Tunnel> tunnels = px.registry().all();
        for (int i = 0; i < tunnels.size(); i++) {
            Tunnel t = tunnels.get(i);
            SessionStats s = t.session().stats();
            b.append(i == 0 ? "" : ",").append("{\"name\":\"").append(t.name())
                    .append("\",\"remote\":\"").append(t.remote()).append('"')
                    .append(",\"legacy\":").append(t.legacy())
                    .append(",\"state\":\"").append(t.session().state()).append('"')
                    .append(",\"streamsInFlight\":").append(s.activeStreams())
                    .append(",\"streamsTotal\":").append(s.streamsOpened())
                    .append(",\"bytesFromOrigin\":").append(s.dataBytesReceived())
                    .append(",\"bytesToOrigin\":").append(s.dataBytesSent()).append('}');
        }
        return b.append("]}\n").toString();
    }

    private static long heapUsed() {
        Runtime rt = Runtime.getRuntime();
        return rt.totalMemory() - rt.freeMemory();
    }

    private static FullHttpResponse json(HttpResponseStatus status, String body) {
        ByteBuf content = Unpooled.copiedBuffer(body, StandardCharsets.UTF_8);
        FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, content);
        r.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/json");
        r.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, content.readableBytes());
        return r;
    }
}
