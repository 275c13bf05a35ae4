package io.spdyproxy.origin.inspect;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The inspector's HTTP API and page. Every request must name the inspector itself in its
 * {@code Host} ({@code 127.0.0.1:PORT} or {@code localhost:PORT}): a page on the internet that
 * rebinds its own name to 127.0.0.1 sends its own host name and is refused, so it can read
 * nothing (DNS rebinding). What changes state (replay, clear) also needs the per-start token the
 * page carries, in a header a cross-site form cannot set, and no foreign {@code Origin} (CSRF).
 *
 * <p>Threading: one instance per connection, on its event loop; replies to a replay are written
 * from whichever thread completes it (Netty hops onto the loop).
 */
final class InspectorHandler extends SimpleChannelInboundHandler<FullHttpRequest> {
    private static final Logger log = LoggerFactory.getLogger(InspectorHandler.class);
    static final String TOKEN_HEADER = "X-Inspector-Token";
    private static final Pattern ONE = Pattern.compile("/api/requests/(\\d{1,18})");
    private static final Pattern REPLAY = Pattern.compile("/api/requests/(\\d{1,18})/replay");
    /** How long a replay's answer waits for the replayed exchange to end before answering anyway. */
    private static final Duration REPLAY_WAIT = Duration.ofSeconds(10);

    private final InspectorSite site;
    private final CaptureStore store;
    private final Replayer replayer;

    InspectorHandler(InspectorSite site, CaptureStore store, Replayer replayer) {
        this.site = site;
        this.store = store;
        this.replayer = replayer;
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
        boolean keepAlive = HttpUtil.isKeepAlive(req);
        if (!site.isOwnHost(req.headers().get(HttpHeaderNames.HOST))) {
            send(ctx, keepAlive, HttpResponseStatus.MISDIRECTED_REQUEST, "text/plain; charset=utf-8",
                    "this is the origin's request inspector: address it as http://127.0.0.1:" + site.port() + "/\n");
            return;
        }
        String path = new QueryStringDecoder(req.uri()).path();
        HttpMethod method = req.method();
        try {
            route(ctx, req, keepAlive, path, method);
        } catch (RuntimeException e) {
            log.warn("inspector: {} {} failed", method, path, e);
            send(ctx, keepAlive, HttpResponseStatus.INTERNAL_SERVER_ERROR, "text/plain; charset=utf-8",
                    "inspector error: " + e + "\n");
        }
    }

    private void route(ChannelHandlerContext ctx, FullHttpRequest req, boolean keepAlive, String path,
            HttpMethod method) {
        InspectorSite.Asset asset = site.asset(path);
        if (asset != null) {
            if (!HttpMethod.GET.equals(method) && !HttpMethod.HEAD.equals(method)) {
                notAllowed(ctx, keepAlive, "GET");
                return;
            }
            send(ctx, keepAlive, HttpResponseStatus.OK, asset.contentType(), asset.bytes());
            return;
        }
        if (path.equals("/api/requests")) {
            if (HttpMethod.GET.equals(method)) {
                list(ctx, req, keepAlive);
            } else if (HttpMethod.DELETE.equals(method)) {
                if (authorized(ctx, req, keepAlive)) {
                    store.clear();
                    send(ctx, keepAlive, HttpResponseStatus.NO_CONTENT, null, new byte[0]);
                }
            } else {
                notAllowed(ctx, keepAlive, "GET, DELETE");
            }
            return;
        }
        Matcher one = ONE.matcher(path);
        if (one.matches()) {
            if (!HttpMethod.GET.equals(method)) {
                notAllowed(ctx, keepAlive, "GET");
                return;
            }
            Capture c = store.get(Long.parseLong(one.group(1)));
            if (c == null) {
                error(ctx, keepAlive, HttpResponseStatus.NOT_FOUND, "request " + one.group(1) + " is not kept");
            } else {
                json(ctx, keepAlive, HttpResponseStatus.OK, CaptureJson.detail(c));
            }
            return;
        }
        Matcher replay = REPLAY.matcher(path);
        if (replay.matches()) {
            if (!HttpMethod.POST.equals(method)) {
                notAllowed(ctx, keepAlive, "POST");
            } else if (authorized(ctx, req, keepAlive)) {
                replay(ctx, req, keepAlive, Long.parseLong(replay.group(1)));
            }
            return;
        }
        error(ctx, keepAlive, HttpResponseStatus.NOT_FOUND, "no such page: " + path);
    }

