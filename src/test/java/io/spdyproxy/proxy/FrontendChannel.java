package io.spdyproxy.proxy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.util.ReferenceCountUtil;
import io.spdyproxy.testing.SocketLikeChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * The front end's pipeline (timeouts, codec, {@link FrontendHandler}) on an {@code EmbeddedChannel}
 * that reads only when asked, as the proxy's sockets do, with {@link FakeTunnel}s to route to.
 * Bytes in, bytes out, no network. Not thread-safe.
 */
final class FrontendChannel implements AutoCloseable {
    final ProxyContext px;
    final SocketLikeChannel channel;
    private int reads;

    FrontendChannel() {
        this(ProxyConfig.defaults(Path.of("unused")));
    }

    FrontendChannel(ProxyConfig config) {
        px = new ProxyContext(config, new TunnelRegistry(), new Router(config.domain(), config.defaultTunnel()),
                new ProxyStats());
        ClientTimeouts timeouts = new ClientTimeouts(config.idleTimeout(), config.requestHeadTimeout());
        channel = new SocketLikeChannel(new ChannelOutboundHandlerAdapter() {
            @Override
            public void read(ChannelHandlerContext ctx) {
                reads++;
                ctx.read();
            }
        }, timeouts, ProxyServer.frontendCodec(), new FrontendHandler(px, "http", timeouts));
        channel.config().setAutoRead(false);
        try {
            channel.register();
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    /** A tunnel of the default name on this channel's loop, connected. */
    FakeTunnel tunnel() {
        FakeTunnel t = new FakeTunnel(px.config().defaultTunnel(), channel.eventLoop());
        px.registry().add(t.tunnel());
        return t;
    }

    /** The client sends {@code wire}. */
    void send(String wire) {
        channel.writeInbound(Unpooled.copiedBuffer(wire, StandardCharsets.ISO_8859_1));
        settle();
    }

    /** Runs what the loop has queued (flushes included). */
    void settle() {
        channel.runPendingTasks();
        if (channel.isOpen()) {
            channel.flushOutbound();
        }
    }

    /** Everything written to the client since the last call. */
    String received() {
        settle();
        StringBuilder sb = new StringBuilder();
        Object o;
        while ((o = channel.readOutbound()) != null) {
            sb.append(((ByteBuf) o).toString(StandardCharsets.ISO_8859_1));
            ReferenceCountUtil.release(o);
        }
        return sb.toString();
    }

    /** How many times the front end asked for client bytes so far. */
    int reads() {
        return reads;
    }

    @Override
    public void close() {
        channel.finishAndReleaseAll();
    }
}
