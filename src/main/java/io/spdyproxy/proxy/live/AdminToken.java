package io.spdyproxy.proxy.live;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.util.Locale;

/**
 * The secret that guards the admin API: read from {@code --admin-token-file}, or generated into the
 * data directory's {@code admin-token} (mode 0600) on first start and kept there, so that
 * automation on the same machine can read it. Checked in constant time: both sides are hashed
 * first, so neither length nor content leaks through timing.
 *
 * @param file where it was read from
 * @param generated whether this start made it
 */
public record AdminToken(Path file, boolean generated, byte[] hash) {
    public static final String FILE = "admin-token";

    /** Reads {@code explicit}, or the data directory's file, making that one when it is missing. */
    public static AdminToken load(Path explicit, Path dataDir) throws IOException {
        if (explicit != null) {
            return new AdminToken(explicit, false, TokensFile.sha256(readToken(explicit)));
        }
        Path f = dataDir.resolve(FILE);
        try {
            return new AdminToken(f, false, TokensFile.sha256(readToken(f)));
        } catch (NoSuchFileException e) {
            Files.createDirectories(dataDir);
            String token = TokensFile.newToken();
            try {
                Files.createFile(f, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            } catch (UnsupportedOperationException notPosix) {
                Files.createFile(f);
            }
            Files.writeString(f, token + "\n", StandardCharsets.US_ASCII, StandardOpenOption.TRUNCATE_EXISTING);
            return new AdminToken(f, true, TokensFile.sha256(token));
        }
    }

    private static String readToken(Path f) throws IOException {
        String t = Files.readString(f, StandardCharsets.UTF_8).trim();
        if (t.isEmpty() || t.contains("\n") || t.length() < 16) {
            throw new IOException("admin token file " + f + ": expected one line of at least 16 characters");
        }
        return t;
    }

    /** Whether {@code authorization} (a request's header, may be null) is {@code Bearer <this token>}. */
    public boolean accepts(String authorization) {
        String given = "";
        if (authorization != null && authorization.length() > 7
                && authorization.substring(0, 7).toLowerCase(Locale.ROOT).equals("bearer ")) {
            given = authorization.substring(7).trim();
        }
        boolean match = MessageDigest.isEqual(TokensFile.sha256(given), hash);
        return match && !given.isEmpty();
    }
}
