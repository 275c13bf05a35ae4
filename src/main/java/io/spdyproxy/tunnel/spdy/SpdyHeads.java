package io.spdyproxy.tunnel.spdy;

import io.netty.handler.codec.http.DefaultHttpHeadersFactory;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.spdy.SpdyHeaders;
import io.spdyproxy.spdy.http.SpdyHttpHeaders;
import io.spdyproxy.tunnel.RequestHead;
import io.spdyproxy.tunnel.ResponseHead;
import java.util.Map;

/**
 * The tunnel's heads in SPDY/3 header blocks (SPDY/3 section 3.2, through {@link SpdyHttpHeaders}),
 * plus our one extension (docs/PROTOCOL.md, "Upgraded streams"): on a session whose peer
 * advertised upgrades, a request keeps its {@code upgrade} field, and a {@code 101} reply keeps
 * the {@code upgrade} field the app answered with. Stateless.
 */
final class SpdyHeads {
    static final String UPGRADE = "upgrade";

    private SpdyHeads() {}

    static SpdyHeaders request(RequestHead head, boolean upgrades) {
        SpdyHeaders h = SpdyHttpHeaders.fromRequest(head.request(), head.scheme());
        String upgrade = upgrades ? head.upgrade() : null;
        if (upgrade != null) {
            h.set(UPGRADE, upgrade);
        }
        return h;
    }

    /**
     * The request a SYN_STREAM describes; throws {@link IllegalArgumentException} when it lacks
     * what SPDY/3 section 3.2.1 requires. An upgrade comes back as {@code Connection: upgrade}
     * plus {@code Upgrade}, as the app expects it.
     */
    static HttpRequest toRequest(SpdyHeaders h, boolean upgrades) {
        HttpRequest request = SpdyHttpHeaders.toRequest(h);
        String upgrade = upgrades ? h.getAsString(UPGRADE) : null;
        if (upgrade != null && !upgrade.isBlank()) {
            request.headers().set(HttpHeaderNames.UPGRADE, upgrade);
            request.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.UPGRADE);
        }
        return request;
    }

    static String scheme(SpdyHeaders h) {
        String s = h.getAsString(SpdyHttpHeaders.SCHEME);
        return s == null || s.isEmpty() ? "https" : s;
    }

    static SpdyHeaders response(HttpResponse response, boolean upgrades) {
        SpdyHeaders h = SpdyHttpHeaders.fromResponse(response);
        if (upgrades && response.status().code() == 101) {
            String upgrade = response.headers().get(HttpHeaderNames.UPGRADE);
            if (upgrade != null) {
                h.set(UPGRADE, upgrade);
            }
        }
        return h;
    }

    /** A reply's status and fields exactly as sent, pseudo-fields left out; nothing validated. */
    static ResponseHead toResponseHead(SpdyHeaders h) {
        HttpHeaders out = raw();
        for (Map.Entry<CharSequence, CharSequence> e : h) {
            String name = e.getKey().toString();
            if (!name.startsWith(":")) {
                out.add(name, e.getValue().toString());
            }
        }
        return new ResponseHead(h.getAsString(SpdyHttpHeaders.STATUS), out);
    }

    /** Trailers exactly as sent, pseudo-fields included (the receiver refuses them). */
    static HttpHeaders toRawTrailers(SpdyHeaders h) {
        HttpHeaders out = raw();
        for (Map.Entry<CharSequence, CharSequence> e : h) {
            out.add(e.getKey().toString(), e.getValue().toString());
        }
        return out;
    }

    static SpdyHeaders trailers(HttpHeaders trailers) {
        return SpdyHttpHeaders.fromTrailers(trailers);
    }

    private static HttpHeaders raw() {
        return DefaultHttpHeadersFactory.headersFactory().withValidation(false).withNameValidation(false)
                .newHeaders();
    }
}
