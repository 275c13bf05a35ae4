package io.spdyproxy.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.spdyproxy.proxy.live.TokensFile;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code spdy-proxy token add|rotate|list|revoke} on a data directory, as a user runs them. */
class TokenCommandTest {
    @TempDir
    Path dir;

    record Run(int code, String out, String err) {}

    private Run run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cl = Main.commandLine().setOut(new PrintWriter(out, true)).setErr(new PrintWriter(err, true));
        String[] all = new String[args.length + 2];
        System.arraycopy(args, 0, all, 0, args.length);
        all[args.length] = "--data-dir";
        all[args.length + 1] = dir.toString();
        return new Run(cl.execute(all), out.toString(), err.toString());
    }

    @Test
    void addPrintsTheTokenOnceAndStoresOnlyItsHash() throws Exception {
        Run add = run("token", "add", "alpha");
        assertThat(add.code()).isZero();
        String token = add.out().strip();
        assertThat(token).matches("[A-Za-z0-9_-]{32}");
        assertThat(add.err()).contains("shown once");
        String file = Files.readString(dir.resolve("tokens"));
        assertThat(file).contains("alpha:" + TokensFile.hash(token)).doesNotContain(token);

        Run again = run("token", "add", "alpha");
        assertThat(again.code()).isEqualTo(1);
        assertThat(again.err()).contains("already has a token").contains("token rotate alpha");

        Run rotated = run("token", "rotate", "alpha");
        assertThat(rotated.code()).isZero();
        assertThat(rotated.out().strip()).isNotEqualTo(token);
        assertThat(Files.readString(dir.resolve("tokens"))).contains("alpha:" + TokensFile.hash(rotated.out().strip()));
        assertThat(run("token", "add", "alpha", "--force").code()).isZero();
    }

    @Test
    void listShowsNamesOnlyAndRevokeRemovesOne() {
        String alpha = run("token", "add", "alpha").out().strip();
        run("token", "add", "beta");
        Run list = run("token", "list");
        assertThat(list.code()).isZero();
        assertThat(list.out()).isEqualTo("alpha\nbeta\n".replace("\n", System.lineSeparator()));
        assertThat(list.out()).doesNotContain(alpha);

        assertThat(run("token", "revoke", "alpha").code()).isZero();
        assertThat(run("token", "list").out().strip()).isEqualTo("beta");
    }

    @Test
    void clearErrorsForBadAndUnknownNames() {
        Run bad = run("token", "add", "Bad_Name");
        assertThat(bad.code()).isEqualTo(1);
        assertThat(bad.err()).contains("'Bad_Name' is not a DNS label");
        Run unknown = run("token", "revoke", "nobody");
        assertThat(unknown.code()).isEqualTo(1);
        assertThat(unknown.err()).contains("no token for tunnel 'nobody'");
        Run rotateUnknown = run("token", "rotate", "nobody");
        assertThat(rotateUnknown.err()).contains("token add nobody");
    }
}
