package io.spdyproxy.transport;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.ServerSocketChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.util.concurrent.DefaultThreadFactory;

/** The one place that picks Netty's I/O transport, so every listener and dialer agree. */
public final class Transport {
    private Transport() {}

    /** An event loop group of {@code threads} loops (0: Netty's default, twice the cores). */
    public static EventLoopGroup newGroup(int threads, String name) {
        return new MultiThreadIoEventLoopGroup(threads, new DefaultThreadFactory(name, true),
                NioIoHandler.newFactory());
    }

    public static Class<? extends ServerSocketChannel> serverChannel() {
        return NioServerSocketChannel.class;
    }

    public static Class<? extends SocketChannel> socketChannel() {
        return NioSocketChannel.class;
    }
}
