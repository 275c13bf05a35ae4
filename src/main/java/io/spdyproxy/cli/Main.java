package io.spdyproxy.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code spdy-proxy} executable: parses arguments and hands over to a subcommand. */
@Command(name = "spdy-proxy", mixinStandardHelpOptions = true, version = "spdy-proxy 0.1.0",
        description = "Reverse-tunnel HTTP proxy over SPDY/3.1.",
        subcommands = {DemoCommand.class, ProxyCommand.class, OriginCommand.class, TunnelBenchCommand.class,
            ExampleServerCommand.class,
            BenchCommand.class})
public final class Main implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(new CommandLine(new Main()).execute(args));
    }

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }
}
