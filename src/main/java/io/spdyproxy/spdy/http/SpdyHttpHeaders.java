package io.spdyproxy.spdy.http;

import io.spdyproxy.http.RequestTargets;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.spdy.DefaultSpdyHeaders;
import io.netty.handler.codec.spdy.SpdyHeaders;
import java.util.HashSet;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Maps HTTP/1.1 messages to SPDY/3 header blocks and back (SPDY/3 section 3.2): request
 * pseudo-headers {@code :method :path :version :host :scheme}, response {@code :status
 * :version}, names lower case, hop-by-hop headers dropped.
 */
public final class SpdyHttpHeaders {
    public static final String METHOD = ":method";
    public static final String PATH = ":path";
    public static final String VERSION = ":version";
    public static final String HOST = ":host";
    public static final String SCHEME = ":scheme";
    public static final String STATUS = ":status";

    /** RFC 9110 section 7.6.1 plus the legacy ones SPDY/3 section 3.2.1 names. */
    private static final Set<String> HOP_BY_HOP = Set.of("connection", "keep-alive",
            "proxy-connection", "transfer-encoding", "upgrade", "te", "trailer", "host");

    private SpdyHttpHeaders() {}

    /** A SYN_STREAM header block for {@code request}; the Host header becomes {@code :host}. */
    public static SpdyHeaders fromRequest(HttpRequest request, String scheme) {
        SpdyHeaders h = new DefaultSpdyHeaders(false); // names come lower-cased from valid HTTP headers
        h.set(METHOD, request.method().name());
        h.set(PATH, request.uri());
        h.set(VERSION, "HTTP/1.1");
        String host = request.headers().get(HttpHeaderNames.HOST);
        h.set(HOST, host == null ? "" : host);
        h.set(SCHEME, scheme);
        copyEndToEnd(request.headers(), h);
        return h;
    }

    /**
     * The request a SYN_STREAM describes, its URI a valid request target even when the peer sent
     * the path decoded (see {@link RequestTargets}). Throws {@link IllegalArgumentException} when a
     * required pseudo-header is missing or repeated, which SPDY/3 section 3.2.1 answers with 400.
     */
    public static HttpRequest toRequest(SpdyHeaders h) {
        String method = single(h, METHOD);
        String path = single(h, PATH);
        HttpRequest request = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.valueOf(method),
                RequestTargets.fromSpdyPath(path), new DefaultHttpHeaders());
        copyToHttp(h, request.headers());
        String host = h.getAsString(HOST);
        if (host != null && !host.isEmpty()) {
            request.headers().set(HttpHeaderNames.HOST, host);
        }
        return request;
    }

    public static SpdyHeaders fromResponse(HttpResponse response) {
        SpdyHeaders h = new DefaultSpdyHeaders(false); // names come lower-cased from valid HTTP headers
        HttpResponseStatus status = response.status();
        h.set(STATUS, status.code() + " " + status.reasonPhrase());
        h.set(VERSION, "HTTP/1.1");
        copyEndToEnd(response.headers(), h);
        return h;
    }

    /** The response a SYN_REPLY describes; {@code :status} may be "200" or "200 OK". */
    public static HttpResponse toResponse(SpdyHeaders h) {
        String status = required(h, STATUS).trim();
        int space = status.indexOf(' ');
        int code;
        try {
            code = Integer.parseInt(space < 0 ? status : status.substring(0, space));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(":status: " + status + " (expected: a 3-digit code)");
        }
        if (code < 100 || code > 999) {
            throw new IllegalArgumentException(":status: " + status + " (expected: a 3-digit code)");
        }
        HttpResponseStatus st = space < 0 ? HttpResponseStatus.valueOf(code)
                : new HttpResponseStatus(code, status.substring(space + 1));
        HttpResponse response = new DefaultHttpResponse(HttpVersion.HTTP_1_1, st, new DefaultHttpHeaders());
        copyToHttp(h, response.headers());
        return response;
    }

    /** Trailers (or any further headers) as a HEADERS block. */
    public static SpdyHeaders fromTrailers(HttpHeaders trailers) {
        SpdyHeaders h = new DefaultSpdyHeaders(false); // names come lower-cased from valid HTTP headers
        copyEndToEnd(trailers, h);
        return h;
    }

    public static HttpHeaders toTrailers(SpdyHeaders h) {
        HttpHeaders out = new DefaultHttpHeaders();
        copyToHttp(h, out);
        return out;
    }

    /**
     * A required pseudo-header that must have one value: a NUL inside a header value separates
     * values (SPDY/3 section 2.6.10), so {@code /a\0/b} would otherwise be read as {@code /a}.
     */
    private static String single(SpdyHeaders h, String name) {
        String v = required(h, name);
        if (h.getAll(name).size() > 1) {
            throw new IllegalArgumentException("more than one " + name + " header");
        }
        return v;
    }

    private static String required(SpdyHeaders h, String name) {
        String v = h.getAsString(name);
        if (v == null || v.isEmpty()) {
            throw new IllegalArgumentException("missing " + name + " header");
        }
        return v;
    }

    private static void copyEndToEnd(HttpHeaders from, SpdyHeaders to) {
        Set<String> connectionTokens = connectionTokens(from);
        for (Map.Entry<String, String> e : from) {
            String name = e.getKey().toLowerCase(Locale.ROOT);
            if (HOP_BY_HOP.contains(name) || connectionTokens.contains(name)) {
                continue;
            }
            to.add(name, e.getValue());
        }
    }

    private static void copyToHttp(SpdyHeaders from, HttpHeaders to) {
        for (Map.Entry<CharSequence, CharSequence> e : from) {
            String name = e.getKey().toString();
            if (name.startsWith(":") || HOP_BY_HOP.contains(name)) {
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
}
