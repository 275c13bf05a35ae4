package io.spdyproxy.interop;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpVersion;
import io.spdyproxy.spdy.SpdyError;
import io.spdyproxy.spdy.SpdySession;
import io.spdyproxy.spdy.SpdyStreamException;
import io.spdyproxy.spdy.http.BodyListener;
import io.spdyproxy.spdy.http.HttpCall;
import io.spdyproxy.spdy.http.SpdyClient;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Our {@link SpdyClient} running a mix of requests on one session against the npm spdy server
 * ({@code npm-server.js}). Per five requests: a download we cancel after its first chunk (the
 * rest of it is in flight towards us), an upload we cancel on the response head (npm answers our
 * RST_STREAM with one of its own), an upload npm refuses mid-body (it resets the stream, then
 * answers each of our DATA frames still in flight with RST_STREAM INVALID_STREAM), and an upload
 * and a download checked byte for byte.
 *
 * <p>Threading: {@link #run} may be called from any thread; each exchange runs on the session's
 * event loop and counts into atomics.
 */
final class ClientWorkload {
    static final int CHUNK = 16 * 1024;
    /** npm-server.js's /bytes body: byte k is k % 251. */
    private static final byte[] PATTERN = new byte[1 << 20];

    static {
        for (int k = 0; k < PATTERN.length; k++) {
            PATTERN[k] = (byte) (k % 251);
        }
    }

    /** How an exchange is meant to end. */
    private enum Ending {
        /** The whole response, checked. */
        COMPLETE,
        /** We reset it: a download after its first chunk, an upload on the response head. */
        CANCELLED,
        /** The server answers 413 and resets it while we are still sending the body. */
        REFUSED
    }

    final AtomicInteger completed = new AtomicInteger();
    final AtomicInteger cancelled = new AtomicInteger();
    final AtomicInteger refused = new AtomicInteger();
    final AtomicInteger failed = new AtomicInteger();
    private final List<String> errors = new ArrayList<>();
    private final Set<Checked> pending = ConcurrentHashMap.newKeySet();
    private final SpdySession session;

    ClientWorkload(SpdySession session) {
        this.session = session;
    }

    /** Runs {@code total} requests, {@code concurrency} at a time; completes when all ended. */
    CompletableFuture<Void> run(int total, int concurrency) {
        AtomicInteger next = new AtomicInteger();
        CompletableFuture<?>[] workers = new CompletableFuture<?>[concurrency];
        for (int w = 0; w < concurrency; w++) {
            workers[w] = worker(next, total);
        }
        return CompletableFuture.allOf(workers);
    }

    /** Request {@code i} of the mix. */
    CompletableFuture<Void> request(int i) {
        return switch (i % 5) {
            case 0 -> exchange(HttpMethod.GET, "/bytes?n=" + 64 * 1024, null, PATTERN, 64 * 1024,
                    Ending.CANCELLED);
            case 1 -> exchange(HttpMethod.POST, "/reject", random(CHUNK, i), null, 0, Ending.REFUSED);
            case 2 -> upload(random(4 * 1024 + (i % 7) * 4096, i));
            case 3 -> download(1024 + (i % 13) * 8 * 1024);
            default -> exchange(HttpMethod.POST, "/echo", random(CHUNK, i), null, 0, Ending.CANCELLED);
        };
    }

    /** GET /bytes?n={@code n} (at most 1 MiB), checked against npm-server.js's pattern. */
    CompletableFuture<Void> download(int n) {
        return exchange(HttpMethod.GET, "/bytes?n=" + n, null, PATTERN, n, Ending.COMPLETE);
    }

    /** POST /echo of {@code body}, checked as echoed. */
    CompletableFuture<Void> upload(byte[] body) {
        return exchange(HttpMethod.POST, "/echo", body, body, body.length, Ending.COMPLETE);
    }

    synchronized List<String> errors() {
        return List.copyOf(errors);
    }

    @Override
    public String toString() {
        return "completed " + completed + ", cancelled " + cancelled + ", refused " + refused
                + ", failed " + failed + ", first errors " + errors() + ", unfinished "
                + pending.stream().limit(10).map(Checked::toString).toList();
    }

    static byte[] random(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    private CompletableFuture<Void> worker(AtomicInteger next, int total) {
        if (session.state() != SpdySession.State.ACTIVE) {
            return CompletableFuture.completedFuture(null); // ended under us: the test says so
        }
        int i = next.getAndIncrement();
        if (i >= total) {
            return CompletableFuture.completedFuture(null);
        }
        // Async: an exchange that fails at once completes on this stack; chaining the next one
        // here would nest one call per request.
        return request(i).thenComposeAsync(x -> worker(next, total));
    }

    /**
     * Sends one request. A COMPLETE body ends with FIN; the body of a cancelled or refused upload
     * never does, since the stream is meant to end by a reset first.
     */
    private CompletableFuture<Void> exchange(HttpMethod method, String uri, byte[] body, byte[] expected,
            int length, Ending ending) {
        HttpRequest req = new DefaultHttpRequest(HttpVersion.HTTP_1_1, method, uri);
        req.headers().set(HttpHeaderNames.HOST, "localhost");
        Checked checked = new Checked(method + " " + uri, expected, length, ending);
        pending.add(checked);
        SpdyClient.send(session, req, "https", 3, body != null, call -> {
            checked.call = call;
            call.onBody(checked);
            call.onClose(checked::closed);
            if (body != null && ending != Ending.COMPLETE) {
                call.response().thenRun(() -> checked.onHead(body));
            }
        }).whenComplete((call, err) -> {
            if (err != null) {
                checked.closed(err);
            } else if (body != null) {
                session.channel().eventLoop().execute(() -> pump(call, body, ending == Ending.COMPLETE));
            }
        });
        return checked.done;
    }

    /** Writes {@code body} while the stream is writable, resuming on the writability callback. */
    private static void pump(HttpCall call, byte[] body, boolean fin) {
        int[] pos = {0};
        Runnable produce = () -> {
            while (pos[0] < body.length && call.isWritable() && !call.stream().isClosed()) {
                int n = Math.min(CHUNK, body.length - pos[0]);
                ByteBuf chunk = Unpooled.wrappedBuffer(body, pos[0], n);
                pos[0] += n; // before write(): the callback may run inside it
                call.write(chunk, fin && pos[0] == body.length);
            }
        };
        call.onWritable(produce);
        produce.run();
    }

    private synchronized void error(String what) {
        failed.incrementAndGet();
        if (errors.size() < 10) {
            errors.add(what);
        }
    }

    /** One exchange: checks the response body chunk by chunk; runs on the event loop. */
    private final class Checked implements BodyListener {
        final CompletableFuture<Void> done = new CompletableFuture<>();
        final String what;
        final byte[] expected;
        final int length;
        final Ending ending;
        HttpCall call;
        int received;
        String wrong;
        boolean ended;
        boolean cancelling;

        Checked(String what, byte[] expected, int length, Ending ending) {
            this.what = what;
            this.expected = expected;
            this.length = length;
            this.ending = ending;
        }

        /** The response head of an upload that is not meant to complete. */
        void onHead(byte[] more) {
            if (ending == Ending.CANCELLED) {
                cancel();
                return;
            }
            // Refused: go on uploading as a client does until it sees the reset; these frames
            // reach npm after it reset the stream.
            for (int k = 0; k < 4 && !call.stream().isClosed(); k++) {
                call.write(Unpooled.wrappedBuffer(more), false);
            }
        }

        @Override
        public void onChunk(ByteBuf chunk, boolean last) {
            int n = chunk.readableBytes();
            if (expected != null && wrong == null) {
                // One bulk copy: per-byte reads are each traced by the paranoid leak detector.
                byte[] got = new byte[n];
                chunk.getBytes(chunk.readerIndex(), got);
                int fits = Math.max(0, Math.min(n, length - received));
                int diff = Arrays.mismatch(got, 0, fits, expected, received, received + fits);
                if (diff >= 0 || fits < n) {
                    wrong = "byte " + (received + (diff >= 0 ? diff : fits)) + " of " + length + " differs";
                }
            }
            received += n;
            chunk.release();
            call.consume(n);
            ended |= last;
            if (ending == Ending.CANCELLED && n > 0) {
                cancel(); // the rest of the response body is in flight
            }
        }

        void cancel() {
            if (!cancelling) {
                cancelling = true;
                call.reset(SpdyError.CANCEL);
            }
        }

        int status() {
            CompletableFuture<HttpResponse> head = call.response();
            return head.isDone() && !head.isCompletedExceptionally() ? head.join().status().code() : -1;
        }

        void closed(Throwable cause) {
            if (done.isDone()) {
                return;
            }
            if (ending == Ending.CANCELLED && cancelling) {
                cancelled.incrementAndGet();
            } else if (ending == Ending.REFUSED) {
                boolean resetByPeer = cause instanceof SpdyStreamException e && e.error() == SpdyError.CANCEL
                        && !e.isLocal();
                if (status() == 413 && resetByPeer) {
                    refused.incrementAndGet();
                } else {
                    error("refused upload: status " + status() + ", " + cause);
                }
            } else if (cause != null) {
                error(cause.toString());
            } else if (!ended || wrong != null || received != length) {
                error((wrong != null ? wrong : "got " + received + " of " + length + " bytes")
                        + " (status " + status() + ")");
            } else if (status() != 200) {
                error("status " + status());
            } else {
                completed.incrementAndGet();
            }
            pending.remove(this);
            done.complete(null);
        }

        @Override
        public String toString() {
            return what + " (" + ending + ") on " + (call == null ? null : call.stream()) + ": status "
                    + status() + ", " + received + " bytes received" + (ended ? ", ended" : "")
                    + (cancelling ? ", cancelling" : "");
        }
    }
}
