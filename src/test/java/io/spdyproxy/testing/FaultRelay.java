package io.spdyproxy.testing;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.util.ReferenceCountUtil;
import io.spdyproxy.transport.Transport;
import java.net.InetSocketAddress;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * A TCP relay for fault tests: listens on a loopback port and forwards every connection to a
 * target, with backpressure (auto-read off, read again once the write is done, as in Netty's
 * HexDumpProxy). {@link #freeze()} stops forwarding in both directions without closing anything
 * (a dead link as keepalive sees it); {@link #killAll()} drops every connection at once (a crashed
 * peer).
 */
public final class FaultRelay implements AutoCloseable {
    private final EventLoopGroup group = Transport.newGroup(1, "fault-relay");
    private final Channel server;
    private final Set<Channel> channels = ConcurrentHashMap.newKeySet();
    private volatile boolean frozen;

    public FaultRelay(int targetPort) throws InterruptedException {
        server = new ServerBootstrap().group(group).channel(Transport.serverChannel())
                .childOption(ChannelOption.AUTO_READ, false)
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel inbound) {
                        channels.add(inbound);
                        inbound.pipeline().addLast(new Frontend(targetPort));
                    }
                }).bind("127.0.0.1", 0).sync().channel();
    }

    public int port() {
        return ((InetSocketAddress) server.localAddress()).getPort();
    }

    /** Stops moving bytes in both directions; connections stay open. */
    public void freeze() {
        frozen = true;
    }

    /** Closes every relayed connection (both sides) at once. */
    public void killAll() {
        for (Channel c : channels) {
            c.close();
        }
    }

    @Override
    public void close() {
        server.close().syncUninterruptibly();
        killAll();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    private final class Frontend extends ChannelInboundHandlerAdapter {
        private final int targetPort;
        private Channel outbound;

        Frontend(int targetPort) {
            this.targetPort = targetPort;
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            Channel inbound = ctx.channel();
            Bootstrap b = new Bootstrap().group(inbound.eventLoop()).channel(Transport.socketChannel())
                    .option(ChannelOption.AUTO_READ, false)
                    .handler(new Pipe(inbound));
            b.connect("127.0.0.1", targetPort).addListener((ChannelFutureListener) f -> {
                if (f.isSuccess()) {
                    outbound = f.channel();
                    channels.add(outbound);
                    outbound.read();
                    inbound.read();
                } else {
                    inbound.close();
                }
            });
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            forward(ctx.channel(), outbound, msg);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            if (outbound != null) {
                outbound.close();
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }

    private final class Pipe extends ChannelInboundHandlerAdapter {
        private final Channel peer;

        Pipe(Channel peer) {
            this.peer = peer;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            forward(ctx.channel(), peer, msg);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            peer.close();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }

    private void forward(Channel from, Channel to, Object msg) {
        if (frozen || to == null || !to.isActive()) {
            ReferenceCountUtil.release(msg); // a frozen link loses what is in flight, like a dead route
            return;
        }
        to.writeAndFlush((ByteBuf) msg).addListener((ChannelFutureListener) f -> {
            if (f.isSuccess()) {
                from.read();
            } else {
                from.close();
            }
        });
    }
}
