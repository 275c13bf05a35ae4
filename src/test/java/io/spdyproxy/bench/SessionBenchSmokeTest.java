package io.spdyproxy.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Runs the session benchmark on a small workload so it cannot silently rot: it must finish, and
 * print its table with one row per scenario, each with numeric, positive figures.
 */
class SessionBenchSmokeTest {
    private static final long BYTES = 8L << 20;
    private static final int REQUESTS = 200;

    @Test
    @Timeout(120)
    void printsATableRowWithFiguresForEveryScenario() throws Exception {
        ByteArrayOutputStream buffer = new ByteArrayOutputStream();
        try (PrintStream out = new PrintStream(buffer, true, StandardCharsets.UTF_8)) {
            SessionBench.run(BYTES, REQUESTS, out);
        }
        String table = buffer.toString(StandardCharsets.UTF_8);
        System.out.println("SessionBench (8 MiB, 200 requests):\n" + table);
        List<String> lines = table.lines().filter(l -> !l.isBlank()).toList();

        assertThat(lines).as("header, separator and three scenario rows:%n%s", table).hasSize(5);
        assertThat(lines.get(0)).isEqualTo("| scenario | figure | frames/s |");
        assertThat(lines.get(1)).isEqualTo("|---|---|---|");

        assertRow(lines.get(2), "download, 1 stream, 8 MiB total", "MB/s");
        assertRow(lines.get(3), "download, 100 streams, 8 MiB total", "MB/s");
        assertRow(lines.get(4), "small requests (1 KiB), 100 concurrent, 200 requests", "req/s");
    }

    private static void assertRow(String row, String scenario, String unit) {
        Pattern p = Pattern.compile("\\| " + Pattern.quote(scenario) + " \\| (\\d+) "
                + Pattern.quote(unit) + " \\| (\\d+) \\|");
        Matcher m = p.matcher(row);
        assertThat(m.matches()).as("row %s matches %s", row, p).isTrue();
        assertThat(Long.parseLong(m.group(1))).as("%s figure in %s", unit, row).isPositive();
        assertThat(Long.parseLong(m.group(2))).as("frames/s in %s", row).isPositive();
    }
}
