package io.spdyproxy.origin.inspect;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.timeout.IdleStateHandler;
import io.spdyproxy.transport.Transport;
import io.spdyproxy.tunnel.RequestHandler;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;

/**
 * The origin's request inspector ({@code spdy-proxy origin --inspect PORT}), like ngrok's local
 * inspector: {@link #handler()} wraps the origin's handler and records every request that reaches
 * this origin in a bounded ring, and a small HTTP server on 127.0.0.1 only serves a page and a
 * JSON API to browse them and to replay any of them to the app, edited or not.
 *
 * <p>Without {@code --inspect} none of this exists: the origin's handler is not wrapped.
 *
 * <p>Threading: started and closed by one thread; the handler runs on the tunnel's loops, the
 * server and replays on a loop of their own.
 */
public final class Inspector implements AutoCloseable {
    /** Requests kept. */
    public static final int MAX_REQUESTS = 500;
    /** Copied heads and bodies kept, over all requests. */
    public static final long MAX_BYTES = 32L * 1024 * 1024;
    /** Bytes of each body kept (request and response); the rest is only counted. */
    public static final int BODY_LIMIT = 64 * 1024;
    /** The largest replay request (edited body and headers as JSON) the API takes. */
    private static final int MAX_API_REQUEST = 2 * BODY_LIMIT * 4 + 64 * 1024;

    private final EventLoopGroup group;
    private final Channel server;
    private final CapturingHandler handler;
    private final CaptureStore store;

    private Inspector(EventLoopGroup group, Channel server, CapturingHandler handler, CaptureStore store) {
        this.group = group;
        this.server = server;
        this.handler = handler;
        this.store = store;
    }

    /** Listens on 127.0.0.1:{@code port} (0: any free port) and wraps {@code handler}. */
    public static Inspector start(int port, RequestHandler handler) throws IOException {
        return start(port, handler, MAX_REQUESTS, MAX_BYTES, BODY_LIMIT);
    }

    static Inspector start(int port, RequestHandler appHandler, int maxRequests, long maxBytes, int bodyLimit)
            throws IOException {
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port: " + port + " (expected: 0 to 65535)");
        }
        CaptureStore store = new CaptureStore(maxRequests, maxBytes, bodyLimit);
        CapturingHandler capturing = new CapturingHandler(appHandler, store);
        EventLoopGroup group = Transport.newGroup(1, "inspector");
        Replayer replayer = new Replayer(capturing, store, group.next());
        InspectorSite[] site = new InspectorSite[1];
        // Accepting starts once the site (which needs the bound port) is there.
        ServerBootstrap b = new ServerBootstrap().group(group).channel(Transport.serverChannel())
                .option(io.netty.channel.ChannelOption.AUTO_READ, false)
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast(new IdleStateHandler(0, 0, 120, TimeUnit.SECONDS) {
                            @Override
                            protected void channelIdle(io.netty.channel.ChannelHandlerContext ctx,
                                    io.netty.handler.timeout.IdleStateEvent evt) {
                                ctx.close();
                            }
                        }, new HttpServerCodec(), new HttpObjectAggregator(MAX_API_REQUEST),
                                new InspectorHandler(site[0], store, replayer));
                    }
                });
        try {
            // Loopback only, whatever else the origin binds: the captures hold visitors' requests.
            Channel ch = b.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port)).sync().channel();
            site[0] = new InspectorSite(((InetSocketAddress) ch.localAddress()).getPort());
            ch.config().setAutoRead(true);
            return new Inspector(group, ch, capturing, store);
        } catch (Exception e) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            throw new IOException("inspector: cannot listen on 127.0.0.1:" + port + ": " + e.getMessage(), e);
        }
    }

    /** The origin's handler, recording what passes. */
    public RequestHandler handler() {
        return handler;
    }

    public int port() {
        return ((InetSocketAddress) server.localAddress()).getPort();
    }

    /** The page's address. */
    public String url() {
        return "http://127.0.0.1:" + port() + "/";
    }

    CaptureStore store() {
        return store;
    }

    @Override
    public void close() {
        server.close().syncUninterruptibly();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }
}
