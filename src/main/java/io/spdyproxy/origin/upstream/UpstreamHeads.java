package io.spdyproxy.origin.upstream;

import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.EmptyHttpHeaders;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http2.HttpConversionUtil;
import io.spdyproxy.tunnel.TunnelExchange;
import io.spdyproxy.http.RequestTargets;
import java.util.HashSet;
import java.util.Locale;
import java.util.Set;

/** The request head sent to the app for an exchange, and the response head relayed from it. */
final class UpstreamHeads {
    private static final Set<String> HOP_BY_HOP = Set.of("connection", "keep-alive", "proxy-connection",
            "transfer-encoding", "upgrade", "te", "trailer", "proxy-authorization", "proxy-authenticate");

    private UpstreamHeads() {}

    /**
     * The protocol an exchange asks the app to switch to (RFC 9110 section 7.8), or null when it
     * is to be relayed as a plain request. Only a request whose stream stays open after its head
     * can be upgraded (the client's bytes of the new protocol travel on it; docs/PROTOCOL.md,
     * "Upgraded streams"); one that also declares a body is relayed as a plain request, since the
     * stream could not tell the body from the new protocol's bytes.
     */
    static String upgradeOf(TunnelExchange ex) {
        String upgrade = ex.upgrade();
        if (upgrade == null || !ex.requestHasBody()) {
            return null;
        }
        HttpHeaders h = ex.request().headers();
        String length = h.get(HttpHeaderNames.CONTENT_LENGTH);
        if (h.contains(HttpHeaderNames.TRANSFER_ENCODING) || length != null && !length.trim().equals("0")) {
            return null;
        }
        return upgrade;
    }

