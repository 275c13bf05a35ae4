package io.spdyproxy.cli;

import io.netty.util.ResourceLeakDetector;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code spdy-proxy} executable: parses arguments and hands over to a subcommand. */
@Command(name = "spdy-proxy", mixinStandardHelpOptions = true, version = "spdy-proxy 0.1.0",
        description = "Reverse-tunnel HTTP proxy over SPDY/3.1.",
        subcommands = {DemoCommand.class, ProxyCommand.class, OriginCommand.class, TunnelBenchCommand.class,
            ExampleServerCommand.class, TokenCommand.class,
            BenchCommand.class})
public final class Main implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        // First, before any Netty class reads its settings: a JVM started without flags runs the
        // long-lived commands in a child sized for a small footprint (see Relaunch).
        int relaunched = Relaunch.maybeRun(args);
        if (relaunched >= 0) {
            System.exit(relaunched);
        }
        Relaunch.exitWithParent();
        ProcessDefaults.apply();
        if (System.getProperty("io.netty.leakDetection.level") == null
                && System.getProperty("io.netty.leakDetectionLevel") == null) {
            // Netty samples buffers for leaks by default, at the cost of a stack trace each; our
            // tests run the paranoid level instead. -Dio.netty.leakDetection.level=simple restores it.
            ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.DISABLED);
        }
        System.exit(commandLine().execute(args));
    }

    /**
     * The command line with a handler that turns startup failures into one clear line naming the
     * flag at fault ({@code -Dspdyproxy.debug=true} adds the stack trace).
     */
    static CommandLine commandLine() {
        return new CommandLine(new Main()).setExecutionExceptionHandler((e, cmd, parsed) -> {
            cmd.getErr().println("spdy-proxy " + cmd.getCommandName() + ": "
                    + ErrorMessages.describe(e, cmd.getCommandSpec()));
            if (Boolean.getBoolean("spdyproxy.debug")) {
                e.printStackTrace(cmd.getErr());
            }
            return 1;
        });
    }

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }
}
