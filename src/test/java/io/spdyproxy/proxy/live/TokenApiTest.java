package io.spdyproxy.proxy.live;

import static org.assertj.core.api.Assertions.assertThat;

import io.spdyproxy.origin.OriginClient;
import io.spdyproxy.tunnel.Tunnel;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The admin API's token operations over a real admin listener: the admin token is required and
 * compared, mutations refuse what a cross-site page could send, a token made by the API opens a
 * tunnel at once, and a revocation by the API closes that tunnel.
 */
@Timeout(60)
class TokenApiTest {
    @TempDir
    Path dir;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @Test
    void addListRevokeThroughTheApiGuardedByTheAdminToken() throws Exception {
        try (LiveBed bed = new LiveBed(dir, c -> c.withPorts(0, 0, -1, 0))) {
            Path adminFile = dir.resolve(AdminToken.FILE);
            assertThat(bed.proxy.adminToken().generated()).isTrue();
            assertThat(Files.getPosixFilePermissions(adminFile)).isEqualTo(PosixFilePermissions.fromString("rw-------"));
            String admin = Files.readString(adminFile).trim();
            String api = "http://127.0.0.1:" + bed.proxy.adminPort() + "/api/tokens";

            HttpResponse<String> none = send(HttpRequest.newBuilder(URI.create(api)).GET());
            assertThat(none.statusCode()).isEqualTo(401);
            assertThat(none.headers().firstValue("WWW-Authenticate")).hasValueSatisfying(v -> assertThat(v).startsWith("Bearer"));
            assertThat(send(HttpRequest.newBuilder(URI.create(api)).header("Authorization", "Bearer wrong-token")
                    .GET()).statusCode()).isEqualTo(401);

            HttpResponse<String> made = send(post(api, admin, "{\"name\":\"alpha\"}"));
            assertThat(made.statusCode()).isEqualTo(201);
            Matcher m = Pattern.compile("\"token\":\"([^\"]+)\"").matcher(made.body());
            assertThat(m.find()).isTrue();
            String alpha = m.group(1);
            assertThat(Files.readString(dir.resolve("tokens"))).contains("alpha:" + TokensFile.hash(alpha))
                    .doesNotContain(alpha + "\n");

            // The change applied before the answer: the new token opens a tunnel now.
            OriginClient origin = bed.connected("alpha", alpha);
            assertThat(bed.get("alpha")).isEqualTo("200 alpha");

            assertThat(send(post(api, admin, "{\"name\":\"alpha\"}")).statusCode()).isEqualTo(409);
            assertThat(send(post(api, admin, "{\"name\":\"Bad_Name\"}")).statusCode()).isEqualTo(400);
            assertThat(send(post(api, admin, "not json")).statusCode()).isEqualTo(400);
            HttpResponse<String> list = send(HttpRequest.newBuilder(URI.create(api)).header("Authorization",
                    "Bearer " + admin).GET());
            assertThat(list.statusCode()).isEqualTo(200);
            assertThat(list.body()).contains("\"name\":\"alpha\"").contains("\"name\":\"default\"")
                    .doesNotContain(alpha).doesNotContain(TokensFile.hash(alpha));

            // What a cross-site page could send: a form's content type, or a foreign Origin.
            assertThat(send(HttpRequest.newBuilder(URI.create(api)).header("Authorization", "Bearer " + admin)
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .POST(HttpRequest.BodyPublishers.ofString("name=beta"))).statusCode()).isEqualTo(415);
            assertThat(send(post(api, admin, "{\"name\":\"beta\"}").header("Origin", "https://evil.example"))
                    .statusCode()).isEqualTo(403);
            assertThat(send(HttpRequest.newBuilder(URI.create(api + "/alpha")).header("Authorization", "Bearer " + admin)
                    .header("Origin", "https://evil.example").DELETE()).statusCode()).isEqualTo(403);
            assertThat(Files.readString(dir.resolve("tokens"))).doesNotContain("beta:");

            Tunnel tunnel = bed.proxy.tunnelConnected("alpha").get();
            HttpResponse<String> revoked = send(HttpRequest.newBuilder(URI.create(api + "/alpha"))
                    .header("Authorization", "Bearer " + admin).DELETE());
            assertThat(revoked.statusCode()).isEqualTo(204);
            tunnel.session().closeFuture().get(5, TimeUnit.SECONDS);
            assertThat(origin.authFailure()).failsWithin(10, TimeUnit.SECONDS);
            assertThat(send(HttpRequest.newBuilder(URI.create(api + "/alpha")).header("Authorization", "Bearer " + admin)
                    .DELETE()).statusCode()).isEqualTo(404);
        }
    }

    @Test
    void anAdminTokenFileGivenIsUsedAndNothingIsGenerated() throws Exception {
        Path given = dir.resolve("my-admin-token");
        Files.writeString(given, "operator-chosen-admin-token\n", StandardCharsets.US_ASCII);
        try (LiveBed bed = new LiveBed(dir, c -> c.withPorts(0, 0, -1, 0).withAdminTokenFile(given))) {
            assertThat(bed.proxy.adminToken().generated()).isFalse();
            assertThat(dir.resolve(AdminToken.FILE)).doesNotExist();
            String api = "http://127.0.0.1:" + bed.proxy.adminPort() + "/api/tokens";
            assertThat(send(HttpRequest.newBuilder(URI.create(api)).header("Authorization",
                    "Bearer operator-chosen-admin-token").GET()).statusCode()).isEqualTo(200);
        }
    }

    @Test
    void withAuthenticationOffTheApiChangesNothing() throws Exception {
        try (LiveBed bed = new LiveBed(dir, c -> c.withPorts(0, 0, -1, 0).withAuth(false, java.util.Map.of()))) {
            String admin = Files.readString(dir.resolve(AdminToken.FILE)).trim();
            String api = "http://127.0.0.1:" + bed.proxy.adminPort() + "/api/tokens";
            HttpResponse<String> r = send(post(api, admin, "{\"name\":\"alpha\"}"));
            assertThat(r.statusCode()).isEqualTo(409);
            assertThat(r.body()).contains("--auth none");
            assertThat(dir.resolve("tokens")).doesNotExist();
        }
    }

    private static HttpRequest.Builder post(String api, String admin, String json) {
        return HttpRequest.newBuilder(URI.create(api)).header("Authorization", "Bearer " + admin)
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(json));
    }

    private HttpResponse<String> send(HttpRequest.Builder b) throws Exception {
        return http.send(b.timeout(Duration.ofSeconds(10)).build(), BodyHandlers.ofString());
    }
}
