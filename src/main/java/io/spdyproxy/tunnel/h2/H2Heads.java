package io.spdyproxy.tunnel.h2;

import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.DefaultHttpHeadersFactory;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Headers;
import io.spdyproxy.tunnel.RequestHead;
import io.spdyproxy.tunnel.ResponseHead;
import java.util.HashSet;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The tunnel's heads as HTTP/2 header blocks (RFC 9113 section 8.3), plus our one extension
 * (docs/PROTOCOL.md, "HTTP/2 tunnels"): HTTP/2 has no {@code Upgrade} (section 8.2.2 makes it a
 * malformed field), so on a session whose peer advertised upgrades a request carries the protocol
 * it asks for in {@code tunnel-upgrade}, and a {@code :status 101} reply the one the app answered
 * with. Stateless.
 */
final class H2Heads {
    static final String UPGRADE = "tunnel-upgrade";

    /** RFC 9113 section 8.2.2 (connection-specific fields) plus the ones the SPDY mapping drops. */
    private static final Set<String> HOP_BY_HOP = Set.of("connection", "keep-alive", "proxy-connection",
            "transfer-encoding", "upgrade", "te", "trailer", "host");

    private H2Heads() {}

    static Http2Headers request(RequestHead head, boolean upgrades) {
        HttpRequest r = head.request();
        Http2Headers h = new DefaultHttp2Headers(false);
        h.method(r.method().name());
        h.path(r.uri());
        h.scheme(head.scheme());
        String host = r.headers().get(HttpHeaderNames.HOST);
        if (host != null && !host.isEmpty()) {
            h.authority(host);
        }
        copyEndToEnd(r.headers(), h);
        String upgrade = upgrades ? head.upgrade() : null;
        if (upgrade != null) {
            h.set(UPGRADE, upgrade);
        }
        return h;
    }

    /**
     * The request a HEADERS frame describes; throws {@link IllegalArgumentException} when it lacks
     * what RFC 9113 section 8.3.1 requires. An upgrade comes back as {@code Connection: upgrade}
     * plus {@code Upgrade}, as the app expects it.
     */
    static HttpRequest toRequest(Http2Headers h, boolean upgrades) {
        CharSequence method = h.method();
        CharSequence path = h.path();
        if (method == null || method.length() == 0 || path == null || path.length() == 0) {
            throw new IllegalArgumentException("missing :method or :path");
        }
        HttpRequest request = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.valueOf(method.toString()),
                path.toString(), new DefaultHttpHeaders());
        HttpHeaders out = request.headers();
        CharSequence authority = h.authority();
        if (authority != null && authority.length() > 0) {
            out.set(HttpHeaderNames.HOST, authority);
        }
        StringBuilder cookies = null;
        for (Map.Entry<CharSequence, CharSequence> e : h) {
            String name = e.getKey().toString();
            if (name.startsWith(":") || HOP_BY_HOP.contains(name) || name.equals(UPGRADE)) {
                continue;
            }
            if (name.equals("cookie")) {
                // RFC 9113 section 8.2.3: split cookie fields are joined with "; " for HTTP/1.1.
                cookies = cookies == null ? new StringBuilder() : cookies.append("; ");
                cookies.append(e.getValue());
                continue;
            }
            out.add(name, e.getValue());
        }
        if (cookies != null) {
            out.set(HttpHeaderNames.COOKIE, cookies.toString());
        }
        CharSequence upgrade = upgrades ? h.get(UPGRADE) : null;
        if (upgrade != null && !upgrade.toString().isBlank()) {
            out.set(HttpHeaderNames.UPGRADE, upgrade);
            out.set(HttpHeaderNames.CONNECTION, HttpHeaderValues.UPGRADE);
        }
        return request;
    }

    static String scheme(Http2Headers h) {
        CharSequence s = h.scheme();
        return s == null || s.length() == 0 ? "https" : s.toString();
    }

    static Http2Headers response(HttpResponse response, boolean upgrades) {
        Http2Headers h = new DefaultHttp2Headers(false);
        h.status(response.status().codeAsText());
        copyEndToEnd(response.headers(), h);
        if (upgrades && response.status().code() == 101) {
            String upgrade = response.headers().get(HttpHeaderNames.UPGRADE);
            if (upgrade != null) {
                h.set(UPGRADE, upgrade);
            }
        }
        return h;
    }

    /**
     * A reply's status and fields exactly as sent, pseudo-fields left out; nothing validated. Our
     * upgrade extension's field comes back as the {@code upgrade} field the SPDY mapping gives.
     */
    static ResponseHead toResponseHead(Http2Headers h) {
        HttpHeaders out = raw();
        for (Map.Entry<CharSequence, CharSequence> e : h) {
            String name = e.getKey().toString();
            if (name.equals(UPGRADE)) {
                out.add(HttpHeaderNames.UPGRADE, e.getValue().toString());
            } else if (!name.startsWith(":")) {
                out.add(name, e.getValue().toString());
            }
        }
        CharSequence status = h.status();
        return new ResponseHead(status == null ? null : status.toString(), out);
    }

    /** Trailers exactly as sent, pseudo-fields included (the receiver refuses them). */
    static HttpHeaders toRawTrailers(Http2Headers h) {
        HttpHeaders out = raw();
        for (Map.Entry<CharSequence, CharSequence> e : h) {
            out.add(e.getKey().toString(), e.getValue().toString());
        }
        return out;
    }

    static Http2Headers trailers(HttpHeaders trailers) {
        Http2Headers h = new DefaultHttp2Headers(false);
        copyEndToEnd(trailers, h);
        return h;
    }

    private static void copyEndToEnd(HttpHeaders from, Http2Headers to) {
        Set<String> connectionTokens = connectionTokens(from);
        for (Map.Entry<String, String> e : from) {
            // RFC 9113 section 8.2: field names are lower case in HTTP/2.
            String name = e.getKey().toLowerCase(Locale.ROOT);
            if (HOP_BY_HOP.contains(name) || connectionTokens.contains(name) || name.equals(UPGRADE)) {
                continue;
            }
            to.add(name, e.getValue());
        }
    }

    private static Set<String> connectionTokens(HttpHeaders headers) {
        Set<String> tokens = new HashSet<>();
        for (String v : headers.getAll(HttpHeaderNames.CONNECTION)) {
            for (String t : v.split(",")) {
                String token = t.trim().toLowerCase(Locale.ROOT);
                if (!token.isEmpty()) {
                    tokens.add(token);
                }
            }
        }
        return tokens;
    }

    private static HttpHeaders raw() {
        return DefaultHttpHeadersFactory.headersFactory().withValidation(false).withNameValidation(false)
                .newHeaders();
    }
}
