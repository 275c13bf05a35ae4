package io.spdyproxy.proxy.live;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.Executor;
import java.util.concurrent.ForkJoinPool;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

/**
 * The admin API for tunnel tokens, for automation: {@code GET /api/tokens} lists names, {@code
 * POST /api/tokens} with {@code {"name":"..."}} (and {@code "replace":true} to rotate) makes a
 * token and answers it once, {@code DELETE /api/tokens/NAME} revokes. It edits the same tokens
 * file as the {@code token} command and reloads at once, so a revoked tunnel's sessions close
 * before the answer is sent.
 *
 * <p>Every request needs {@code Authorization: Bearer <admin token>} (else 401 with {@code
 * WWW-Authenticate: Bearer}, RFC 6750 section 3). Mutations also need a JSON body type (a
 * cross-site form cannot send one without a CORS preflight, which we never grant) and, when a
 * browser sends {@code Origin}, the admin listener's own origin: the guard against cross-site
 * requests (CSRF) from a page the operator has open.
 *
 * <p>Threading: {@link #serve} is called on the admin channel's loop; the file work runs on
 * {@code blocking} and the answer is written from there (Netty hops onto the loop).
 */
public final class TokenApi {
    private static final Logger log = LoggerFactory.getLogger(TokenApi.class);
    public static final String PATH = "/api/tokens";

    private final LiveTokens tokens;
    private final AdminToken adminToken;
    private final boolean authRequired;
    private final Executor blocking;

    /** @param authRequired false ({@code --auth none}): tokens are not checked, so none are changed */
    public TokenApi(LiveTokens tokens, AdminToken adminToken, boolean authRequired) {
        this(tokens, adminToken, authRequired, ForkJoinPool.commonPool());
    }

    TokenApi(LiveTokens tokens, AdminToken adminToken, boolean authRequired, Executor blocking) {
        this.tokens = tokens;
        this.adminToken = adminToken;
        this.authRequired = authRequired;
        this.blocking = blocking;
    }

    /** Whether {@code path} (without query) is this API's. */
    public static boolean owns(String path) {
        return path.equals(PATH) || path.startsWith(PATH + "/");
    }

    /** The parts of a request the answer needs, copied so the request can be released at once. */
    private record Call(HttpMethod method, String path, String authorization, String contentType, String origin,
            String host, String body) {}

    /** Answers {@code req} on {@code ch}, later; the caller keeps ownership of {@code req}. */
    public void serve(Channel ch, FullHttpRequest req) {
        boolean keepAlive = HttpUtil.isKeepAlive(req);
        Call c = new Call(req.method(), req.uri().split("\\?", 2)[0], req.headers().get(HttpHeaderNames.AUTHORIZATION),
                req.headers().get(HttpHeaderNames.CONTENT_TYPE), req.headers().get(HttpHeaderNames.ORIGIN),
                req.headers().get(HttpHeaderNames.HOST), req.content().toString(StandardCharsets.UTF_8));
        blocking.execute(() -> {
            FullHttpResponse r;
            try {
                r = answer(c);
            } catch (RuntimeException e) {
                log.warn("admin API {} {} failed", c.method(), c.path(), e);
                r = json(HttpResponseStatus.INTERNAL_SERVER_ERROR, error("internal error"));
            }
            HttpUtil.setKeepAlive(r, keepAlive);
            var f = ch.writeAndFlush(r);
            if (!keepAlive) {
                f.addListener(ChannelFutureListener.CLOSE);
            }
        });
    }

    FullHttpResponse answer(Call c) {
        if (!adminToken.accepts(c.authorization())) {
            FullHttpResponse r = json(HttpResponseStatus.UNAUTHORIZED,
                    error("admin token required (Authorization: Bearer ...; see " + adminToken.file() + ")"));
            r.headers().set(HttpHeaderNames.WWW_AUTHENTICATE, "Bearer realm=\"spdy-proxy admin\"");
            return r;
        }
        String name = c.path().length() > PATH.length() + 1 ? c.path().substring(PATH.length() + 1) : null;
        if (c.method().equals(HttpMethod.GET) && name == null) {
            return list();
        }
        if (!authRequired && (c.method().equals(HttpMethod.POST) || c.method().equals(HttpMethod.DELETE))) {
            return json(HttpResponseStatus.CONFLICT, error("authentication is off (--auth none): tokens are not"
                    + " checked, so the API does not change them"));
        }
        if (c.method().equals(HttpMethod.POST) && name == null) {
            String refused = crossSite(c);
            if (refused == null && (c.contentType() == null
                    || !c.contentType().toLowerCase(java.util.Locale.ROOT).startsWith("application/json"))) {
                return json(HttpResponseStatus.UNSUPPORTED_MEDIA_TYPE, error("expected: Content-Type: application/json"));
            }
            return refused != null ? json(HttpResponseStatus.FORBIDDEN, error(refused)) : add(c.body());
        }
        if (c.method().equals(HttpMethod.DELETE) && name != null) {
            String refused = crossSite(c);
            return refused != null ? json(HttpResponseStatus.FORBIDDEN, error(refused)) : revoke(name);
        }
        FullHttpResponse r = json(HttpResponseStatus.METHOD_NOT_ALLOWED,
                error("expected: GET or POST " + PATH + ", DELETE " + PATH + "/NAME"));
        r.headers().set(HttpHeaderNames.ALLOW, name == null ? "GET, POST" : "DELETE");
        return r;
    }

