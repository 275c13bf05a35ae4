package io.spdyproxy.proxy;

/**
 * Every {@link OriginFramingTest} again with client connections moved onto their tunnel's loop
 * ({@link LoopAffinity}), where stream events reach the exchange without a re-dispatch.
 */
class OriginFramingWithAffinityTest extends OriginFramingTest {
    @Override
    ProxyConfig configure(ProxyConfig c) {
        return c.withLoopAffinity(true);
    }
}
