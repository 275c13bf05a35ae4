package io.spdyproxy.proxy;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.ssl.SslContext;
import io.netty.util.concurrent.GlobalEventExecutor;
import io.spdyproxy.observe.RequestListener;
import io.spdyproxy.observe.dashboard.Dashboard;
import io.spdyproxy.observe.dashboard.DashboardSource;
import io.spdyproxy.tunnel.SessionStats;
import io.spdyproxy.proxy.access.AccessControl;
import io.spdyproxy.observe.metrics.ProxyMetrics;
import io.spdyproxy.tunnel.TunnelSession;
import io.spdyproxy.proxy.live.AdminToken;
import io.spdyproxy.proxy.live.LiveCertificate;
import io.spdyproxy.proxy.live.LiveTokens;
import io.spdyproxy.proxy.live.Reloads;
import io.spdyproxy.transport.Transport;
import io.spdyproxy.tunnel.Tunnel;
import io.spdyproxy.tunnel.handshake.TunnelAcceptor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The proxy P: a TLS listener where origins open tunnels, an HTTP/1.1 and HTTP/2 front end (plain
 * and/or TLS) whose requests travel as SPDY streams to the tunnel their host routes to, and an optional
 * status endpoint on loopback. {@link #start} returns once everything is bound.
 *
 * <p>Threading: {@link #start}, {@link #shutdownGracefully} and {@link #close} may be called from
 * any thread.
 */
public final class ProxyServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ProxyServer.class);

    private final ProxyConfig config;
    private final ProxyIdentity identity;
    private final EventLoopGroup group;
    private final ProxyContext px;
    private final TunnelAcceptor.Limits tunnelLimits;
    private final ChannelGroup listeners = new DefaultChannelGroup(GlobalEventExecutor.INSTANCE);
    private final ChannelGroup clients = new DefaultChannelGroup(GlobalEventExecutor.INSTANCE);
    private Channel tunnelListener;
    private Channel httpListener;
    private Channel httpsListener;
    private Channel adminListener;
    /** Counted while the admin listener (which serves them) is on; null otherwise. */
    private ProxyMetrics metrics;
    private ProxyLive live;
    private Dashboard dashboard;

    private ProxyServer(ProxyConfig config, ProxyIdentity identity, EventLoopGroup group,
            TunnelAcceptor.Limits tunnelLimits, AccessControl access) {
        this.config = config;
        this.identity = identity;
        this.group = group;
        this.tunnelLimits = tunnelLimits;
        this.px = new ProxyContext(config, new TunnelRegistry(),
                new Router(config.domain(), config.defaultTunnel()), new ProxyStats(), new RequestListeners(), access);
    }

    public static ProxyServer start(ProxyConfig config) throws IOException, InterruptedException {
        return start(config, ProxyIdentity.load(config));
    }

    public static ProxyServer start(ProxyConfig config, ProxyIdentity identity) throws InterruptedException {
        return start(config, identity, TunnelAcceptor.Limits.defaults());
    }

    /** With the tunnel listener's handshake timeouts and authentication throttle given. */
    public static ProxyServer start(ProxyConfig config, ProxyIdentity identity, TunnelAcceptor.Limits tunnelLimits)
            throws InterruptedException {
        // A bad access-control file stops the start before anything runs (AccessConfigException).
        AccessControl access = config.accessControl() == null ? AccessControl.none()
                : AccessControl.open(config.accessControl());
        ProxyServer p = new ProxyServer(config, identity, Transport.newGroup(0, "proxy"), tunnelLimits, access);
        try {
            p.bind();
        } catch (InterruptedException | RuntimeException e) {
            p.close();
            throw e;
        }
        return p;
    }

    private void bind() throws InterruptedException {
        if (config.adminPort() >= 0) {
            metrics = new ProxyMetrics(group);
            px.listeners().add(metrics);
        }
        try {
            live = new ProxyLive(config, identity, px.registry());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        if (config.accessControl() != null) {
            live.reloads.register("access control", px.access()::reload); // SIGHUP; file changes are watched
        }
        TokenAuthenticator auth = new TokenAuthenticator(live.tokens::hashes, config.authRequired());
        tunnelListener = listen(config.tunnelPort(), "tunnel", new TunnelAcceptor(live.certificate::tunnelContext,
                config.pingInterval(), auth, this::tunnelUp, tunnelLimits));
        if (config.httpPort() >= 0) {
            httpListener = listen(config.httpPort(), "http", frontend(null, "http"));
        }
        if (config.httpsPort() >= 0) {
            httpsListener = listen(config.httpsPort(), "https", frontend(live.certificate::httpsContext, "https"));
        }
        if (config.adminPort() >= 0) {
            dashboard = new Dashboard(dashboardSource()).start(group.next());
            px.listeners().add(dashboard);
            adminListener = new ServerBootstrap().group(group).channel(Transport.serverChannel())
                    .childHandler(metrics.counting("admin", new ChannelInitializer<Channel>() {
                        @Override
                        protected void initChannel(Channel ch) {
                            ch.pipeline().addLast(new HttpServerCodec(), new HttpObjectAggregator(4096),
                                    new AdminHandler(px, live.api, dashboard, metrics));
                        }
                    })).bind("127.0.0.1", config.adminPort()).sync().channel();
            listeners.add(adminListener);
        }
    }

    private DashboardSource dashboardSource() {
        return new DashboardSource() {
            @Override
            public List<DashboardSource.TunnelFigures> tunnels() {
                List<DashboardSource.TunnelFigures> out = new ArrayList<>();
                for (Tunnel t : px.registry().all()) {
                    TunnelSession s = t.session();
                    SessionStats st = s.stats();
                    out.add(new DashboardSource.TunnelFigures(s, t.name(), String.valueOf(t.remote()), s.protocol(),
                            s.state().name(), t.connectedAt(), st.activeStreams(), st.dataBytesSent(),
                            st.dataBytesReceived()));
                }
                return out;
            }

            @Override
            public long clientConnections() {
                return px.stats().connections();
            }

            @Override
            public long requestsInFlight() {
                return px.stats().requestsInFlight();
            }

            @Override
            public long requestsTotal() {
                return px.stats().requestsTotal();
            }
        };
    }

    private Channel listen(int port, String name, ChannelInitializer<Channel> init) throws InterruptedException {
        Channel ch = new ServerBootstrap()
                .group(group)
                .channel(Transport.serverChannel())
                .option(ChannelOption.SO_BACKLOG, 1024)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childHandler(metrics == null ? init : metrics.counting(name, init))
                .bind(config.bind(), port).sync().channel();
        listeners.add(ch);
        return ch;
    }

    private ChannelInitializer<Channel> frontend(Supplier<SslContext> tls, String scheme) {
        return new ChannelInitializer<Channel>() {
            @Override
            protected void initChannel(Channel ch) {
                clients.add(ch);
                ch.config().setAutoRead(false);
                // A client may send its requests and shut down its side; it still gets the answers.
                ch.config().setOption(ChannelOption.ALLOW_HALF_CLOSURE, true);
                Transport.limitUnsent(ch, 128 * 1024);
                ClientTimeouts timeouts = new ClientTimeouts(config.idleTimeout(), config.requestHeadTimeout());
                Runnable http1 = () -> {
                    ch.pipeline().addLast("http", frontendCodec());
                    ch.pipeline().addLast("frontend", new FrontendHandler(px, scheme, timeouts));
                };
                if (tls != null) {
                    // HTTP/1.1 or HTTP/2, as ALPN decides once the handshake is done.
                    ch.pipeline().addLast("tls", tls.get().newHandler(ch.alloc())); // the certificate now in force
                    ch.pipeline().addLast("timeouts", timeouts);
                    ch.pipeline().addLast("alpn", new FrontendProtocols(px, http1));
                } else {
                    // HTTP/1.1, unless the first bytes are HTTP/2's prior-knowledge preface.
                    ch.pipeline().addLast("tls-on-plain-port", new TlsOnPlainPort());
                    ch.pipeline().addLast("h2-preface", new Http2PriorKnowledge(px));
                    ch.pipeline().addLast("timeouts", timeouts);
                    http1.run();
                }
            }
        };
    }

    /** The front end's HTTP/1.1 codec (one place, so that FrontendFuzzTest fuzzes what clients meet). */
    static HttpServerCodec frontendCodec() {
        // Up to 1,024 pipelined requests may wait for their answers (Netty's default is 128); a
        // client that sends more without reading loses the connection.
        return new HttpServerCodec(new HttpDecoderConfig().setMaxInitialLineLength(8192)
                .setMaxHeaderSize(16384).setMaxChunkSize(64 * 1024), 1024);
    }

    private void tunnelUp(Tunnel t) {
        if (!live.stillAuthorized(config, t)) {
            t.session().close(); // its token was revoked during its handshake
            return;
        }
        if (metrics != null) {
            metrics.tunnelUp(t); // before the tunnel can take a request
        }
        px.registry().add(t);
        t.session().closeFuture().whenComplete((v, e) ->
                log.info("tunnel '{}' from {} closed", t.name(), t.remote()));
    }

    public ProxyIdentity identity() {
        return identity;
    }

    /**
     * Re-reads the tokens file, the certificate files and whatever else registered with {@link
     * #reloads()} (what SIGHUP does; the proxy command installs the signal handler).
     */
    public void reload() {
        live.reloads.reloadAll();
    }

    /** Where reloadable parts register to be reloaded with the rest on SIGHUP. */
    public Reloads reloads() {
        return live.reloads;
    }

    /** The tunnel tokens in force. */
    public LiveTokens tokens() {
        return live.tokens;
    }

    /** The certificate new TLS connections get. */
    public LiveCertificate certificate() {
        return live.certificate;
    }

    /** The admin API's token, or null without an admin listener. */
    public AdminToken adminToken() {
        return live.adminToken;
    }

    public int tunnelPort() {
        return port(tunnelListener);
    }

    public int httpPort() {
        return port(httpListener);
    }

    public int httpsPort() {
        return port(httpsListener);
    }

    public int adminPort() {
        return port(adminListener);
    }

    private static int port(Channel ch) {
        return ch == null ? -1 : ((InetSocketAddress) ch.localAddress()).getPort();
    }

    /** Completes once a tunnel of {@code name} is connected (at once when one is). */
    public CompletableFuture<Tunnel> tunnelConnected(String name) {
        return px.registry().connected(name);
    }

    /** Visitor rules and limits per tunnel (registered with {@link #reloads()}: SIGHUP reloads them). */
    public AccessControl accessControl() {
        return px.access();
    }

    /** The metrics {@code /metrics} serves; null when the admin listener is off. */
    public ProxyMetrics metrics() {
        return metrics;
    }

    /** Tunnels connected right now. */
    public List<Tunnel> tunnels() {
        return px.registry().all();
    }

    /**
     * Tells {@code listener} of every request from now on, when it ends (see {@link RequestListener}
     * for its contract).
     */
    public void onRequest(RequestListener listener) {
        px.listeners().add(listener);
    }

    /** The status document the admin endpoint serves. */
    public String status() {
        return new AdminHandler(px).status();
    }

    /**
     * Stops accepting, sends GOAWAY to every origin and HTTP/2 client, lets in-flight requests finish within the
     * configured grace, then closes everything.
     */
    public void shutdownGracefully() {
        listeners.close().awaitUninterruptibly();
        for (Channel ch : clients) {
            Http2ClientConnection h2 = ch.pipeline().get(Http2ClientConnection.class);
            if (h2 != null) {
                ch.eventLoop().execute(h2::drain); // GOAWAY; its open streams finish
            }
        }
        List<CompletableFuture<Void>> closing = new ArrayList<>();
        for (Tunnel t : px.registry().all()) {
            TunnelSession s = t.session();
            closing.add(s.shutdownGracefully(config.shutdownGrace()));
        }
        long deadline = System.nanoTime() + config.shutdownGrace().toNanos();
        try {
            CompletableFuture.allOf(closing.toArray(CompletableFuture[]::new))
                    .get(config.shutdownGrace().toMillis() + 1000, TimeUnit.MILLISECONDS);
        } catch (Exception e) {
            log.info("grace period over; closing what is left");
        }
        // An origin stream that ended may still have its last bytes in a slow client's buffer:
        // the request is in flight until its last write completed (Exchange.ended()).
        java.util.concurrent.CountDownLatch never = new java.util.concurrent.CountDownLatch(1);
        while (px.stats().requestsInFlight() > 0 && System.nanoTime() < deadline) {
            try {
                never.await(10, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        close();
    }

    @Override
    public void close() {
        if (live != null) {
            live.close();
        }
        listeners.close().awaitUninterruptibly();
        if (dashboard != null) {
            dashboard.close();
        }
        clients.close().awaitUninterruptibly();
        for (Tunnel t : px.registry().all()) {
            t.session().close();
        }
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly();
        px.access().close();
        if (metrics != null) {
            metrics.close();
        }
    }
}
