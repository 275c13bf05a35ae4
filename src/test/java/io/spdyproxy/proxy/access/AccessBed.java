package io.spdyproxy.proxy.access;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.spdyproxy.origin.OriginClient;
import io.spdyproxy.origin.OriginConfig;
import io.spdyproxy.proxy.ProxyConfig;
import io.spdyproxy.proxy.ProxyServer;
import io.spdyproxy.tls.TlsContexts;
import io.spdyproxy.transport.Transport;
import io.spdyproxy.tunnel.BodyListener;
import io.spdyproxy.tunnel.TunnelExchange;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.UnaryOperator;

/**
 * A proxy on 127.0.0.1 port 0 with domain {@code test} (so {@code alpha.test} goes to tunnel
 * {@code alpha}), an access-control file of the test's, and in-process origins over real TLS
 * tunnels serving {@link Origin}: {@code /auth} echoes the Authorization header it got, {@code /hold}
 * answers when the test says so, {@code /bytes?n=N} streams N bytes with backpressure, counting
 * what it produced, {@code /upload} counts the body and answers with the count, {@code /echo}
 * switches protocols and echoes the bytes.
 */
final class AccessBed implements AutoCloseable {
    static final String TOKEN = "access-bed-token-0123456789abcdef";

    private final Deque<AutoCloseable> resources = new ArrayDeque<>();
    private final EventLoopGroup originLoops = Transport.newGroup(1, "access-origin");
    final Path rules;
    final ProxyServer proxy;

    AccessBed(Path dir, String rulesYaml, UnaryOperator<ProxyConfig> tweak) throws Exception {
        rules = dir.resolve("access.yaml");
        Files.writeString(rules, rulesYaml);
        ProxyConfig base = ProxyConfig.defaults(dir.resolve("data")).withBind("127.0.0.1").withPorts(0, 0, -1, -1)
                .withAuth(true, Map.of("alpha", ProxyConfig.hashToken(TOKEN), "beta", ProxyConfig.hashToken(TOKEN)))
                .withDomain("test", "alpha").withAccessControl(rules);
        proxy = ProxyServer.start(tweak.apply(base));
        resources.push(proxy);
    }

    int port() {
        return proxy.httpPort();
    }

    /** Replaces the rules file the way a deployment does: a new file renamed over the old one. */
    void replaceRules(String yaml) throws Exception {
        Path tmp = Files.createTempFile(rules.getParent(), "access", ".tmp");
        Files.writeString(tmp, yaml);
        Files.move(tmp, rules, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    Origin origin(String name) throws Exception {
        Origin o = new Origin();
        OriginConfig c = OriginConfig.of("127.0.0.1", proxy.tunnelPort()).withCredentials(name, TOKEN)
                .withBackoff(Duration.ofMillis(50), Duration.ofSeconds(1));
        resources.push(new OriginClient(c, TlsContexts.clientPinned(proxy.identity().fingerprint()), o::serve,
                originLoops).start());
        proxy.tunnelConnected(name).get(10, TimeUnit.SECONDS);
        return o;
    }

    @Override
    public void close() throws Exception {
        while (!resources.isEmpty()) {
            resources.pop().close();
        }
        originLoops.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    /** The test app behind one tunnel. Threading: serves on the origin's loop; counters are atomic. */
    static final class Origin {
        final BlockingQueue<TunnelExchange> held = new LinkedBlockingQueue<>();
        final AtomicLong produced = new AtomicLong();
        /** Counted down the first time a download found its stream full (the window closed). */
        final CountDownLatch blocked = new CountDownLatch(1);

        void serve(TunnelExchange ex) {
            QueryStringDecoder q = new QueryStringDecoder(ex.request().uri());
            switch (q.path()) {
                case "/auth" -> ex.respond(HttpResponseStatus.OK, "text/plain",
                        "auth=" + ex.request().headers().get(HttpHeaderNames.AUTHORIZATION, "none"));
                case "/hold" -> held.add(ex);
                case "/bytes" -> download(ex, Long.parseLong(q.parameters().get("n").get(0)));
                case "/upload" -> upload(ex);
                case "/echo" -> echo(ex);
                default -> ex.respond(HttpResponseStatus.OK, "text/plain", "hello from " + q.path());
            }
        }

        static void answer(TunnelExchange ex) {
            ex.eventLoop().execute(() -> ex.respond(HttpResponseStatus.OK, "text/plain", "released"));
        }

        private void download(TunnelExchange ex, long n) {
            HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
            head.headers().set(HttpHeaderNames.CONTENT_LENGTH, n);
            ex.respond(head, false);
            long[] left = {n};
            Runnable pump = new Runnable() {
                @Override
                public void run() {
                    while (left[0] > 0 && ex.isWritable()) {
                        int chunk = (int) Math.min(16 * 1024, left[0]);
                        left[0] -= chunk;
                        produced.addAndGet(chunk);
                        ex.write(Unpooled.wrappedBuffer(new byte[chunk]), left[0] == 0);
                    }
                    if (left[0] > 0) {
                        blocked.countDown();
                    }
                }
            };
            ex.onWritable(pump);
            ex.onClose(e -> left[0] = 0);
            pump.run();
        }

        /** Switches protocols and sends every byte back (an upgraded connection's byte pipe). */
        private static void echo(TunnelExchange ex) {
            HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.SWITCHING_PROTOCOLS);
            head.headers().set(HttpHeaderNames.UPGRADE, ex.upgrade());
            ex.respond(head, false);
            ex.onBody((chunk, last) -> {
                int n = chunk.readableBytes();
                ex.write(chunk, last);
                ex.consume(n);
            });
        }

        private void upload(TunnelExchange ex) {
            long[] got = {0};
            ex.onBody(new BodyListener() {
                @Override
                public void onChunk(ByteBuf chunk, boolean last) {
                    int n = chunk.readableBytes();
                    got[0] += n;
                    chunk.release();
                    ex.consume(n);
                    if (last) {
                        ex.respond(HttpResponseStatus.OK, "text/plain", "got " + got[0]);
                    }
                }
            });
        }
    }
}
