package io.spdyproxy.proxy.live;

import static java.nio.charset.StandardCharsets.UTF_8;

import io.netty.channel.EventLoopGroup;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.spdyproxy.origin.OriginClient;
import io.spdyproxy.origin.OriginConfig;
import io.spdyproxy.proxy.ProxyConfig;
import io.spdyproxy.proxy.ProxyServer;
import io.spdyproxy.tls.TlsContexts;
import io.spdyproxy.transport.Transport;
import io.spdyproxy.tunnel.RequestHandler;
import io.spdyproxy.tunnel.handshake.TunnelProtocol;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;

/**
 * A proxy on loopback port 0 with token auth from its data directory's tokens file, routing
 * {@code <name>.test} to tunnel {@code name}, and in-process origins over real TLS tunnels.
 */
final class LiveBed implements AutoCloseable {
    private final Deque<AutoCloseable> resources = new ArrayDeque<>();
    private final EventLoopGroup originLoops = Transport.newGroup(1, "live-origin");
    final ProxyServer proxy;
    /** The tunnel protocol origins ask for. */
    TunnelProtocol.Kind protocol = TunnelProtocol.Kind.SPDY;

    LiveBed(Path dataDir, UnaryOperator<ProxyConfig> tweak) throws Exception {
        ProxyConfig base = ProxyConfig.defaults(dataDir).withBind("127.0.0.1").withPorts(0, 0, -1, -1)
                .withDomain("test", "default");
        proxy = ProxyServer.start(tweak.apply(base));
        resources.push(proxy);
    }

    /** An origin answering its own name, as tunnel {@code name}; not waited for. */
    OriginClient origin(String name, String token) {
        return origin(name, token, TlsContexts.clientPinned(proxy.identity().fingerprint()));
    }

    OriginClient origin(String name, String token, io.netty.handler.ssl.SslContext tls) {
        return origin(name, token, tls, ex -> ex.respond(HttpResponseStatus.OK, "text/plain; charset=utf-8", name));
    }

    OriginClient origin(String name, String token, io.netty.handler.ssl.SslContext tls, RequestHandler h) {
        OriginConfig c = OriginConfig.of("127.0.0.1", proxy.tunnelPort()).withCredentials(name, token)
                .withBackoff(Duration.ofMillis(50), Duration.ofMillis(200)).withTunnelProtocol(protocol);
        OriginClient o = new OriginClient(c, tls, h, originLoops).start();
        resources.push(o);
        return o;
    }

    /** An origin whose tunnel is up when this returns. */
    OriginClient connected(String name, String token) throws Exception {
        OriginClient o = origin(name, token);
        proxy.tunnelConnected(name).get(10, TimeUnit.SECONDS);
        return o;
    }

    /** GET / for {@code <tunnel>.test} on the plain front end: the status line's code and the body. */
    String get(String tunnel) throws IOException {
        try (Socket s = new Socket("127.0.0.1", proxy.httpPort())) {
            s.setSoTimeout(10_000);
            s.getOutputStream().write(("GET / HTTP/1.1\r\nHost: " + tunnel + ".test\r\nConnection: close\r\n\r\n")
                    .getBytes(UTF_8));
            InputStream in = s.getInputStream();
            ByteArrayOutputStream all = new ByteArrayOutputStream();
            in.transferTo(all);
            String reply = all.toString(UTF_8);
            String code = reply.substring(9, 12);
            return code + " " + reply.substring(reply.indexOf("\r\n\r\n") + 4).strip();
        }
    }

    @Override
    public void close() throws Exception {
        while (!resources.isEmpty()) {
            resources.pop().close();
        }
        originLoops.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }
}
