package io.spdyproxy.cli;

import io.netty.channel.EventLoopGroup;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpVersion;
import io.spdyproxy.example.ExampleHandler;
import io.spdyproxy.spdy.SpdyProtocol;
import io.spdyproxy.spdy.SpdyRole;
import io.spdyproxy.spdy.SpdySession;
import io.spdyproxy.spdy.SpdySessionConfig;
import io.spdyproxy.spdy.SpdySessionListener;
import io.spdyproxy.spdy.http.SpdyClient;
import io.spdyproxy.spdy.http.SpdyServer;
import io.spdyproxy.tls.SelfSignedCertificate;
import io.spdyproxy.tls.TlsContexts;
import io.spdyproxy.transport.Transport;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The embedded default: a SPDY server and a SPDY client in one process on loopback, exchanging
 * real requests over TLS. It becomes proxy + origin once the tunnel exists.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Start the example SPDY server on loopback, talk to it with the SPDY client, keep serving.")
final class DemoCommand implements Callable<Integer> {

    @Option(names = "--port", defaultValue = "8443", description = "TCP port (default: ${DEFAULT-VALUE}; 0 picks one).")
    int port;

    @Option(names = "--exit", description = "Exit after the demo requests instead of serving on.")
    boolean exit;

    @Override
    public Integer call() throws Exception {
        SelfSignedCertificate cert = SelfSignedCertificate.generate("localhost", "127.0.0.1");
        List<String> alpn = List.of(SpdyProtocol.SPDY_3_1.alpnId());
        EventLoopGroup group = Transport.newGroup(0, "demo");
        try (SpdyServer server = SpdyServer.start(new InetSocketAddress("127.0.0.1", port),
                TlsContexts.server(cert, alpn), SpdySessionConfig.builder(SpdyRole.SERVER).build(),
                new ExampleHandler(), group)) {
            System.out.println("SPDY/3.1 example server on 127.0.0.1:" + server.port() + " (TLS)");
            SpdySession session = SpdyClient.connect(group, new InetSocketAddress("127.0.0.1", server.port()),
                    TlsContexts.client(cert.certificate(), alpn),
                    SpdySessionConfig.builder(SpdyRole.CLIENT).build(),
                    SpdySessionListener.refusingStreams()).get(10, TimeUnit.SECONDS);
            System.out.println("client session: " + session.config().protocol().alpnId()
                    + ", ping " + session.ping().get(10, TimeUnit.SECONDS).toNanos() / 1000 + " µs");
            DefaultFullHttpRequest get = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/");
            get.headers().set(HttpHeaderNames.HOST, "localhost");
            FullHttpResponse hello = SpdyClient.fetch(session, get, "https", 1 << 20).get(10, TimeUnit.SECONDS);
            System.out.print("GET / -> " + hello.status() + ": " + hello.content().toString(StandardCharsets.UTF_8));
            hello.release();
            long t0 = System.nanoTime();
            int n = 64 << 20;
            DefaultFullHttpRequest bytes = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET,
                    "/bytes?n=" + n);
            FullHttpResponse big = SpdyClient.fetch(session, bytes, "https", n).get(60, TimeUnit.SECONDS);
            double secs = (System.nanoTime() - t0) / 1e9;
            System.out.printf("GET /bytes?n=%d -> %s, %d bytes in %.2f s (%.0f MB/s)%n", n, big.status(),
                    big.content().readableBytes(), secs, n / secs / 1e6);
            big.release();
            session.shutdownGracefully(Duration.ofSeconds(5)).get(10, TimeUnit.SECONDS);
            if (!exit) {
                System.out.println("Serving on 127.0.0.1:" + server.port() + "; Ctrl-C to stop.");
                CountDownLatch forever = new CountDownLatch(1);
                Runtime.getRuntime().addShutdownHook(new Thread(forever::countDown));
                forever.await();
            }
        } finally {
            group.shutdownGracefully(0, 2, TimeUnit.SECONDS);
        }
        return 0;
    }
}
