package io.spdyproxy.testing;

import io.spdyproxy.tls.SelfSignedCertificate;

/** One self-signed certificate for all tests of a run (generating one costs a few ms). */
public final class TestCerts {
    public static final SelfSignedCertificate LOCALHOST =
            SelfSignedCertificate.generate("localhost", "127.0.0.1");

    private TestCerts() {}
}
