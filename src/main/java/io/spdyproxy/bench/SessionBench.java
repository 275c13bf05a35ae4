package io.spdyproxy.bench;

import io.netty.channel.EventLoopGroup;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpVersion;
import io.spdyproxy.example.ExampleHandler;
import io.spdyproxy.tunnel.spdy.SpdyTunnelSession;
import io.spdyproxy.spdy.SpdyProtocol;
import io.spdyproxy.spdy.SpdyRole;
import io.spdyproxy.spdy.SpdySession;
import io.spdyproxy.spdy.SpdySessionConfig;
import io.spdyproxy.spdy.SpdySessionListener;
import io.spdyproxy.spdy.SpdySessionStats;
import io.spdyproxy.spdy.http.BodyListener;
import io.spdyproxy.spdy.http.HttpCall;
import io.spdyproxy.spdy.http.SpdyClient;
import io.spdyproxy.spdy.http.SpdyServer;
import io.spdyproxy.tls.SelfSignedCertificate;
import io.spdyproxy.tls.TlsContexts;
import io.spdyproxy.transport.Transport;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Benchmarks one SPDY session over loopback TLS, server and client in this process: throughput
 * with 1 and 100 concurrent streams, and the rate of small requests. Prints figures; asserts
 * nothing.
 */
public final class SessionBench {
    private SessionBench() {}

    public static void run(long bytes, int requests, PrintStream out) throws Exception {
        SelfSignedCertificate cert = SelfSignedCertificate.generate("localhost", "127.0.0.1");
        List<String> alpn = List.of(SpdyProtocol.SPDY_3_1.alpnId());
        EventLoopGroup serverLoops = Transport.newGroup(1, "bench-server");
        EventLoopGroup clientLoops = Transport.newGroup(1, "bench-client");
        try (SpdyServer server = SpdyServer.start(new InetSocketAddress("127.0.0.1", 0),
                TlsContexts.server(cert, alpn), SpdySessionConfig.builder(SpdyRole.SERVER).build(),
                SpdyTunnelSession.listener(new ExampleHandler()), serverLoops)) {
            SpdySession session = SpdyClient.connect(clientLoops,
                    new InetSocketAddress("127.0.0.1", server.port()), TlsContexts.client(cert.certificate(), alpn),
                    SpdySessionConfig.builder(SpdyRole.CLIENT).build(), SpdySessionListener.refusingStreams())
                    .get(10, TimeUnit.SECONDS);
            // Warm up the JIT before measuring.
            download(session, 1, Math.min(bytes, 64L << 20));
            out.println("| scenario | figure | frames/s |");
            out.println("|---|---|---|");
            for (int streams : new int[] {1, 100}) {
                SpdySessionStats before = session.stats();
                long t0 = System.nanoTime();
                download(session, streams, bytes);
                double secs = (System.nanoTime() - t0) / 1e9;
                SpdySessionStats after = session.stats();
                long frames = after.framesReceived() - before.framesReceived();
                out.printf("| download, %d stream%s, %d MiB total | %.0f MB/s | %.0f |%n", streams,
                        streams == 1 ? "" : "s", bytes >> 20, bytes / secs / 1e6, frames / secs);
            }
            SpdySessionStats before = session.stats();
            long t0 = System.nanoTime();
            smallRequests(session, requests, 100);
            double secs = (System.nanoTime() - t0) / 1e9;
            SpdySessionStats after = session.stats();
            long frames = (after.framesReceived() - before.framesReceived())
                    + (after.framesSent() - before.framesSent());
            out.printf("| small requests (1 KiB), 100 concurrent, %d requests | %.0f req/s | %.0f |%n",
                    requests, requests / secs, frames / secs);
            session.close().get(5, TimeUnit.SECONDS);
        } finally {
            serverLoops.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            clientLoops.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        }
    }

    private static void download(SpdySession session, int streams, long totalBytes) throws Exception {
        long each = totalBytes / streams;
        CompletableFuture<?>[] done = new CompletableFuture<?>[streams];
        for (int i = 0; i < streams; i++) {
            done[i] = get(session, "/bytes?n=" + each);
        }
        CompletableFuture.allOf(done).get(10, TimeUnit.MINUTES);
    }

    private static void smallRequests(SpdySession session, int count, int concurrency) throws Exception {
        Semaphore slots = new Semaphore(concurrency);
        CompletableFuture<Void> all = new CompletableFuture<>();
        AtomicLong left = new AtomicLong(count);
        for (int i = 0; i < count; i++) {
            slots.acquire();
            get(session, "/bytes?n=1024").whenComplete((v, e) -> {
                slots.release();
                if (e != null) {
                    all.completeExceptionally(e);
                } else if (left.decrementAndGet() == 0) {
                    all.complete(null);
                }
            });
        }
        all.get(10, TimeUnit.MINUTES);
    }

    /** A GET whose body is consumed as it arrives; completes with the byte count. */
    static CompletableFuture<Long> get(SpdySession session, String path) {
        HttpRequest req = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, path);
        req.headers().set(HttpHeaderNames.HOST, "localhost");
        CompletableFuture<Long> done = new CompletableFuture<>();
        HttpCall[] call = new HttpCall[1];
        long[] count = {0};
        BodyListener body = (chunk, last) -> {
            int n = chunk.readableBytes();
            count[0] += n;
            chunk.release();
            call[0].consume(n);
            if (last) {
                done.complete(count[0]);
            }
        };
        SpdyClient.send(session, req, "https", 3, false, (HttpCall c) -> {
            call[0] = c;
            c.onBody(body);
            c.onClose(cause -> {
                if (cause != null) {
                    done.completeExceptionally(cause);
                }
            });
        }).whenComplete((c, e) -> {
            if (e != null) {
                done.completeExceptionally(e);
            }
        });
        return done;
    }
}
