package io.spdyproxy.observe.dashboard;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** {@link LoopbackHost}: which Host values the admin listener answers (DNS rebinding). */
class LoopbackHostTest {

    @ParameterizedTest
    @ValueSource(strings = {"localhost", "LOCALHOST:8080", "localhost.", "dash.localhost:1", "127.0.0.1",
            "127.1.2.3:65535", "[::1]", "[::1]:9000", "[0:0:0:0:0:0:0:1]:80"})
    void loopbackNamesAndAddressesAreAllowed(String host) {
        assertThat(LoopbackHost.allows(host)).isTrue();
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "evil.example", "localhost.evil.example", "evillocalhost", "127.0.0.1.nip.io",
            "10.0.0.1", "0.0.0.0", "[::2]", "[::ffff:127.0.0.1]", "[::1", "::1", "localhost:", "localhost:abc",
            "localhost:1234567", "127.0.0.1:80:80", "[::1]x", "localhost@evil.example"})
    void anythingElseIsRefused(String host) {
        assertThat(LoopbackHost.allows(host)).isFalse();
    }
}
