package io.spdyproxy.tls;

import java.security.cert.CertificateException;

/**
 * The proxy's certificate was refused, with a message that says what was expected, what the
 * proxy presented (its SHA-256 fingerprint) and how to fix it. Thrown by the trust managers of
 * {@link TlsContexts}' client contexts; it reaches the dialer as the cause of the TLS handshake
 * failure. Retrying cannot fix it: a certificate does not change by itself.
 */
public final class CertificateProblem extends CertificateException {
    private static final long serialVersionUID = 1L;

    private final String presentedFingerprint;

    CertificateProblem(String message, String presentedFingerprint, Throwable cause) {
        super(message, cause);
        this.presentedFingerprint = presentedFingerprint;
    }

    /** The SHA-256 fingerprint of the certificate the proxy presented, as the proxy prints it. */
    public String presentedFingerprint() {
        return presentedFingerprint;
    }
}
