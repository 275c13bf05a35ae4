package io.spdyproxy.cli;

import io.spdyproxy.proxy.live.TokensFile;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code spdy-proxy token add|rotate|list|revoke}: manages the data directory's tokens file. A
 * running proxy sees each change through its file watcher (the file is replaced atomically) and
 * closes the sessions of a revoked or rotated name. New tokens go to standard output alone, once,
 * so that a script can capture them; everything else goes to standard error.
 */
@Command(name = "token", mixinStandardHelpOptions = true,
        description = "Manage tunnel tokens in the proxy's data directory (a running proxy applies changes at once).",
        subcommands = {TokenCommand.Add.class, TokenCommand.Rotate.class, TokenCommand.ListNames.class,
            TokenCommand.Revoke.class})
final class TokenCommand implements Runnable {
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /** The {@code --data-dir} every subcommand takes, as the proxy does. */
    static final class DataDir {
        @Option(names = "--data-dir", description = "The proxy's data directory (default: ./spdy-proxy-data).")
        Path dataDir = Path.of("spdy-proxy-data");

        TokensFile file() {
            return new TokensFile(dataDir.resolve("tokens"));
        }
    }

    @Command(name = "add", mixinStandardHelpOptions = true,
            description = "Make a token for tunnel NAME; prints it once (only its SHA-256 is stored).")
    static final class Add implements Callable<Integer> {
        @Mixin
        DataDir dir;
        @Spec
        picocli.CommandLine.Model.CommandSpec spec;
        @Parameters(paramLabel = "NAME", description = "Tunnel name (a DNS label).")
        String name;
        @Option(names = "--force", description = "Replace NAME's token if it has one (as `token rotate`).")
        boolean force;

        @Override
        public Integer call() throws IOException {
            return make(spec, dir, name, force);
        }
    }

    @Command(name = "rotate", mixinStandardHelpOptions = true,
            description = "Replace tunnel NAME's token with a new one (its live sessions close); prints it once.")
    static final class Rotate implements Callable<Integer> {
        @Mixin
        DataDir dir;
        @Spec
        picocli.CommandLine.Model.CommandSpec spec;
        @Parameters(paramLabel = "NAME", description = "Tunnel name.")
        String name;

        @Override
        public Integer call() throws IOException {
            try {
                if (!dir.file().read().containsKey(name)) {
                    throw new UserError("no token for tunnel '" + name + "' in " + dir.file().path()
                            + " (make one: `token add " + name + "`)");
                }
            } catch (IOException e) {
                throw new UserError(e.getMessage());
            }
            return make(spec, dir, name, true);
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true,
            description = "List the tunnel names that have a token (never the tokens).")
    static final class ListNames implements Callable<Integer> {
        @Mixin
        DataDir dir;
        @Spec
        picocli.CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            try {
                PrintWriter out = spec.commandLine().getOut();
                new TreeSet<>(dir.file().read().keySet()).forEach(out::println);
                out.flush();
                return 0;
            } catch (IOException e) {
                throw new UserError(e.getMessage());
            }
        }
    }

    @Command(name = "revoke", mixinStandardHelpOptions = true,
            description = "Remove tunnel NAME's token; a running proxy closes its sessions within a second.")
    static final class Revoke implements Callable<Integer> {
        @Mixin
        DataDir dir;
        @Spec
        picocli.CommandLine.Model.CommandSpec spec;
        @Parameters(paramLabel = "NAME", description = "Tunnel name.")
        String name;

        @Override
        public Integer call() {
            try {
                dir.file().revoke(name);
            } catch (TokensFile.EditException e) {
                throw new UserError(e.getMessage());
            } catch (IOException e) {
                throw new UserError("cannot edit " + dir.file().path() + ": " + e.getMessage());
            }
            spec.commandLine().getErr().println("revoked the token of tunnel '" + name + "' in " + dir.file().path());
            return 0;
        }
    }

    private static int make(picocli.CommandLine.Model.CommandSpec spec, DataDir dir, String name, boolean replace) {
        String token;
        try {
            token = dir.file().add(name, replace);
        } catch (TokensFile.EditException e) {
            throw new UserError(e.getMessage());
        } catch (IOException e) {
            throw new UserError("cannot edit " + dir.file().path() + ": " + e.getMessage());
        }
        PrintWriter err = spec.commandLine().getErr();
        err.println("token for tunnel '" + name + "' (shown once; stored as its SHA-256 in " + dir.file().path()
                + "):");
        err.flush();
        PrintWriter out = spec.commandLine().getOut();
        out.println(token);
        out.flush();
        return 0;
    }
}
