package io.spdyproxy.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.spdyproxy.observe.accesslog.AccessLog;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The flags and YAML keys of issue 12's metrics and access log, as {@code Main} parses them. */
class ObservabilityFlagsTest {
    @TempDir
    Path tmp;

    private static Object command(String... args) {
        CommandLine.ParseResult r = new CommandLine(new Main()).parseArgs(args);
        return r.subcommand().commandSpec().userObject();
    }

    @Test
    void accessLogFromFlags() throws Exception {
        Path file = tmp.resolve("a.log");
        ProxyCommand p = (ProxyCommand) command("proxy", "--access-log", file.toString(), "--access-log-format", "json");
        AccessLog log = p.openAccessLog(YamlConfig.load(null, ProxyCommand.KEYS));
        try {
            assertThat(log.target()).isEqualTo(file.toString());
        } finally {
            log.close();
        }
        assertThat(file).exists();
    }

    @Test
    void accessLogFromYamlAndNoneByDefault() throws Exception {
        Path file = tmp.resolve("b.log");
        Path yaml = Files.writeString(tmp.resolve("p.yaml"),
                "accessLog: " + file + "\naccessLogFormat: combined\nadminPort: 0\n", StandardCharsets.UTF_8);
        ProxyCommand p = (ProxyCommand) command("proxy", "--config", yaml.toString());
        AccessLog log = p.openAccessLog(YamlConfig.load(yaml, ProxyCommand.KEYS));
        log.close();
        assertThat(file).exists();
        ProxyCommand none = (ProxyCommand) command("proxy");
        assertThat(none.openAccessLog(YamlConfig.load(null, ProxyCommand.KEYS))).isNull();
    }

    @Test
    void badFormatOrUnwritableFileIsAClearError() throws Exception {
        ProxyCommand p = (ProxyCommand) command("proxy", "--access-log", "-", "--access-log-format", "xml");
        assertThatThrownBy(() -> p.openAccessLog(YamlConfig.load(null, ProxyCommand.KEYS)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("combined or json");
        Path notADirectory = Files.writeString(tmp.resolve("plain-file"), "x");
        ProxyCommand q = (ProxyCommand) command("proxy", "--access-log", notADirectory.resolve("x.log").toString());
        assertThatThrownBy(() -> q.openAccessLog(YamlConfig.load(null, ProxyCommand.KEYS)))
                .isInstanceOf(UserError.class).hasMessageContaining("--access-log");
    }

    @Test
    void originAdminPortFlagAndYamlKey() throws Exception {
        List<String> args = new ArrayList<>(List.of("origin", "--admin-port", "9100"));
        OriginCommand o = (OriginCommand) command(args.toArray(String[]::new));
        assertThat(o.adminPort).isEqualTo(9100);
        assertThat(OriginCommand.KEYS).contains("adminPort");
    }
}
