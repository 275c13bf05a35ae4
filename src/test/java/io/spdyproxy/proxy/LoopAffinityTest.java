package io.spdyproxy.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.util.concurrent.EventExecutor;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A client connection moves onto the loop of the tunnel its first request goes to
 * ({@link LoopAffinity}), on real sockets with both transports Netty offers here, and keeps working
 * there: the request is read, the stream opened on the tunnel's loop, the answer written, the next
 * request on the same connection read after the move. With the move off, the same exchange works
 * across the two loops by re-dispatching each event.
 */
class LoopAffinityTest {
    static Stream<Arguments> transports() {
        return Stream.of(Arguments.of("nio", true), Arguments.of("nio", false), Arguments.of("epoll", true),
                Arguments.of("epoll", false));
    }

    /** Where each stream was opened: on the tunnel's loop or not. */
    private final BlockingQueue<Boolean> openedOnTunnelLoop = new LinkedBlockingQueue<>();

    @ParameterizedTest(name = "{0}, affinity {1}")
    @MethodSource("transports")
    void aConnectionRunsItsExchangesOnItsTunnelsLoop(String transport, boolean affinity) throws Exception {
        IoHandlerFactory io;
        Class<? extends ServerChannel> server;
        if (transport.equals("epoll")) {
            Assumptions.assumeTrue(Epoll.isAvailable(), "epoll is not available here");
            io = EpollIoHandler.newFactory();
            server = EpollServerSocketChannel.class;
        } else {
            io = NioIoHandler.newFactory();
            server = NioServerSocketChannel.class;
        }
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(2, io);
        try {
            Channel listener = new ServerBootstrap().group(group).channel(server)
                    .childHandler(new ChannelInitializer<Channel>() {
                        @Override
                        protected void initChannel(Channel ch) {
                            ch.config().setAutoRead(false);
                            FakeTunnel tunnel = new FakeTunnel("default", otherLoop(group, ch.eventLoop()));
                            tunnel.keepSent = false;
                            tunnel.onOpen = o -> {
                                boolean there = tunnel.eventLoop().inEventLoop();
                                openedOnTunnelLoop.add(there);
                                // The tunnel answers on its own loop, as a real session does.
                                tunnel.eventLoop().execute(() -> {
                                    o.accept();
                                    o.head("200", false, "content-length", "2");
                                    o.data("ok", true);
                                });
                            };
                            ProxyConfig config = ProxyConfig.defaults(Path.of("unused"));
                            ProxyContext px = new ProxyContext(config, new TunnelRegistry(),
                                    new Router(config.domain(), config.defaultTunnel()), new ProxyStats());
                            px.registry().add(tunnel.tunnel());
                            ClientTimeouts timeouts = new ClientTimeouts(config.idleTimeout(),
                                    config.requestHeadTimeout());
                            ch.pipeline().addLast(timeouts, ProxyServer.frontendCodec(),
                                    new FrontendHandler(px, "http", timeouts, affinity));
                        }
                    }).bind("127.0.0.1", 0).sync().channel();
            int port = ((InetSocketAddress) listener.localAddress()).getPort();
            try (Socket s = new Socket("127.0.0.1", port)) {
                s.setSoTimeout(10_000);
                for (int i = 0; i < 3; i++) {
                    s.getOutputStream().write("GET / HTTP/1.1\r\nHost: h\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                    assertThat(readResponse(s.getInputStream())).startsWith("HTTP/1.1 200 OK\r\n").endsWith("\r\n\r\nok");
                    assertThat(openedOnTunnelLoop.poll(10, TimeUnit.SECONDS)).as("request %d", i).isEqualTo(affinity);
                }
            } finally {
                listener.close().sync();
            }
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
    }

    private static EventLoop otherLoop(EventLoopGroup group, EventLoop not) {
        for (EventExecutor e : group) {
            if (e != not) {
                return (EventLoop) e;
            }
        }
        throw new AssertionError("a group of one loop");
    }

    /** One response with a Content-Length body. */
    private static String readResponse(InputStream in) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int length = -1;
        while (true) {
            int b = in.read();
            if (b < 0) {
                break;
            }
            out.write(b);
            String text = out.toString(StandardCharsets.ISO_8859_1);
            int end = text.indexOf("\r\n\r\n");
            if (end >= 0 && length < 0) {
                int at = text.toLowerCase().indexOf("content-length: ");
                length = Integer.parseInt(text.substring(at + 16, text.indexOf("\r\n", at)).trim());
            }
            if (end >= 0 && out.size() == end + 4 + length) {
                break;
            }
        }
        return out.toString(StandardCharsets.ISO_8859_1);
    }
}
