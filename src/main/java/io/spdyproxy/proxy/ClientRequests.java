package io.spdyproxy.proxy;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.spdyproxy.tunnel.handshake.TunnelProtocol;
import java.net.URI;
import java.net.URISyntaxException;
import java.util.List;
import java.util.Locale;

/**
 * Checks a client's request head before it is routed (Netty's decoder already refused what breaks
 * HTTP/1.1 framing: conflicting lengths, a final coding other than chunked, bad chunk sizes), and
 * sets the {@code X-Forwarded-*} headers the origin sees.
 *
 * <p>Stateless.
 */
final class ClientRequests {
    private ClientRequests() {}

    /** Why a request is refused before it reaches a tunnel. */
    record Refusal(HttpResponseStatus status, String message) {}

    /**
     * Null when {@code request} may be forwarded, else why not. Normalizes an absolute-form target
     * ({@code GET http://host/path}) to origin form with its authority as the Host, as RFC 9112
     * section 3.2.2 requires, so the host that routes is the host the origin sees.
     */
    static Refusal check(HttpRequest request) {
        HttpHeaders h = request.headers();
        if (h.contains(TunnelProtocol.PROTOCOL_HEADER)) {
            // An origin pointed at the front end: its handshake carries its token, which must
            // never be forwarded to whichever origin serves this host.
            return new Refusal(HttpResponseStatus.BAD_REQUEST,
                    "this is the proxy's client port; origins connect to its --tunnel-port");
        }
        if (request.method().equals(HttpMethod.CONNECT)) {
            return new Refusal(HttpResponseStatus.METHOD_NOT_ALLOWED, "CONNECT is not supported by this proxy");
        }
        String uri = request.uri();
        if (!uri.startsWith("/") && !uri.equals("*")) {
            String authority;
            try {
                URI u = new URI(uri);
                String scheme = u.getScheme() == null ? "" : u.getScheme().toLowerCase(Locale.ROOT);
                if (!scheme.equals("http") && !scheme.equals("https") || u.getRawAuthority() == null
                        || u.getRawUserInfo() != null) {
                    return new Refusal(HttpResponseStatus.BAD_REQUEST, "request target must be a path or an http(s) URL");
                }
                authority = u.getRawAuthority();
                String path = u.getRawPath() == null || u.getRawPath().isEmpty() ? "/" : u.getRawPath();
                request.setUri(u.getRawQuery() == null ? path : path + "?" + u.getRawQuery());
            } catch (URISyntaxException e) {
                return new Refusal(HttpResponseStatus.BAD_REQUEST, "malformed request target");
            }
            h.set(HttpHeaderNames.HOST, authority);
        }
        List<String> hosts = h.getAll(HttpHeaderNames.HOST);
        if (hosts.size() > 1) {
            return new Refusal(HttpResponseStatus.BAD_REQUEST, "more than one Host header");
        }
        if (hosts.isEmpty()) {
            if (!request.protocolVersion().equals(HttpVersion.HTTP_1_0)) {
                // RFC 9112 section 3.2: a server MUST answer 400 to an HTTP/1.1 request without Host.
                return new Refusal(HttpResponseStatus.BAD_REQUEST, "missing Host header");
            }
        } else if (!validHost(hosts.get(0))) {
            return new Refusal(HttpResponseStatus.BAD_REQUEST, "malformed Host header");
        }
        String te = h.get(HttpHeaderNames.TRANSFER_ENCODING);
        if (te != null && !te.trim().equalsIgnoreCase("chunked")) {
            // RFC 9112 section 6.1: an unknown transfer coding gets 501; forwarding the body with
            // its coding stripped would hand the app bytes it cannot interpret.
            return new Refusal(HttpResponseStatus.NOT_IMPLEMENTED, "Transfer-Encoding " + te + " is not supported");
        }
        return null;
    }


    /**
     * The expectation in {@code request}'s {@code Expect} that the proxy cannot meet, answered with
     * 417 (RFC 9110 section 10.1.1), or null: none, {@code 100-continue}, or an HTTP/1.0 request
     * (which has no Expect).
     */
    static String unmetExpectation(HttpRequest request) {
        String expect = request.headers().get(HttpHeaderNames.EXPECT);
        if (expect == null || HttpHeaderValues.CONTINUE.contentEqualsIgnoreCase(expect.trim())
                || request.protocolVersion().equals(HttpVersion.HTTP_1_0)) {
            return null;
        }
        return expect;
    }
    /**
     * Sets {@code X-Forwarded-For}, {@code -Proto} and {@code -Host} on the outgoing block. A
     * client's own {@code X-Forwarded-*} and {@code Forwarded} headers are dropped unless the proxy
     * sits behind a load balancer it trusts, since anyone can write them.
     */
    static HttpRequest forwarded(HttpRequest request, String clientAddress, String scheme, boolean trusted) {
        HttpRequest copy = new DefaultHttpRequest(request.protocolVersion(), request.method(), request.uri(),
                request.headers().copy());
        forwardedHeaders(copy.headers(), request, clientAddress, scheme, trusted);
        return copy;
    }

    private static void forwardedHeaders(HttpHeaders out, HttpRequest request, String clientAddress, String scheme,
            boolean trusted) {
        String prior = null;
        if (trusted) {
            List<String> all = request.headers().getAll("X-Forwarded-For");
            prior = all.isEmpty() ? null : String.join(", ", all);
        } else {
            out.remove("x-forwarded-proto");
            out.remove("x-forwarded-host");
            out.remove("x-forwarded-port");
            out.remove("x-real-ip");
            out.remove("forwarded");
        }
        out.set("x-forwarded-for", prior == null ? clientAddress : prior + ", " + clientAddress);
        if (!trusted || !out.contains("x-forwarded-proto")) {
            out.set("x-forwarded-proto", scheme);
        }
        String host = request.headers().get(HttpHeaderNames.HOST);
        if (host != null && (!trusted || !out.contains("x-forwarded-host"))) {
            out.set("x-forwarded-host", host);
        }
    }

    /** reg-name, IPv4 or [IPv6], with an optional port (RFC 9110 section 7.2, RFC 3986 3.2.2). */
    private static boolean validHost(String host) {
        if (host.isEmpty()) {
            return true; // allowed when the target URI has no authority (RFC 9112 section 3.2)
        }
        for (int i = 0; i < host.length(); i++) {
            char c = host.charAt(i);
            boolean ok = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
                    || "-._~!$&'()*+,;=:[]%".indexOf(c) >= 0;
            if (!ok) {
                return false;
            }
        }
        return true;
    }
}
