package io.spdyproxy.tunnel.handshake;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import io.spdyproxy.origin.OriginClient;
import io.spdyproxy.origin.OriginConfig;
import io.spdyproxy.spdy.SpdyRole;
import io.spdyproxy.spdy.SpdySessionConfig;
import io.spdyproxy.testing.LeakCheckExtension;
import io.spdyproxy.testing.TestCerts;
import io.spdyproxy.tls.SelfSignedCertificate;
import io.spdyproxy.tls.TlsContexts;
import io.spdyproxy.transport.Transport;
import io.spdyproxy.tunnel.Tunnel;
import io.spdyproxy.tunnel.handshake.TunnelProtocol.Kind;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Choosing the tunnel protocol in the handshake (PROTOCOL.md, "Choosing the tunnel protocol"):
 * an origin asking for h2 gets h2 from a proxy that speaks it and SPDY from one that does not
 * (a proxy from before HTTP/2 tunnels, played by an acceptor that takes SPDY only: it answers
 * exactly as those did), and an origin asking for SPDY sends the header it always sent.
 */
@Timeout(30)
@ExtendWith(LeakCheckExtension.class)
class TunnelProtocolNegotiationTest {
    private final EventLoopGroup loops = Transport.newGroup(2, "negotiation");
    private Channel listener;
    private OriginClient origin;

    @AfterEach
    void tearDown() {
        if (origin != null) {
            origin.close();
        }
        if (listener != null) {
            listener.close().syncUninterruptibly();
        }
        loops.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    @Test
    void anH2OriginFallsBackToSpdyWithAProxyThatSpeaksOnlySpdy() throws Exception {
        Tunnel[] ends = connect(EnumSet.of(Kind.SPDY), Kind.H2);
        assertThat(ends[0].session().protocol()).as("proxy side").isEqualTo("spdy/3.1");
        assertThat(ends[1].session().protocol()).as("origin side").isEqualTo("spdy/3.1");
        assertThat(ends[0].session().ping().get(5, TimeUnit.SECONDS)).isPositive();
    }

    @Test
    void anH2OriginGetsH2FromAProxyThatSpeaksIt() throws Exception {
        Tunnel[] ends = connect(EnumSet.allOf(Kind.class), Kind.H2);
        assertThat(ends[0].session().protocol()).isEqualTo("h2");
        assertThat(ends[1].session().protocol()).isEqualTo("h2");
        assertThat(ends[0].session().supportsUpgrade()).isTrue();
        assertThat(ends[1].session().ping().get(5, TimeUnit.SECONDS)).isPositive();
    }

    @Test
    void aSpdyOriginGetsSpdyFromAProxyThatSpeaksH2() throws Exception {
        Tunnel[] ends = connect(EnumSet.allOf(Kind.class), Kind.SPDY);
        assertThat(ends[0].session().protocol()).isEqualTo("spdy/3.1");
        assertThat(ends[1].session().protocol()).isEqualTo("spdy/3.1");
    }

    @Test
    void theOfferListsH2FirstOnlyWhenAsked() {
        assertThat(TunnelProtocol.offer(Kind.SPDY)).as("byte for byte what origins always sent")
                .isEqualTo("spdy/3.1");
        assertThat(TunnelProtocol.offer(Kind.H2)).isEqualTo("h2, spdy/3.1");
    }

    @Test
    void theProxyTakesTheOriginsFirstChoiceItSpeaks() {
        assertThat(TunnelProtocol.choose(headers("h2, spdy/3.1"), EnumSet.allOf(Kind.class))).isEqualTo(Kind.H2);
        assertThat(TunnelProtocol.choose(headers("spdy/3.1, h2"), EnumSet.allOf(Kind.class))).isEqualTo(Kind.SPDY);
        assertThat(TunnelProtocol.choose(headers("h2, spdy/3.1"), EnumSet.of(Kind.SPDY))).isEqualTo(Kind.SPDY);
        assertThat(TunnelProtocol.choose(headers("h3, H2"), EnumSet.allOf(Kind.class))).isEqualTo(Kind.H2);
        assertThat(TunnelProtocol.choose(headers("quic/9"), EnumSet.allOf(Kind.class)))
                .as("nothing we speak: SPDY, as every proxy answered before the list").isEqualTo(Kind.SPDY);
    }

    @Test
    void theFlagSpellingsParseAndAnUnknownOneSaysWhatIsExpected() {
        assertThat(Kind.parse("h2")).isEqualTo(Kind.H2);
        assertThat(Kind.parse(" SPDY ")).isEqualTo(Kind.SPDY);
        assertThatThrownBy(() -> Kind.parse("h3")).hasMessageContaining("expected: spdy or h2");
    }

    @Test
    void anAcceptorWithoutSpdyIsRefused() {
        assertThatThrownBy(() -> new TunnelAcceptor(null, SpdySessionConfig.builder(SpdyRole.CLIENT).build(),
                (n, t, l) -> TunnelAuthenticator.Decision.accept("default"), t -> { },
                TunnelAcceptor.Limits.defaults(), EnumSet.of(Kind.H2)))
                .hasMessageContaining("SPDY among them");
    }

    private static HttpHeaders headers(String protocols) {
        return new DefaultHttpHeaders().set(TunnelProtocol.PROTOCOL_HEADER, protocols);
    }

    /** A tunnel listener taking {@code accepted}, and an origin asking for {@code asked}: both ends. */
    private Tunnel[] connect(Set<Kind> accepted, Kind asked) throws Exception {
        SelfSignedCertificate cert = TestCerts.LOCALHOST;
        CompletableFuture<Tunnel> atProxy = new CompletableFuture<>();
        TunnelAcceptor acceptor = new TunnelAcceptor(TlsContexts.server(cert, List.of()),
                SpdySessionConfig.builder(SpdyRole.CLIENT).build(),
                (name, token, legacy) -> TunnelAuthenticator.Decision.accept(TunnelProtocol.DEFAULT_NAME),
                atProxy::complete, TunnelAcceptor.Limits.defaults(), accepted);
        listener = new ServerBootstrap().group(loops).channel(Transport.serverChannel()).childHandler(acceptor)
                .bind("127.0.0.1", 0).sync().channel();
        int port = ((InetSocketAddress) listener.localAddress()).getPort();
        origin = new OriginClient(OriginConfig.of("127.0.0.1", port).withBackoff(Duration.ofMillis(50),
                Duration.ofSeconds(1)).withTunnelProtocol(asked),
                TlsContexts.clientPinned(SelfSignedCertificate.fingerprint(cert.certificate())), ex -> { }, loops)
                .start();
        Tunnel proxySide = atProxy.get(10, TimeUnit.SECONDS);
        TunnelFixture.await(() -> origin.connectedTunnels() == 1, Duration.ofSeconds(10), () -> "origin tunnel");
        return new Tunnel[] {proxySide, new Tunnel("origin", origin.sessions().get(0), false, null)};
    }
}