    /** Why a mutating call looks cross-site, or null. */
    private static String crossSite(Call c) {
        if (c.origin() != null && !c.origin().equals("http://" + c.host())) {
            return "cross-origin request refused (Origin: " + c.origin() + ")";
        }
        return null;
    }

    private FullHttpResponse list() {
        StringBuilder b = new StringBuilder("{\"tunnels\":[");
        boolean first = true;
        for (String n : new TreeSet<>(tokens.hashes().keySet())) {
            b.append(first ? "" : ",").append("{\"name\":\"").append(n).append("\",\"source\":\"")
                    .append(tokens.configured(n) ? "config" : "file").append("\"}");
            first = false;
        }
        return json(HttpResponseStatus.OK, b.append("]}\n").toString());
    }

    private FullHttpResponse add(String body) {
        Map<?, ?> fields;
        try {
            Object o = new Yaml(new SafeConstructor(new LoaderOptions())).load(body); // JSON is YAML
            fields = o instanceof Map<?, ?> m ? m : null;
        } catch (RuntimeException e) {
            fields = null;
        }
        if (fields == null || !(fields.get("name") instanceof String name)) {
            return json(HttpResponseStatus.BAD_REQUEST, error("expected a JSON body {\"name\":\"<tunnel name>\"}"));
        }
        boolean replace = Boolean.TRUE.equals(fields.get("replace"));
        if (tokens.configured(name)) {
            return json(HttpResponseStatus.CONFLICT, error("tunnel '" + name
                    + "' has a token from the configuration (--token or YAML); change it there"));
        }
        try {
            String token = tokens.file().add(name, replace);
            tokens.reload();
            log.info("admin API: {} token for tunnel '{}'", replace ? "new" : "added", name);
            return json(HttpResponseStatus.CREATED, "{\"name\":\"" + name + "\",\"token\":\"" + token + "\"}\n");
        } catch (TokensFile.EditException e) {
            return json(e.kind() == TokensFile.EditException.Kind.EXISTS ? HttpResponseStatus.CONFLICT
                    : HttpResponseStatus.BAD_REQUEST, error(e.getMessage()));
        } catch (IOException e) {
            log.warn("admin API: cannot edit {}: {}", tokens.file().path(), e.getMessage());
            return json(HttpResponseStatus.INTERNAL_SERVER_ERROR, error("cannot edit the tokens file: " + e.getMessage()));
        }
    }

    private FullHttpResponse revoke(String name) {
        if (tokens.configured(name)) {
            return json(HttpResponseStatus.CONFLICT, error("tunnel '" + name
                    + "' has a token from the configuration (--token or YAML); remove it there"));
        }
        try {
            tokens.file().revoke(name);
            tokens.reload();
            log.info("admin API: revoked the token of tunnel '{}'", name);
            return new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.NO_CONTENT);
        } catch (TokensFile.EditException e) {
            return json(e.kind() == TokensFile.EditException.Kind.UNKNOWN ? HttpResponseStatus.NOT_FOUND
                    : HttpResponseStatus.BAD_REQUEST, error(e.getMessage()));
        } catch (IOException e) {
            log.warn("admin API: cannot edit {}: {}", tokens.file().path(), e.getMessage());
            return json(HttpResponseStatus.INTERNAL_SERVER_ERROR, error("cannot edit the tokens file: " + e.getMessage()));
        }
    }

    private static String error(String message) {
        return "{\"error\":\"" + message.replace("\\", "\\\\").replace("\"", "\\\"") + "\"}\n";
    }

    private static FullHttpResponse json(HttpResponseStatus status, String body) {
        ByteBuf content = Unpooled.copiedBuffer(body, StandardCharsets.UTF_8);
        FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, content);
        r.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/json");
        r.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, content.readableBytes());
        return r;
    }
}
