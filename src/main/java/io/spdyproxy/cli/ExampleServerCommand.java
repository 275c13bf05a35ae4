package io.spdyproxy.cli;

import io.spdyproxy.example.ExampleHandler;
import io.spdyproxy.tunnel.spdy.SpdyTunnelSession;
import io.spdyproxy.spdy.SpdyProtocol;
import io.spdyproxy.spdy.SpdyRole;
import io.spdyproxy.spdy.SpdySessionConfig;
import io.spdyproxy.spdy.http.SpdyServer;
import io.spdyproxy.tls.SelfSignedCertificate;
import io.spdyproxy.tls.TlsContexts;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Runs the library's example SPDY server until interrupted. */
@Command(name = "example-server", mixinStandardHelpOptions = true,
        description = "Serve the example SPDY/3.1 service over TLS (ALPN spdy/3.1, spdy/3).")
final class ExampleServerCommand implements Callable<Integer> {

    @Option(names = "--port", defaultValue = "8443", description = "TCP port (default: ${DEFAULT-VALUE}).")
    int port;

    @Option(names = "--bind", defaultValue = "127.0.0.1", description = "Address (default: ${DEFAULT-VALUE}).")
    String bind;

    @Override
    public Integer call() throws Exception {
        SelfSignedCertificate cert = SelfSignedCertificate.generate("localhost", "127.0.0.1");
        try (SpdyServer server = SpdyServer.start(new InetSocketAddress(bind, port),
                TlsContexts.server(cert, List.of(SpdyProtocol.SPDY_3_1.alpnId(), SpdyProtocol.SPDY_3.alpnId())),
                SpdySessionConfig.builder(SpdyRole.SERVER).build(), SpdyTunnelSession.listener(new ExampleHandler()), null)) {
            System.out.println("SPDY example server on " + bind + ":" + server.port()
                    + " (TLS, ALPN spdy/3.1; certificate SHA-256 "
                    + SelfSignedCertificate.fingerprint(cert.certificate()) + ")");
            CountDownLatch forever = new CountDownLatch(1);
            Runtime.getRuntime().addShutdownHook(new Thread(forever::countDown));
            forever.await();
        }
        return 0;
    }
}