    /**
     * The request for the app under the base URL's path. Over HTTP/1.1: a keep-alive request, or
     * with {@code upgrade} (see {@link #upgradeOf}) a bodiless request asking to switch to it. Over
     * HTTP/2 ({@code http2}; never with an upgrade): the same end-to-end fields, which the stream's
     * codec turns into a HEADERS frame (Host becomes {@code :authority}, the connection's scheme
     * {@code :scheme}), without the HTTP/1.1 framing and connection fields (RFC 9113 section 8.2.2).
     */
    static HttpRequest request(TunnelExchange ex, UpstreamConfig config, String upgrade, boolean http2) {
        HttpRequest in = ex.request();
        // The exchange's URI is a valid request target already (a path the original proxy sent
        // decoded was escaped): escaping again changes nothing there, and makes sure no space,
        // CR or LF from a peer ever reaches the app's request line (RFC 9112 section 3).
        HttpRequest out = new DefaultHttpRequest(HttpVersion.HTTP_1_1, in.method(),
                config.pathPrefix() + RequestTargets.fromSpdyPath(in.uri()));
        HttpHeaders h = out.headers();
        copyEndToEnd(in.headers(), h);
        String host = in.headers().get(HttpHeaderNames.HOST);
        if (host == null) {
            h.set(HttpHeaderNames.HOST, config.url().getHost() + ":" + config.port());
        }
        // Set from what the proxy passed along: the client's address arrives in X-Forwarded-For.
        if (host != null) {
            h.set("x-forwarded-host", host);
        }
        h.set("x-forwarded-proto", ex.scheme());
        if (http2) {
            if (!ex.requestHasBody()) {
                // Whole in one HEADERS frame with END_STREAM, rather than an empty DATA frame after it.
                h.remove(HttpHeaderNames.CONTENT_LENGTH);
                out = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, out.method(), out.uri(),
                        Unpooled.EMPTY_BUFFER, h, EmptyHttpHeaders.INSTANCE);
                h = out.headers();
            }
            // RFC 9113 section 8.2.2: TE may appear, with "trailers" only. gRPC requires it; the
            // SPDY tunnel does not carry TE (a connection-level field, SPDY/3 section 3.2.1), so a
            // gRPC request (RFC-less, grpc/doc/PROTOCOL-HTTP2.md) gets it back here.
            if (acceptsTrailers(in.headers()) || isGrpc(in.headers())) {
                h.set(HttpHeaderNames.TE, HttpHeaderValues.TRAILERS);
            }
            return out;
        }
        if (upgrade != null) {
            // RFC 9110 section 7.8: Upgrade is hop-by-hop, so it is sent again for this hop, with
            // the Connection option that names it. Whatever the client sends after this head is
            // the new protocol's, relayed once the app answered 101.
            h.remove(HttpHeaderNames.CONTENT_LENGTH);
            h.set(HttpHeaderNames.UPGRADE, upgrade);
            h.set(HttpHeaderNames.CONNECTION, HttpHeaderValues.UPGRADE);
            return out;
        }
        if (ex.requestHasBody() && !h.contains(HttpHeaderNames.CONTENT_LENGTH)) {
            HttpUtil.setTransferEncodingChunked(out, true);
        } else if (!ex.requestHasBody()) {
            h.remove(HttpHeaderNames.CONTENT_LENGTH);
            if (in.method().name().equals("POST") || in.method().name().equals("PUT")) {
                h.set(HttpHeaderNames.CONTENT_LENGTH, 0);
            }
        }
        h.set(HttpHeaderNames.CONNECTION, HttpHeaderValues.KEEP_ALIVE);
        return out;
    }

    private static boolean isGrpc(HttpHeaders h) {
        String type = h.get(HttpHeaderNames.CONTENT_TYPE);
        return type != null && type.toLowerCase(Locale.ROOT).startsWith("application/grpc");
    }

    /** Whether a request's TE field lists "trailers" (RFC 9110 section 10.1.4). */
    private static boolean acceptsTrailers(HttpHeaders h) {
        for (String v : h.getAll(HttpHeaderNames.TE)) {
            for (String t : v.split(",")) {
                String coding = t.trim();
                int semi = coding.indexOf(';');
                if ((semi < 0 ? coding : coding.substring(0, semi)).trim().equalsIgnoreCase("trailers")) {
                    return true;
                }
            }
        }
        return false;
    }

    /**
     * The response head relayed to the client for the app's {@code r}; {@code http2} when it came
     * over HTTP/2, whose conversion added fields of its own ({@code x-http2-stream-id}) that stay here.
     */
    static HttpResponse response(HttpResponse r, boolean http2) {
        HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, r.status());
        copyEndToEnd(r.headers(), head.headers());
        if (http2) {
            for (HttpConversionUtil.ExtensionHeaderNames n : HttpConversionUtil.ExtensionHeaderNames.values()) {
                head.headers().remove(n.text());
            }
        }
        if (r.status().code() == HttpResponseStatus.SWITCHING_PROTOCOLS.code()) {
            // RFC 9110 section 15.2.2: a 101 names the protocol switched to in Upgrade; the
            // tunnel carries it (and only on a 101) to the proxy, which answers its client so.
            String upgrade = r.headers().get(HttpHeaderNames.UPGRADE);
            if (upgrade != null) {
                head.headers().set(HttpHeaderNames.UPGRADE, upgrade);
                head.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.UPGRADE);
            }
        } else if (r.status().code() == HttpResponseStatus.NOT_MODIFIED.code()) {
            // RFC 9110 section 15.4.5: a 304 carries the validators and caching fields, not the
            // representation's metadata. A cache merging a Content-Type from it would relabel the
            // stored file (the original origin put text/html on every reply), and a Content-Length
            // would announce a body this response does not have.
            head.headers().remove(HttpHeaderNames.CONTENT_TYPE);
            head.headers().remove(HttpHeaderNames.CONTENT_LENGTH);
        }
        return head;
    }

    /** Copies all but hop-by-hop headers, including those the Connection header names (RFC 9110 7.6.1). */
    private static void copyEndToEnd(HttpHeaders from, HttpHeaders to) {
        Set<String> named = new HashSet<>();
        for (String v : from.getAll(HttpHeaderNames.CONNECTION)) {
            for (String t : v.split(",")) {
                named.add(t.trim().toLowerCase(Locale.ROOT));
            }
        }
        for (var e : from) {
            String n = e.getKey().toLowerCase(Locale.ROOT);
            if (!HOP_BY_HOP.contains(n) && !named.contains(n)) {
                to.add(e.getKey(), e.getValue());
            }
        }
    }
}
