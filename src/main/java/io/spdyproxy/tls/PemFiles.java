package io.spdyproxy.tls;

import java.io.IOException;
import java.io.Reader;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.PrivateKey;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;

/** Reads and writes certificates and keys as PEM; keys are written readable by the owner only. */
public final class PemFiles {
    private PemFiles() {}

    public static void write(SelfSignedCertificate cert, Path certFile, Path keyFile) throws IOException {
        Files.writeString(certFile, pem(cert.certificate()), StandardCharsets.US_ASCII);
        Files.deleteIfExists(keyFile);
        try {
            Files.createFile(keyFile, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        } catch (UnsupportedOperationException e) {
            Files.createFile(keyFile);
        }
        // PKCS#8 keeps the curve with the key, so it reads back on its own.
        Files.writeString(keyFile, pem(new JcaPKCS8Generator(cert.key(), null)), StandardCharsets.US_ASCII,
                StandardOpenOption.TRUNCATE_EXISTING);
    }

    public static SelfSignedCertificate read(Path certFile, Path keyFile) throws IOException {
        return new SelfSignedCertificate(readKey(keyFile), readCertificate(certFile));
    }

    public static X509Certificate readCertificate(Path file) throws IOException {
        try (var in = Files.newInputStream(file)) {
            return (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
        } catch (CertificateException e) {
            throw new IOException("not a PEM certificate: " + file + " (" + e.getMessage() + ")", e);
        }
    }

    public static PrivateKey readKey(Path file) throws IOException {
        try (Reader r = Files.newBufferedReader(file, StandardCharsets.US_ASCII); PEMParser p = new PEMParser(r)) {
            Object o;
            try {
                o = p.readObject();
            } catch (IOException | RuntimeException e) {
                throw new IOException("cannot read the private key in " + file + ": " + e.getMessage(), e);
            }
            JcaPEMKeyConverter conv = new JcaPEMKeyConverter();
            if (o instanceof PEMKeyPair kp) {
                return conv.getKeyPair(kp).getPrivate();
            }
            if (o instanceof PrivateKeyInfo info) {
                return conv.getPrivateKey(info);
            }
            throw new IOException("not a PEM private key: " + file);
        }
    }

    private static String pem(Object o) throws IOException {
        if (o instanceof JcaPKCS8Generator g) {
            o = g.generate();
        }
        StringWriter s = new StringWriter();
        try (JcaPEMWriter w = new JcaPEMWriter(s)) {
            w.writeObject(o);
        }
        return s.toString();
    }
}
