package io.spdyproxy.proxy;

import io.netty.channel.EventLoopGroup;
import io.spdyproxy.origin.OriginClient;
import io.spdyproxy.origin.OriginConfig;
import io.spdyproxy.tunnel.RequestHandler;
import io.spdyproxy.tunnel.handshake.TunnelProtocol;
import io.spdyproxy.tls.TlsContexts;
import io.spdyproxy.transport.Transport;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;

/**
 * A proxy on 127.0.0.1 port 0 with token auth and in-process origins that serve a handler through
 * a real TLS tunnel; everything closes with the bed. For tests of one front-end concern each.
 */
final class ProxyBed implements AutoCloseable {
    static final String TOKEN = "bed-token-0123456789abcdef";

    private final Deque<AutoCloseable> resources = new ArrayDeque<>();
    private final EventLoopGroup originLoops = Transport.newGroup(1, "bed-origin");
    final ProxyServer proxy;
    /** The tunnel protocol the origins ask for (suites run once per protocol). */
    private final TunnelProtocol.Kind protocol;

    ProxyBed(Path dataDir, UnaryOperator<ProxyConfig> tweak) throws Exception {
        this(dataDir, tweak, TunnelProtocol.Kind.SPDY);
    }

    ProxyBed(Path dataDir, UnaryOperator<ProxyConfig> tweak, TunnelProtocol.Kind protocol) throws Exception {
        this.protocol = protocol;
        ProxyConfig base = ProxyConfig.defaults(dataDir).withBind("127.0.0.1").withPorts(0, 0, -1, -1)
                .withAuth(true, Map.of("default", ProxyConfig.hashToken(TOKEN), "alpha", ProxyConfig.hashToken(TOKEN),
                        "beta", ProxyConfig.hashToken(TOKEN)));
        proxy = ProxyServer.start(tweak.apply(base));
        resources.push(proxy);
    }

    int port() {
        return proxy.httpPort();
    }

    /** An origin serving {@code handler} as tunnel {@code name}; returns once its tunnel is up. */
    OriginClient origin(String name, RequestHandler handler) throws Exception {
        OriginConfig c = OriginConfig.of("127.0.0.1", proxy.tunnelPort()).withCredentials(name, TOKEN)
                .withBackoff(Duration.ofMillis(50), Duration.ofSeconds(1)).withTunnelProtocol(protocol);
        OriginClient o = new OriginClient(c, TlsContexts.clientPinned(proxy.identity().fingerprint()), handler,
                originLoops).start();
        resources.push(o);
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
}
