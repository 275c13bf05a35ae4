package io.spdyproxy.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The footprint defaults: applied when absent, never over what the user gave. */
class ProcessDefaultsTest {

    /** A JVM's flags as a map; names in {@code userSet} were given on the command line. */
    private static final class FakeFlags implements ProcessDefaults.VmFlags {
        final Map<String, String> values = new HashMap<>();
        final Set<String> userSet = new HashSet<>();
        int collections;

        @Override
        public boolean isDefault(String name) {
            return !userSet.contains(name);
        }

        @Override
        public void set(String name, String value) {
            values.put(name, value);
        }

        @Override
        public void collect() {
            collections++;
        }
    }

    @Test
    void absentSettingsAreApplied() {
        FakeFlags vm = new FakeFlags();
        List<String> applied = ProcessDefaults.apply(vm);
        assertThat(vm.values).isEqualTo(ProcessDefaults.VM_FLAGS);
        assertThat(vm.collections).isEqualTo(1);
        assertThat(applied).containsExactlyElementsOf(ProcessDefaults.VM_FLAGS.keySet());
    }

    @Test
    void theUsersFlagsWin() {
        FakeFlags vm = new FakeFlags();
        vm.userSet.add("MaxHeapFreeRatio");
        ProcessDefaults.apply(vm);
        assertThat(vm.values).doesNotContainKey("MaxHeapFreeRatio").containsKey("MinHeapFreeRatio");
    }

    @Test
    void aHeapSizedByTheUserIsLeftAlone() {
        for (String sized : List.of("MaxHeapSize", "InitialHeapSize")) {
            FakeFlags vm = new FakeFlags();
            vm.userSet.add(sized);
            ProcessDefaults.apply(vm);
            assertThat(vm.values).isEmpty();
            assertThat(vm.collections).isZero();
        }
    }

    @Test
    void theRunningJvmAcceptsTheFlags() {
        // The real HotSpot bean: every flag exists and is manageable (a typo would be skipped silently).
        var bean = java.lang.management.ManagementFactory.getPlatformMXBean(
                com.sun.management.HotSpotDiagnosticMXBean.class);
        for (String name : ProcessDefaults.VM_FLAGS.keySet()) {
            assertThat(bean.getVMOption(name).isWriteable()).as(name).isTrue();
        }
    }

    @Test
    void relaunchOnlyForLongLivedCommandsWithoutJvmFlags() {
        Properties none = new Properties();
        String jar = "/opt/spdy-proxy.jar";
        assertThat(Relaunch.wanted(new String[] {"proxy"}, List.of(), Map.of(), none, jar)).isTrue();
        assertThat(Relaunch.wanted(new String[] {"origin", "--root", "."}, List.of("-Dfoo=1"), Map.of(), none, jar))
                .isTrue();
        assertThat(Relaunch.wanted(new String[] {"proxy"}, List.of("-Xmx1g"), Map.of(), none, jar)).isFalse();
        assertThat(Relaunch.wanted(new String[] {"proxy"}, List.of("-XX:+UseG1GC"), Map.of(), none, jar)).isFalse();
        assertThat(Relaunch.wanted(new String[] {"bench"}, List.of(), Map.of(), none, jar)).isFalse();
        assertThat(Relaunch.wanted(new String[] {}, List.of(), Map.of(), none, jar)).isFalse();
        assertThat(Relaunch.wanted(new String[] {"proxy"}, List.of(), Map.of(Relaunch.MARKER, "1"), none, jar))
                .isFalse();
        Properties off = new Properties();
        off.setProperty("spdyproxy.relaunch", "false");
        assertThat(Relaunch.wanted(new String[] {"proxy"}, List.of(), Map.of(), off, jar)).isFalse();
        assertThat(Relaunch.wanted(new String[] {"proxy"}, List.of(), Map.of(), none, "target/classes")).isFalse();
    }

    @Test
    void theChildGetsOurFlagsThenTheUsersProperties() {
        List<String> cmd = Relaunch.command(Path.of("/jdk"), List.of("-Dfoo=1"), "/opt/spdy-proxy.jar",
                new String[] {"proxy", "--port", "80"});
        List<String> expected = new ArrayList<>(List.of("/jdk/bin/java"));
        expected.addAll(Relaunch.JVM_FLAGS);
        expected.addAll(List.of("-Dfoo=1", "-cp", "/opt/spdy-proxy.jar", "io.spdyproxy.cli.Main", "proxy", "--port",
                "80"));
        assertThat(cmd).isEqualTo(expected);
    }

    @Test
    void theUsersMallocSettingsWin() throws Exception {
        Path out = java.nio.file.Files.createTempFile("relaunch", ".txt");
        try {
            Relaunch.run(List.of("sh", "-c", "echo \"$MALLOC_ARENA_MAX\" > '" + out + "'"),
                    Map.of("MALLOC_ARENA_MAX", "2", "SPDYPROXY_TEST_UNSET", "x"));
            assertThat(java.nio.file.Files.readString(out).trim()).isEqualTo(
                    System.getenv().getOrDefault("MALLOC_ARENA_MAX", "2"));
        } finally {
            java.nio.file.Files.deleteIfExists(out);
        }
    }

    @Test
    void theChildsExitCodeAndEnvironmentComeThrough() throws Exception {
        // A real child process: the exit code is passed on, our malloc settings and the marker reach it.
        Path out = java.nio.file.Files.createTempFile("relaunch", ".txt");
        try {
            int code = Relaunch.run(List.of("sh", "-c", "echo \"$" + Relaunch.MARKER + " $MALLOC_ARENA_MAX\" > '" + out
                    + "'; exit 3"), Relaunch.ENV);
            assertThat(code).isEqualTo(3);
            assertThat(java.nio.file.Files.readString(out).trim()).isEqualTo("1 2");
        } finally {
            java.nio.file.Files.deleteIfExists(out);
        }
    }

    @Test
    void theChildsFlagsStartAJvmWithoutWarnings() throws Exception {
        // A contradiction between the flags (such as -Xmn above -Xms) makes the JVM print a warning
        // at every start, before any of our code runs.
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        cmd.addAll(Relaunch.JVM_FLAGS);
        cmd.add("-version");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertThat(p.waitFor()).as(out).isZero();
        assertThat(out).doesNotContainIgnoringCase("warning");
    }

    @Test
    void theSystemdUnitsGiveTheseFlagsToOneJvm() throws Exception {
        // deploy/*.service start java with our flags, so there is no second JVM: systemd's
        // $MAINPID is the proxy itself (SIGHUP reloads reach it). They must not drift apart.
        for (String unit : List.of("spdy-proxy.service", "spdy-proxy-origin.service")) {
            String text = java.nio.file.Files.readString(Path.of("deploy", unit));
            assertThat(text).as(unit)
                    .contains("ExecStart=/usr/bin/java " + String.join(" ", Relaunch.JVM_FLAGS) + " -jar ");
            Relaunch.ENV.forEach((k, v) -> assertThat(text).as(unit)
                    .containsPattern("(?m)^Environment=.*\\b" + k + "=" + v + "\\b"));
        }
        assertThat(java.nio.file.Files.readString(Path.of("deploy", "spdy-proxy-origin.service")))
                .contains("RestartPreventExitStatus=" + OriginCommand.GAVE_UP + "\n");
    }
}
