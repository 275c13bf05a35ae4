package io.spdyproxy.transport;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.ServerSocketChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.util.concurrent.DefaultThreadFactory;

/**
 * The one place that picks Netty's I/O transport, so every listener and dialer agree: native
 * epoll on Linux when its library loads (fewer copies and syscalls), NIO otherwise. Setting the
 * system property {@code spdyproxy.transport=nio} forces NIO.
 */
public final class Transport {
    private static final boolean EPOLL = !"nio".equals(System.getProperty("spdyproxy.transport"))
            && Epoll.isAvailable();

    private Transport() {}

    /** The transport in use, for logs and benchmarks. */
    public static String name() {
        return EPOLL ? "epoll" : "nio";
    }

    /** An event loop group of {@code threads} loops (0: Netty's default, twice the cores). */
    public static EventLoopGroup newGroup(int threads, String name) {
        // The fix keeps answers to half-closed clients from being cut short (Netty 4.2.18).
        IoHandlerFactory io = EPOLL ? new EpollEmptyInterestFix(EpollIoHandler.newFactory())
                : NioIoHandler.newFactory();
        return new MultiThreadIoEventLoopGroup(threads, new DefaultThreadFactory(name, true), io);
    }

    /**
     * Caps the bytes a socket keeps queued in the kernel but not yet sent (Linux
     * TCP_NOTSENT_LOWAT, epoll only). Unsent data then waits in our own queues, where the SPDY
     * scheduler can still put a small response ahead of bulk data, and a slow client stops taking
     * data at our pace instead of soaking megabytes into its send buffer; throughput is unaffected
     * because data in flight does not count.
     */
    public static void limitUnsent(io.netty.channel.Channel ch, int bytes) {
        if (EPOLL && ch instanceof io.netty.channel.epoll.EpollSocketChannel) {
            ch.config().setOption(io.netty.channel.epoll.EpollChannelOption.TCP_NOTSENT_LOWAT, (long) bytes);
        }
    }

    public static Class<? extends ServerSocketChannel> serverChannel() {
        return EPOLL ? EpollServerSocketChannel.class : NioServerSocketChannel.class;
    }

    public static Class<? extends SocketChannel> socketChannel() {
        return EPOLL ? EpollSocketChannel.class : NioSocketChannel.class;
    }
}
