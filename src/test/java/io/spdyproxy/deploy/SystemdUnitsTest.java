package io.spdyproxy.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The systemd units in {@code deploy/}: {@code systemd-analyze verify} finds nothing to say about
 * them, and {@code systemd-analyze security --offline=true} rates their sandboxing. verify checks
 * that every ExecStart binary exists, so it reads a copy whose {@code /usr/bin/java} is the JVM
 * running this test. Skipped, with the reason, where systemd-analyze is missing.
 */
class SystemdUnitsTest {
    private static final Path DEPLOY = Path.of("deploy");
    private static final Pattern EXPOSURE = Pattern.compile("Overall exposure level for \\S+: (\\d+\\.\\d+)");
    /** systemd's scale runs from 0 (locked down) to 10 (unprotected); up to 2.0 it says "OK". */
    private static final double MAX_EXPOSURE = 2.0;

    @TempDir
    Path tmp;

    @ParameterizedTest
    @ValueSource(strings = {"spdy-proxy.service", "spdy-proxy-origin.service"})
    void verifyFindsNothingToReport(String unit) throws Exception {
        Path copy = copyForThisMachine(unit);
        Result r = analyze("verify", copy.toString());
        assertThat(r.code()).as(r.output()).isZero();
        assertThat(r.output()).as("verify's complaints about " + unit).isEmpty();
    }

    @Test
    void verifyReallyChecksTheUnits() throws Exception {
        // The control: a unit whose ExecStart binary is missing, or with a misspelt setting, is
        // reported, so the silence above means something.
        Path missing = copyForThisMachine("spdy-proxy.service");
        Files.writeString(missing, Files.readString(missing).replaceFirst("ExecStart=\\S+", "ExecStart=/nonexistent/java"));
        assertThat(analyze("verify", missing.toString()).output()).contains("/nonexistent/java");
        Path misspelt = tmp.resolve("misspelt.service");
        Files.writeString(misspelt, Files.readString(copyForThisMachine("spdy-proxy.service"))
                .replace("ProtectHome=yes", "ProtectHom=yes"));
        assertThat(analyze("verify", misspelt.toString()).output()).contains("ProtectHom");
    }

    @ParameterizedTest
    @ValueSource(strings = {"spdy-proxy.service", "spdy-proxy-origin.service"})
    void securityRatesTheSandboxOk(String unit) throws Exception {
        Result help = analyze("security", "--help");
        assumeTrue(help.output().contains("--offline"), "this systemd-analyze has no security --offline (systemd < 250)");
        Result r = analyze("security", "--offline=true", "--no-pager", DEPLOY.resolve(unit).toString());
        Matcher m = EXPOSURE.matcher(r.output());
        assertThat(m.find()).as(r.output()).isTrue();
        double exposure = Double.parseDouble(m.group(1));
        System.out.printf("systemd-analyze security: %s exposure %.1f%n", unit, exposure);
        assertThat(exposure).as(r.output()).isLessThanOrEqualTo(MAX_EXPOSURE);
    }

    @Test
    void theUnitsSayWhatTheirJobNeeds() throws Exception {
        String proxy = Files.readString(DEPLOY.resolve("spdy-proxy.service"));
        String origin = Files.readString(DEPLOY.resolve("spdy-proxy-origin.service"));
        assertThat(proxy).contains("ExecReload=/bin/kill -HUP $MAINPID", "StateDirectory=spdy-proxy\n",
                " proxy --config /etc/spdy-proxy/proxy.yaml --data-dir /var/lib/spdy-proxy\n");
        // Exit code 2 (OriginCommand.GAVE_UP): settings the proxy can never accept; no restart loop.
        assertThat(origin).contains("RestartPreventExitStatus=2\n", " origin --config /etc/spdy-proxy/origin.yaml\n");
        for (String unit : List.of(proxy, origin)) {
            assertThat(unit).contains("ExecStart=/usr/bin/java ", " -jar /opt/spdy-proxy/spdy-proxy.jar ",
                    "User=spdy-proxy\n", "Restart=on-failure\n", "RestartSec=", "NoNewPrivileges=yes\n",
                    "ProtectSystem=strict\n", "ProtectHome=yes\n", "PrivateTmp=yes\n", "PrivateDevices=yes\n",
                    "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX\n", "CapabilityBoundingSet=\n");
        }
    }

    private Path copyForThisMachine(String unit) throws IOException {
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        Path copy = tmp.resolve(unit);
        Files.writeString(copy, Files.readString(DEPLOY.resolve(unit)).replace("/usr/bin/java", java.toString()));
        return copy;
    }

    private record Result(int code, String output) {}

    private static Result analyze(String... args) throws Exception {
        Path tool = Path.of("/usr/bin/systemd-analyze");
        for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
            if (Files.isExecutable(Path.of(dir, "systemd-analyze"))) {
                tool = Path.of(dir, "systemd-analyze");
                break;
            }
        }
        assumeTrue(Files.isExecutable(tool), "systemd-analyze is not installed (package systemd)");
        List<String> cmd = new ArrayList<>(List.of(tool.toString()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().put("SYSTEMD_PAGER", "");
        pb.environment().put("SYSTEMD_COLORS", "0");
        Process p = pb.start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).as("systemd-analyze finished").isTrue();
        return new Result(p.exitValue(), out.strip());
    }
}
