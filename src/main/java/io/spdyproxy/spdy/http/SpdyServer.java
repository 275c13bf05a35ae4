package io.spdyproxy.spdy.http;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.ssl.ApplicationProtocolNegotiationHandler;
import io.netty.handler.ssl.SslContext;
import io.netty.util.concurrent.GlobalEventExecutor;
import io.spdyproxy.spdy.SpdyProtocol;
import io.spdyproxy.spdy.SpdySession;
import io.spdyproxy.spdy.SpdySessionConfig;
import io.spdyproxy.spdy.SpdySessionListener;
import io.spdyproxy.transport.Transport;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Serves an {@link HttpRequestHandler} over SPDY, like the original's {@code
 * ListenAndServe(addr, handler)}: on a listening socket (TLS with ALPN {@code spdy/3.1} or {@code
 * spdy/3}, or plain TCP), or on one connection that already exists ({@link #serve}). On TLS, a
 * client that offers ALPN but no SPDY protocol is refused at once ({@link AlpnRefusal}); one that
 * offers none gets SPDY/3.1.
 *
 * <p>Threading: {@link #start} and {@link #close} may be called from any thread.
 */
public final class SpdyServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(SpdyServer.class);
    private final Channel serverChannel;
    private final EventLoopGroup group;
    private final boolean ownGroup;
    private final ChannelGroup connections = new DefaultChannelGroup(GlobalEventExecutor.INSTANCE);
    private final List<SpdySession> sessions = new ArrayList<>();

    private SpdyServer(Channel serverChannel, EventLoopGroup group, boolean ownGroup) {
        this.serverChannel = serverChannel;
        this.group = group;
        this.ownGroup = ownGroup;
    }

    /**
     * Listens on {@code bind} (port 0 picks a free one). {@code ssl} null means plain TCP;
     * {@code group} null means the server runs its own event loops.
     */
    public static SpdyServer start(InetSocketAddress bind, SslContext ssl, SpdySessionConfig config,
            HttpRequestHandler handler, EventLoopGroup group) throws InterruptedException {
        return start(bind, ssl, config, listener(handler), group);
    }

    /** As above, with each session's listener given directly. */
    public static SpdyServer start(InetSocketAddress bind, SslContext ssl, SpdySessionConfig config,
            SpdySessionListener handler, EventLoopGroup group) throws InterruptedException {
        boolean own = group == null;
        EventLoopGroup loops = own ? Transport.newGroup(0, "spdy-server") : group;
        SpdyServer[] self = new SpdyServer[1];
        ServerBootstrap b = new ServerBootstrap()
                .group(loops)
                .channel(Transport.serverChannel())
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        self[0].connections.add(ch);
                        if (ssl == null) {
                            self[0].track(SpdySession.install(ch, config, handler));
                            return;
                        }
                        ch.pipeline().addLast("alpn-refusal", new AlpnRefusal());
                        ch.pipeline().addLast(ssl.newHandler(ch.alloc()));
                        ch.pipeline().addLast(new ApplicationProtocolNegotiationHandler(
                                SpdyProtocol.SPDY_3_1.alpnId()) {
                            @Override
                            protected void configurePipeline(ChannelHandlerContext ctx, String protocol) {
                                if (!AlpnRefusal.spoken(protocol)) {
                                    // The context agreed on a protocol we do not speak: end it now.
                                    log.debug("TLS client {} agreed on ALPN {}, not SPDY: closed",
                                            ctx.channel().remoteAddress(), protocol);
                                    ctx.close();
                                    return;
                                }
                                SpdySessionConfig c = config.toBuilder()
                                        .protocol(SpdyProtocol.fromAlpn(protocol)).build();
                                self[0].track(SpdySession.install(ctx.channel(), c, handler));
                            }
                        });
                    }
                });
        Channel server;
        try {
            server = b.bind(bind).sync().channel();
        } catch (InterruptedException | RuntimeException e) {
            if (own) {
                loops.shutdownGracefully(0, 0, java.util.concurrent.TimeUnit.SECONDS);
            }
            throw e;
        }
        self[0] = new SpdyServer(server, loops, own);
        return self[0];
    }

    /** Serves {@code handler} on an existing connection, as the SPDY server role. */
    public static SpdySession serve(Channel channel, SpdySessionConfig config, HttpRequestHandler handler) {
        return SpdySession.install(channel, config, listener(handler));
    }

    /** A session listener that gives each peer-opened stream to {@code handler}. */
    public static SpdySessionListener listener(HttpRequestHandler handler) {
        return (stream, headers) -> new HttpExchange(handler);
    }

    private synchronized void track(SpdySession session) {
        sessions.add(session);
        session.closeFuture().whenComplete((v, e) -> untrack(session));
    }

    private synchronized void untrack(SpdySession session) {
        sessions.remove(session);
    }

    /** Sessions open right now. */
    public synchronized List<SpdySession> sessions() {
        return List.copyOf(sessions);
    }

    public int port() {
        return ((InetSocketAddress) serverChannel.localAddress()).getPort();
    }

    /** Stops listening, sends GOAWAY on every session and waits up to {@code deadline} for them. */
    public void shutdownGracefully(Duration deadline) {
        serverChannel.close().syncUninterruptibly();
        List<CompletableFuture<Void>> closing = new ArrayList<>();
        for (SpdySession s : sessions()) {
            closing.add(s.shutdownGracefully(deadline));
        }
        try {
            CompletableFuture.allOf(closing.toArray(CompletableFuture[]::new))
                    .get(deadline.toMillis() + 1000, java.util.concurrent.TimeUnit.MILLISECONDS);
        } catch (Exception e) {
            // past the deadline: close() below ends what is left
        }
        close();
    }

    @Override
    public void close() {
        serverChannel.close().syncUninterruptibly();
        connections.close().syncUninterruptibly();
        if (ownGroup) {
            group.shutdownGracefully(0, 2, java.util.concurrent.TimeUnit.SECONDS).syncUninterruptibly();
        }
    }
}