    private void list(ChannelHandlerContext ctx, FullHttpRequest req, boolean keepAlive) {
        String since = new QueryStringDecoder(req.uri()).parameters().getOrDefault("since", java.util.List.of(""))
                .get(0);
        long version = store.version();
        if (since.equals(Long.toString(version))) { // nothing new: the page's poll costs a few bytes
            json(ctx, keepAlive, HttpResponseStatus.OK,
                    new Json().beginObject().field("version", version).field("unchanged", true).endObject().toString());
            return;
        }
        json(ctx, keepAlive, HttpResponseStatus.OK,
                CaptureJson.list(store.newestFirst(), store.version(), store.size(), store.bytes()));
    }

    private void replay(ChannelHandlerContext ctx, FullHttpRequest req, boolean keepAlive, long id) {
        Replayer.Edits edits;
        try {
            edits = ReplayRequest.parse(req.content().toString(StandardCharsets.UTF_8));
        } catch (IllegalArgumentException e) {
            error(ctx, keepAlive, HttpResponseStatus.BAD_REQUEST, e.getMessage());
            return;
        }
        try {
            replayer.replay(id, edits)
                    .thenCompose(c -> c.done.completeOnTimeout(c, REPLAY_WAIT.toMillis(), TimeUnit.MILLISECONDS))
                    .whenComplete((c, e) -> {
                        if (e != null) {
                            error(ctx, keepAlive, HttpResponseStatus.INTERNAL_SERVER_ERROR, "replay failed: " + e);
                        } else {
                            json(ctx, keepAlive, HttpResponseStatus.OK, CaptureJson.detail(c));
                        }
                    });
        } catch (Replayer.RefusedException e) {
            error(ctx, keepAlive, HttpResponseStatus.CONFLICT, e.getMessage());
        }
    }

    /** The token matches and the request comes from the inspector's own page, if it says where from. */
    private boolean authorized(ChannelHandlerContext ctx, FullHttpRequest req, boolean keepAlive) {
        String origin = req.headers().get(HttpHeaderNames.ORIGIN);
        if (origin != null && !site.isOwnOrigin(origin)) {
            error(ctx, keepAlive, HttpResponseStatus.FORBIDDEN, "cross-site request refused (Origin: " + origin + ")");
            return false;
        }
        String token = req.headers().get(TOKEN_HEADER);
        if (token == null || !MessageDigest.isEqual(token.getBytes(StandardCharsets.UTF_8),
                site.token().getBytes(StandardCharsets.UTF_8))) {
            error(ctx, keepAlive, HttpResponseStatus.FORBIDDEN, "missing or wrong " + TOKEN_HEADER
                    + " (the inspector's page sends it; it changes at every start)");
            return false;
        }
        return true;
    }

    private void notAllowed(ChannelHandlerContext ctx, boolean keepAlive, String allow) {
        FullHttpResponse res = response(HttpResponseStatus.METHOD_NOT_ALLOWED, "application/json",
                ("{\"error\":\"method not allowed (expected: " + allow + ")\"}").getBytes(StandardCharsets.UTF_8));
        res.headers().set(HttpHeaderNames.ALLOW, allow);
        write(ctx, keepAlive, res);
    }

    private void error(ChannelHandlerContext ctx, boolean keepAlive, HttpResponseStatus status, String message) {
        json(ctx, keepAlive, status, new Json().beginObject().field("error", message).endObject().toString());
    }

    private void json(ChannelHandlerContext ctx, boolean keepAlive, HttpResponseStatus status, String body) {
        send(ctx, keepAlive, status, "application/json", body);
    }

    private void send(ChannelHandlerContext ctx, boolean keepAlive, HttpResponseStatus status, String type,
            String body) {
        send(ctx, keepAlive, status, type, body.getBytes(StandardCharsets.UTF_8));
    }

    private void send(ChannelHandlerContext ctx, boolean keepAlive, HttpResponseStatus status, String type,
            byte[] body) {
        write(ctx, keepAlive, response(status, type, body));
    }

    private static FullHttpResponse response(HttpResponseStatus status, String type, byte[] body) {
        ByteBuf content = body.length == 0 ? Unpooled.EMPTY_BUFFER : Unpooled.wrappedBuffer(body);
        FullHttpResponse res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, content);
        if (type != null) {
            res.headers().set(HttpHeaderNames.CONTENT_TYPE, type);
        }
        res.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, body.length)
                .set(HttpHeaderNames.CACHE_CONTROL, "no-store")
                .set("X-Content-Type-Options", "nosniff")
                .set("X-Frame-Options", "DENY") // no clickjacking of the replay button
                .set("Referrer-Policy", "no-referrer")
                .set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'");
        return res;
    }

    private static void write(ChannelHandlerContext ctx, boolean keepAlive, FullHttpResponse res) {
        if (!keepAlive) {
            ctx.writeAndFlush(res).addListener(ChannelFutureListener.CLOSE);
        } else {
            HttpUtil.setKeepAlive(res, true);
            ctx.writeAndFlush(res);
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        log.debug("inspector connection failed", cause);
        ctx.close();
    }
}
