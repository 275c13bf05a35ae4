package io.spdyproxy.proxy.access;

import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.EmptyHttpHeaders;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The gate's answer for one request: let in, with the tunnel's bandwidth paces and a slot of its
 * concurrency limit to give back when the request ends ({@link #release}); or refused, with the
 * status and headers the visitor gets (401 with {@code WWW-Authenticate}, 403, 429 or 503 with
 * {@code Retry-After}).
 *
 * <p>Threading: immutable but for the slot, which is released at most once from any thread.
 */
public final class Admission {
    /** For a tunnel without rules: in, unlimited, nothing to release. */
    public static final Admission OPEN = new Admission(null, "", EmptyHttpHeaders.INSTANCE, Pace.UNLIMITED,
            Pace.UNLIMITED, null, null);

    private final HttpResponseStatus refusal;
    private final String reason;
    private final HttpHeaders headers;
    private final Pace upload;
    private final Pace download;
    private final String user;
    /** The tunnel's in-flight count this request holds a slot of; null once given back (or none). */
    private volatile AtomicInteger slot;

    private Admission(HttpResponseStatus refusal, String reason, HttpHeaders headers, Pace upload, Pace download,
            AtomicInteger slot, String user) {
        this.refusal = refusal;
        this.user = user;
        this.reason = reason;
        this.headers = headers;
        this.upload = upload;
        this.download = download;
        this.slot = slot;
    }

    static Admission allowed(Pace upload, Pace download, AtomicInteger slot, String user) {
        return new Admission(null, "", EmptyHttpHeaders.INSTANCE, upload, download, slot, user);
    }

    static Admission refused(HttpResponseStatus status, String reason) {
        return new Admission(status, reason, new DefaultHttpHeaders(), Pace.UNLIMITED, Pace.UNLIMITED, null, null);
    }

    static Admission retryLater(HttpResponseStatus status, String reason, int seconds) {
        Admission a = refused(status, reason);
        a.headers.set(HttpHeaderNames.RETRY_AFTER, seconds);
        return a;
    }

    public boolean allowed() {
        return refusal == null;
    }

    /** The refusal's status; null when allowed. */
    public HttpResponseStatus status() {
        return refusal;
    }

    /** The basic-auth user the visitor proved to be (the access log's {@code %u}), or null. */
    public String user() {
        return user;
    }

    /** One line for the error page and the log. */
    public String reason() {
        return reason;
    }

    /** Headers the refusal carries ({@code WWW-Authenticate}, {@code Retry-After}). */
    public HttpHeaders headers() {
        return headers;
    }

    /** Paces the client's bytes to the origin (request bodies, and an upgraded client's bytes). */
    public Pace upload() {
        return upload;
    }

    /** Paces the origin's bytes to the client. */
    public Pace download() {
        return download;
    }

    /** The request ended: its concurrency slot is free again. Idempotent. */
    public void release() {
        AtomicInteger s = slot;
        if (s != null) {
            synchronized (this) {
                if (slot == null) {
                    return;
                }
                slot = null;
            }
            s.decrementAndGet();
        }
    }
}
