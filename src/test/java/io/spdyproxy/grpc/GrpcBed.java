package io.spdyproxy.grpc;

import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.netty.channel.EventLoopGroup;
import io.spdyproxy.origin.OriginClient;
import io.spdyproxy.origin.OriginConfig;
import io.spdyproxy.origin.upstream.ReverseProxyHandler;
import io.spdyproxy.origin.upstream.UpstreamConfig;
import io.spdyproxy.proxy.ProxyConfig;
import io.spdyproxy.proxy.ProxyIdentity;
import io.spdyproxy.proxy.ProxyServer;
import io.spdyproxy.tls.SelfSignedCertificate;
import io.spdyproxy.tls.TlsContexts;
import io.spdyproxy.transport.Transport;
import io.spdyproxy.tunnel.Tunnel;
import io.spdyproxy.tunnel.handshake.TunnelProtocol;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A grpc-java server running {@link ProbeService}, and optionally the whole path of issue 11 in
 * front of it on loopback: a proxy with h2c (plain) and h2 (TLS) front ends and one origin whose
 * reverse proxy reaches the server with {@code --upstream h2c://}. The proxy has a domain, so a
 * call reaches the app only when its {@code :authority} routes to the tunnel ({@value #AUTHORITY});
 * the certificate names that host, so the TLS client verifies it for real.
 *
 * <p>Threading: built and closed by the test thread; channels are thread-safe.
 */
final class GrpcBed implements AutoCloseable {
    static final int MAX_MESSAGE = 32 << 20;
    static final String AUTHORITY = "grpc.test";
    private static final String TUNNEL = "grpc";
    private static final String TOKEN = "grpc-bed-token-0123456789abcdef";

    /** Which way a client reaches the app. */
    enum Route {
        /** Straight to the grpc-java server: the baseline every case must pass first. */
        DIRECT,
        /** The proxy's plain port, HTTP/2 with prior knowledge. */
        H2C,
        /** The proxy's TLS port, HTTP/2 chosen by ALPN. */
        HTTPS
    }

    final ProbeService service = new ProbeService();
    private final Server server;
    private final SelfSignedCertificate cert = SelfSignedCertificate.generate(AUTHORITY, "localhost", "127.0.0.1");
    private ProxyServer proxy;
    private ReverseProxyHandler upstream;
    private OriginClient origin;
    private EventLoopGroup originLoops;
    private final List<ManagedChannel> channels = new ArrayList<>();
    private String protocol;

    /** grpc-java's server logger, which warns of a request without {@code te: trailers}. */
    private static final java.util.logging.Logger SERVER_LOG =
            java.util.logging.Logger.getLogger("io.grpc.netty.shaded.io.grpc.netty.NettyServerHandler");
    private final java.util.logging.Handler teWarnings = service.teWarnings();

    private GrpcBed() throws IOException {
        SERVER_LOG.addHandler(teWarnings);
        server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
                .addService(service.definition()).maxInboundMessageSize(MAX_MESSAGE).build().start();
    }

    /** The gRPC server alone. */
    static GrpcBed direct() throws IOException {
        return new GrpcBed();
    }

    /** The gRPC server behind a proxy and an origin, over a SPDY/3.1 tunnel. */
    static GrpcBed tunnelled(Path dir) throws Exception {
        return tunnelled(dir, TunnelProtocol.Kind.SPDY);
    }

    /** The gRPC server behind a proxy and an origin, over a tunnel of this protocol. */
    static GrpcBed tunnelled(Path dir, TunnelProtocol.Kind protocol) throws Exception {
        GrpcBed bed = new GrpcBed();
        try {
            bed.startTunnel(dir, protocol);
            return bed;
        } catch (Exception | Error e) {
            bed.close();
            throw e;
        }
    }

    private void startTunnel(Path dir, TunnelProtocol.Kind protocol) throws Exception {
        ProxyConfig config = ProxyConfig.defaults(dir.resolve("proxy")).withBind("127.0.0.1").withPorts(0, 0, 0, -1)
                .withDomain("test", TUNNEL).withAuth(true, Map.of(TUNNEL, ProxyConfig.hashToken(TOKEN)));
        proxy = ProxyServer.start(config, new ProxyIdentity(cert, config.tokenHashes(), null));
        upstream = new ReverseProxyHandler(UpstreamConfig.of(URI.create("h2c://127.0.0.1:" + serverPort())));
        originLoops = Transport.newGroup(1, "grpc-bed-origin");
        origin = new OriginClient(OriginConfig.of("127.0.0.1", proxy.tunnelPort()).withCredentials(TUNNEL, TOKEN)
                .withBackoff(Duration.ofMillis(50), Duration.ofSeconds(1)).withTunnelProtocol(protocol),
                TlsContexts.clientPinned(proxy.identity().fingerprint()), upstream, originLoops).start();
        Tunnel t = proxy.tunnelConnected(TUNNEL).get(10, TimeUnit.SECONDS);
        this.protocol = t.session().protocol();
    }

    /** The protocol the tunnel runs, as its session names it (null without a tunnel). */
    String tunnelProtocol() {
        return protocol;
    }

    int serverPort() {
        return server.getPort();
    }

    /** A new channel to the app along {@code route}; closed with the bed. */
    ManagedChannel channel(Route route) throws IOException {
        NettyChannelBuilder b = switch (route) {
            case DIRECT -> NettyChannelBuilder.forAddress("127.0.0.1", serverPort()).usePlaintext();
            case H2C -> NettyChannelBuilder.forAddress("127.0.0.1", proxy().httpPort()).usePlaintext()
                    .overrideAuthority(AUTHORITY);
            case HTTPS -> NettyChannelBuilder.forAddress("127.0.0.1", proxy().httpsPort())
                    .sslContext(GrpcSslContexts.forClient().trustManager(cert.certificate()).build())
                    .overrideAuthority(AUTHORITY);
        };
        ManagedChannel c = b.maxInboundMessageSize(MAX_MESSAGE).build();
        channels.add(c);
        return c;
    }

    ProxyServer proxy() {
        if (proxy == null) {
            throw new IllegalStateException("no proxy in a direct bed");
        }
        return proxy;
    }

    @Override
    public void close() throws Exception {
        for (ManagedChannel c : channels) {
            c.shutdownNow();
        }
        for (ManagedChannel c : channels) {
            c.awaitTermination(5, TimeUnit.SECONDS);
        }
        if (origin != null) {
            origin.close();
        }
        if (upstream != null) {
            upstream.close();
        }
        if (proxy != null) {
            proxy.close();
        }
        if (originLoops != null) {
            originLoops.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
        server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        SERVER_LOG.removeHandler(teWarnings);
    }
}
