package io.spdyproxy.proxy.live;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The data directory's tokens file: one {@code tunnel-name:sha256-hex-of-token} line per tunnel,
 * {@code #} comments and blank lines ignored. Tokens are never stored, only their hashes. Edits
 * (the {@code token} command, the admin API) keep the other lines as they were and replace the
 * file atomically (a temporary file moved over it), so a running proxy's watcher never sees half
 * a file; a lock file serializes editors across processes.
 *
 * <p>Threading: safe from any thread; edits are serialized in this JVM and across processes.
 */
public final class TokensFile {
    /** A tunnel name is one DNS label, as the handshake requires (RFC 1035 section 2.3.1). */
    public static final String NAME_PATTERN = "[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?";
    private static final String HEADER = "# tunnel-name:sha256-of-token (edit with `spdy-proxy token`)";
    /** FileLock is per process; threads of this one queue here first. */
    private static final ReentrantLock IN_PROCESS = new ReentrantLock();

    private final Path file;

    public TokensFile(Path file) {
        this.file = file;
    }

    public Path path() {
        return file;
    }

    /** A refused edit: unknown or existing name, bad name. The message is for the user as is. */
    public static final class EditException extends Exception {
        private static final long serialVersionUID = 1L;
        private final Kind kind;

        public enum Kind { BAD_NAME, EXISTS, UNKNOWN }

        EditException(Kind kind, String message) {
            super(message);
            this.kind = kind;
        }

        public Kind kind() {
            return kind;
        }
    }

    /**
     * Tunnel name to hash, in file order; an absent file has none.
     *
     * @throws IOException naming the file and line of a malformed line
     */
    public Map<String, String> read() throws IOException {
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            return Map.of();
        }
        return parse(lines);
    }

    private Map<String, String> parse(List<String> lines) throws IOException {
        Map<String, String> out = new LinkedHashMap<>();
        for (int i = 0; i < lines.size(); i++) {
            String l = lines.get(i).trim();
            if (l.isEmpty() || l.startsWith("#")) {
                continue;
            }
            int colon = l.indexOf(':');
            String name = colon <= 0 ? "" : l.substring(0, colon);
            if (!name.matches(NAME_PATTERN) || !l.substring(colon + 1).matches("[0-9a-f]{64}")) {
                throw new IOException(file + " line " + (i + 1) + ": " + abbreviate(l)
                        + " (expected: name:sha256-hex, the name a DNS label)");
            }
            if (out.put(name, l.substring(colon + 1)) != null) {
                throw new IOException(file + " line " + (i + 1) + ": tunnel '" + name + "' listed twice");
            }
        }
        return out;
    }

    /**
     * Makes a new random token for {@code name}, stores its hash and returns the token (the only
     * time anyone sees it). With {@code replace}, an existing token of the name is replaced
     * (rotation); without, an existing name is refused.
     */
    public String add(String name, boolean replace) throws IOException, EditException {
        checkName(name);
        String token = newToken();
        edit(lines -> {
            int at = indexOf(lines, name);
            String line = name + ":" + hash(token);
            if (at >= 0 && !replace) {
                throw new EditException(EditException.Kind.EXISTS, "tunnel '" + name + "' already has a token"
                        + " (rotate it: `token rotate " + name + "`, or add --force)");
            }
            if (at >= 0) {
                lines.set(at, line);
            } else {
                lines.add(line);
            }
        });
        return token;
    }

    /** Removes {@code name}'s token. */
    public void revoke(String name) throws IOException, EditException {
        checkName(name);
        edit(lines -> {
            int at = indexOf(lines, name);
            if (at < 0) {
                throw new EditException(EditException.Kind.UNKNOWN, "no token for tunnel '" + name + "' in " + file);
            }
            lines.remove(at);
        });
    }

    private interface Edit {
        void apply(List<String> lines) throws EditException;
    }

    private void edit(Edit e) throws IOException, EditException {
        Files.createDirectories(file.toAbsolutePath().getParent());
        Path lockFile = file.resolveSibling(file.getFileName() + ".lock");
        IN_PROCESS.lock();
        try (FileChannel ch = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                FileLock held = ch.lock()) {
            List<String> lines = new ArrayList<>();
            try {
                lines.addAll(Files.readAllLines(file, StandardCharsets.UTF_8));
            } catch (NoSuchFileException none) {
                lines.add(HEADER);
            }
            parse(lines); // never build on a broken file: the user fixes it first
            e.apply(lines);
            writeAtomically(String.join("\n", lines) + "\n");
        } finally {
            IN_PROCESS.unlock();
        }
    }

    private void writeAtomically(String content) throws IOException {
        Path dir = file.toAbsolutePath().getParent();
        Path tmp;
        try {
            tmp = Files.createTempFile(dir, "." + file.getFileName() + ".", ".tmp",
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        } catch (UnsupportedOperationException e) {
            tmp = Files.createTempFile(dir, "." + file.getFileName() + ".", ".tmp");
        }
        try {
            Files.writeString(tmp, content, StandardCharsets.UTF_8);
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                ch.force(true); // the rename must not expose an empty file after a crash
            }
            try {
                Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    private static int indexOf(List<String> lines, String name) {
        for (int i = 0; i < lines.size(); i++) {
            if (lines.get(i).trim().startsWith(name + ":")) {
                return i;
            }
        }
        return -1;
    }

    public static void checkName(String name) throws EditException {
        if (name == null || !name.matches(NAME_PATTERN)) {
            throw new EditException(EditException.Kind.BAD_NAME, "tunnel name '" + name
                    + "' is not a DNS label (a-z, 0-9 and '-', at most 63, not starting or ending with '-')");
        }
    }

    /** A new random token: 192 bits, URL-safe Base64. */
    public static String newToken() {
        byte[] raw = new byte[24];
        new SecureRandom().nextBytes(raw);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(raw);
    }

    /** The hex SHA-256 under which a token is stored and compared. */
    public static String hash(String token) {
        return HexFormat.of().formatHex(sha256(token));
    }

    public static byte[] sha256(String token) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String abbreviate(String line) {
        return line.length() <= 80 ? line : line.substring(0, 80) + "...";
    }
}
