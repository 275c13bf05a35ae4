package io.spdyproxy.proxy;

/**
 * Every {@link ClientHardeningTest} again with client connections moved onto their tunnel's loop
 * ({@link LoopAffinity}): request bodies, malformed chunks, timeouts and limits across the move.
 */
class ClientHardeningWithAffinityTest extends ClientHardeningTest {
    @Override
    ProxyConfig configure(ProxyConfig c) {
        return c.withLoopAffinity(true);
    }
}
