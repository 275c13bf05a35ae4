package io.spdyproxy.bench;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.FixedRecvByteBufAllocator;
import io.netty.util.ReferenceCountUtil;
import io.spdyproxy.transport.Transport;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.io.RandomAccessFile;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The tunnel benchmark: nginx serving a generated data set is the baseline ("direct"); the same
 * data through our proxy and origin (file-server mode) and the same nginx behind our origin
 * (upstream mode) are measured in the same run, and every figure is reported as tunnel / direct.
 * The proxy and origins run as separate JVMs started from the jar, as users run them; load comes
 * from wrk and curl, slow and idle clients from this process.
 *
 * <p>Threading: scenarios run one after another on the calling thread.
 */
public final class TunnelBench {

    /** Sizes of one run; {@link #quick()} is the smoke run the test suite makes. */
    public record Options(Path jar, Path work, Path results, int seconds, long bigBytes, int slowClients,
            int idleStreams, int originProcesses, int tunnelsPerProcess, boolean quick, Set<String> only) {

        /** The scenario names {@code --only} accepts. */
        public static final List<String> SCENARIOS = List.of("small", "transfers", "storm", "idle", "websocket",
                "h2", "grpc", "tunnels", "ops", "origins");

        public static Options full(Path jar, Path work, Path results) {
            return new Options(jar, work, results, 10, 1L << 30, Integer.getInteger("bench.slowClients", 1000),
                    10_000, 4, 250, false, Set.copyOf(SCENARIOS));
        }

        /** The same sizes, running only the named scenarios. */
        public Options withOnly(Set<String> names) {
            return new Options(jar, work, results, seconds, bigBytes, slowClients, idleStreams, originProcesses,
                    tunnelsPerProcess, quick, Set.copyOf(names));
        }

        /**
         * The smoke run (TunnelBenchSmokeIT, in every {@code mvn verify}): it proves each scenario
         * runs and reports, so measurements last a second, warm-ups are left out and each
         * scenario takes the fewest shapes that reach every code path.
         */
        public static Options quick(Path jar, Path work, Path results) {
            return new Options(jar, work, results, 1, 16L << 20, Integer.getInteger("bench.slowClients", 20),
                    Integer.getInteger("bench.idleStreams", 100), 1, 10, true, Set.copyOf(SCENARIOS));
        }
    }

    private static final String TOKEN = "bench-token-0123456789";
    private static final Pattern FINGERPRINT = Pattern.compile("fingerprint: ([0-9a-f]{64})");
    private static final Pattern NUMBER = Pattern.compile("\"%s\":([0-9.]+)");

    private final Options o;
    private final PrintStream out;
    private final Path data;
    private final List<Process> processes = new ArrayList<>();
    private final Map<String, Object> results = new LinkedHashMap<>();
    private final List<String[]> table = new ArrayList<>();
    private Process proxy;
    private final Map<String, Process> origins = new LinkedHashMap<>();
    private String fingerprint;
    private int nginxPort;
    private int httpPort;
    private int httpsPort;
    private int tunnelPort;
    private int adminPort;
    private int sinkPort;

    private TunnelBench(Options o, PrintStream out) {
        this.o = o;
        this.out = out;
        this.data = o.work().resolve("data");
    }

    /** Runs every scenario and writes the results; returns the Markdown table. */
    public static String run(Options o, PrintStream out) throws Exception {
        TunnelBench b = new TunnelBench(o, out);
        try {
            return b.runAll();
        } finally {
            b.stopAll();
        }
    }

    private String runAll() throws Exception {
        Files.createDirectories(data);
        Files.createDirectories(o.results());
        prepareData();
        nginxPort = freePort();
        httpPort = freePort();
        httpsPort = freePort();
        tunnelPort = freePort();
        adminPort = freePort();
        startNginx();
        try (UploadSink sink = new UploadSink()) {
            sinkPort = sink.port();
            startProxy();
            startOrigin("files", "--root", data.toString());
            startOrigin("upstream", "--upstream", "http://127.0.0.1:" + nginxPort);
            startOrigin("sink", "--upstream", "http://127.0.0.1:" + sinkPort);
            awaitTunnels(3);
            results.put("machine", machine());
            if (o.only().contains("small")) {
                smallResponses();
            }
            if (o.only().contains("transfers")) {
                largeTransfers();
            }
            if (o.only().contains("storm")) {
                slowClientStorm();
            }
            if (o.only().contains("idle")) {
                idleStreams();
            }
            if (o.only().contains("websocket")) { // before "origins", which restarts the proxy
                WebSocketBench.run(new WebSocketBench.Bed(httpPort, () -> proxy.pid(), (name, args) -> {
                    startOrigin(name, args);
                    awaitTunnels(4);
                }), "bench", o.quick(), out, results, table);
            }
            // The HTTP/2 scenarios of issue 11, in classes of their own (also before "origins").
            if (o.only().contains("h2")) {
                H2LoadBench.run(scenarioBed(), out, results, table);
            }
            if (o.only().contains("grpc")) {
                GrpcBench.run(scenarioBed(), out, results, table);
            }
            if (o.only().contains("tunnels")) {
                TunnelProtocolBench.run(scenarioBed(), out, results, table);
            }
            if (o.only().contains("ops")) {
                OpsBench.run(scenarioBed(), out, results, table);
            }
            if (o.only().contains("origins")) {
                manyOrigins();
            }
        }
        return writeResults();
    }

    // ---------------------------------------------------------------------------------------
    // Scenarios

    private void smallResponses() throws Exception {
        // Warm up the JIT of both JVMs (and nginx's caches) before anything is measured: C2 keeps
        // compiling for about 20 s of load, and a measurement taken meanwhile shows its pauses.
        for (String host : o.quick() ? new String[0] : new String[] {"files.bench", "upstream.bench"}) {
            for (int c : new int[] {1, 100}) {
                wrkRaw(c, url(httpPort, "/small.bin"), host, o.seconds());
            }
        }
        for (int c : o.quick() ? new int[] {1, 100} : new int[] {1, 10, 100}) {
            Map<String, String> direct = wrk(c, url(nginxPort, "/small.bin"), null);
            Map<String, String> files = wrk(c, url(httpPort, "/small.bin"), "files.bench");
            Map<String, String> upstream = wrk(c, url(httpPort, "/small.bin"), "upstream.bench");
            results.put("small_c" + c, Map.of("direct", direct, "tunnel_files", files, "tunnel_upstream", upstream));
            row("1 KiB responses, " + c + " conn: requests/s", direct.get("rps"), files.get("rps"),
                    upstream.get("rps"));
            for (String p : new String[] {"p50", "p99", "p999"}) {
                row("1 KiB responses, " + c + " conn: latency " + p.replace("p999", "p99.9") + " (µs)",
                        direct.get(p), files.get(p), upstream.get(p));
            }
        }
    }

    private void largeTransfers() throws Exception {
        long big = o.bigBytes();
        // Warm-up: the bulk paths (file reads, relaying, upload draining) compile on first use.
        if (!o.quick()) {
            curlParallel(2, url(httpPort, "/big.bin"), "files.bench", false);
            curlParallel(2, url(httpPort, "/big.bin"), "upstream.bench", false);
            curlParallel(2, url(httpPort, "/small.bin"), "files.bench", true);
            curlParallel(2, url(httpPort, "/upload"), "sink.bench", true);
        }
        for (int n : new int[] {1, 8}) {
            double d = curlParallel(n, url(nginxPort, "/big.bin"), null, false);
            double f = curlParallel(n, url(httpPort, "/big.bin"), "files.bench", false);
            double u = curlParallel(n, url(httpPort, "/big.bin"), "upstream.bench", false);
            results.put("download_x" + n, Map.of("direct_MBps", d, "tunnel_files_MBps", f, "tunnel_upstream_MBps", u));
            row((big >> 20) + " MiB download x" + n + ": MB/s", fmt(d), fmt(f), fmt(u));
        }
        // nginx answers a POST before it has read the body, so uploads go to a sink that reads all
        // of it first: directly, through the file server (which drains it), and behind the origin.
        for (int n : new int[] {1, 8}) {
            double d = curlParallel(n, url(sinkPort, "/upload"), null, true);
            double f = curlParallel(n, url(httpPort, "/small.bin"), "files.bench", true);
            double u = curlParallel(n, url(httpPort, "/upload"), "sink.bench", true);
            results.put("upload_x" + n, Map.of("direct_MBps", d, "tunnel_files_MBps", f, "tunnel_upstream_MBps", u));
            row((big >> 20) + " MiB upload x" + n + " (direct: a sink reading the whole body): MB/s", fmt(d),
                    fmt(f), fmt(u));
        }
    }

    private void slowClientStorm() throws Exception {
        // The same probe straight to nginx is the control: it shows what the storm's load alone
        // does to any server's latency on this machine.
        // A short round first: the bulk transfers before may have left compilation or GC work.
        // Run alone (--only storm), the JIT of both JVMs gets the warm-up the small scenario gives.
        if (!o.quick()) {
            wrkRaw(1, url(httpPort, "/small.bin"), "files.bench", o.only().contains("small") ? 2 : 3 * o.seconds());
        }
        Map<String, String> idle = wrk(1, url(httpPort, "/small.bin"), "files.bench");
        Map<String, String> idleDirect = wrk(1, url(nginxPort, "/small.bin"), null);
        long rssBefore = memory(proxy, "VmRSS");
        EventLoopGroup group = Transport.newGroup(1, "slow-clients");
        List<Channel> slow = new ArrayList<>();
        AtomicLong received = new AtomicLong();
        java.util.concurrent.atomic.AtomicInteger active = new java.util.concurrent.atomic.AtomicInteger();
        try {
            for (int i = 0; i < o.slowClients(); i++) {
                slow.add(slowClient(group, received, active));
            }
            // Measure the storm in its steady state: every client is receiving, and the first
            // windows and socket buffers (filled in a burst as the downloads start) have drained.
            waitUntil(() -> active.get() >= o.slowClients(), 60_000);
            // (In the smoke run an eighth of it: 0.5 s at 64 KB/s rather than 4 s.)
            long settle = received.get() + o.slowClients() * (o.quick() ? 32L : 256L) * 1024;
            waitUntil(() -> received.get() >= settle, 60_000);
            for (int i = 0; i < Integer.getInteger("bench.stormSlices", 0); i++) { // to watch it evolve
                long r0 = received.get();
                wrk(1, url(httpPort, "/small.bin"), "files.bench");
                wrk(1, url(nginxPort, "/small.bin"), null);
                out.println("  slice " + i + ": " + (received.get() - r0) / 1e6 + " MB delivered");
            }
            long r0 = received.get();
            long t0 = System.nanoTime();
            Map<String, String> probe = wrk(1, url(httpPort, "/small.bin"), "files.bench");
            Map<String, String> probeDirect = wrk(1, url(nginxPort, "/small.bin"), null);
            double mbps = (received.get() - r0) / ((System.nanoTime() - t0) / 1e3);
            long rss = memory(proxy, "VmRSS");
            long peak = memory(proxy, "VmHWM");
            long originRss = memory(origins.get("files"), "VmRSS");
            long originPeak = memory(origins.get("files"), "VmHWM");
            String status = admin(true);
            long heap = (long) number(status, "heapUsedBytes");
            String growth = ratio(probe.get("p99"), idle.get("p99"));
            String growthDirect = ratio(probeDirect.get("p99"), idleDirect.get("p99"));
            results.put("slow_storm", Map.ofEntries(Map.entry("clients", o.slowClients()),
                    Map.entry("idle_p99_us", idle.get("p99")), Map.entry("probe_p99_us", probe.get("p99")),
                    Map.entry("direct_idle_p99_us", idleDirect.get("p99")),
                    Map.entry("direct_probe_p99_us", probeDirect.get("p99")),
                    Map.entry("proxy_heap_bytes", heap), Map.entry("proxy_rss_bytes", rss),
                    Map.entry("proxy_rss_peak_bytes", peak), Map.entry("proxy_rss_before_bytes", rssBefore), Map.entry("origin_rss_bytes", originRss),
                    Map.entry("origin_rss_peak_bytes", originPeak), Map.entry("jvm_flags", jvmFlags()),
                    Map.entry("storm_MBps", mbps), Map.entry("bytes_delivered", received.get())));
            String n = o.slowClients() + " slow clients (64 KB/s)";
            table.add(new String[] {n + ": probe p99 idle (µs)", idleDirect.get("p99"), idle.get("p99"), "",
                    ratio(idle.get("p99"), idleDirect.get("p99"))});
            table.add(new String[] {n + ": probe p99 in the storm (µs)", probeDirect.get("p99"), probe.get("p99"),
                    "", ratio(probe.get("p99"), probeDirect.get("p99"))});
            table.add(new String[] {n + ": probe p99 growth, storm / idle (direct: nginx probed beside the storm)",
                    growthDirect, growth, "", ""});
            table.add(new String[] {n + ": delivered MB/s", "", fmt(mbps), "", ""});
            table.add(new String[] {n + ": proxy heap after GC (MiB)", "", fmt(heap / 1048576.0), "", ""});
            table.add(new String[] {n + ": proxy RSS before / in the storm / peak (MiB)", "",
                    fmt(rssBefore / 1048576.0) + " / " + fmt(rss / 1048576.0) + " / " + fmt(peak / 1048576.0),
                    "", ""});
            table.add(new String[] {n + ": origin (file server) RSS in the storm / peak (MiB)", "",
                    fmt(originRss / 1048576.0) + " / " + fmt(originPeak / 1048576.0), "", ""});
        } finally {
            for (Channel c : slow) {
                c.close();
            }
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    private void idleStreams() throws Exception {
        long before = (long) number(admin(true), "heapUsedBytes");
        EventLoopGroup group = Transport.newGroup(1, "idle-clients");
        List<Channel> idle = new ArrayList<>();
        try {
            for (int i = 0; i < o.idleStreams(); i++) {
                // A POST whose body never comes: the stream stays open at both ends with no other
                // socket behind it (the file server waits for the body).
                idle.add(rawRequest(group, "POST /small.bin HTTP/1.1\r\nHost: files.bench\r\n"
                        + "Content-Length: 1048576\r\n\r\n"));
            }
            waitUntil(() -> streamsInFlight() >= o.idleStreams(), 60_000);
            long after = (long) number(admin(true), "heapUsedBytes");
            double perStream = (after - before) / (double) o.idleStreams();
            results.put("idle_streams", Map.of("streams", o.idleStreams(), "proxy_heap_delta_bytes", after - before,
                    "bytes_per_stream", perStream));
            table.add(new String[] {o.idleStreams() + " open streams on one tunnel: proxy heap per stream (KiB)",
                    "", fmt(perStream / 1024), "", ""});
        } finally {
            for (Channel c : idle) {
                c.close();
            }
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    private void manyOrigins() throws Exception {
        int total = o.originProcesses() * o.tunnelsPerProcess();
        try {
            waitUntil(() -> streamsInFlight() == 0, 30_000);
        } catch (IllegalStateException e) {
            throw new IllegalStateException("streams still in flight: " + admin(false), e);
        }
        long before = (long) number(admin(true), "heapUsedBytes");
        for (int i = 0; i < o.originProcesses(); i++) {
            startOrigin("many" + i, "--root", data.toString(), "--connections", String.valueOf(o.tunnelsPerProcess()));
        }
        awaitTunnels(3 + total);
        long after = (long) number(admin(true), "heapUsedBytes");
        double perTunnel = (after - before) / (double) total;
        // Restart the proxy: same ports, same data directory (certificate and tokens).
        proxy.destroy();
        proxy.waitFor(20, TimeUnit.SECONDS);
        processes.remove(proxy);
        long t0 = System.nanoTime();
        startProxy();
        awaitTunnels(3 + total);
        double reconnect = (System.nanoTime() - t0) / 1e9;
        results.put("many_origins", Map.of("tunnels", total, "proxy_heap_per_tunnel_bytes", perTunnel,
                "reconnect_all_seconds", reconnect));
        table.add(new String[] {total + " connected tunnels: proxy heap per tunnel (KiB)", "", fmt(perTunnel / 1024),
                "", ""});
        table.add(new String[] {"proxy restart: seconds until all " + (3 + total) + " tunnels are back", "",
                fmt(reconnect), "", ""});
    }

    private ScenarioBed scenarioBed() {
        return new ScenarioBed(o.jar(), o.work(), data, httpPort, httpsPort, "bench", o.seconds(), o.quick(),
                (name, args) -> {
                    startOrigin(name, args);
                    Process p = origins.get(name);
                    int n = origins.size(); // one tunnel per origin until "origins" runs
                    waitUntil(() -> {
                        if (!p.isAlive()) {
                            throw new IllegalStateException("origin " + name + " exited: see origin-" + name + ".log");
                        }
                        return tunnelCount() >= n;
                    }, 60_000);
                }, new ScenarioBed.Load() {
                    @Override
                    public Map<String, String> wrk(int connections, String url, String host) throws Exception {
                        return TunnelBench.this.wrk(connections, url, host);
                    }

                    @Override
                    public double curl(int n, String url, String host, boolean upload) throws Exception {
                        return curlParallel(n, url, host, upload);
                    }

                    @Override
                    public long bigBytes() {
                        return o.bigBytes();
                    }
                });
    }

    private double tunnelCount() {
        try {
            return number(admin(false), "tunnelCount");
        } catch (Exception e) {
            return -1;
        }
    }

    // ---------------------------------------------------------------------------------------
    // Load tools

    private Map<String, String> wrk(int connections, String url, String host) throws Exception {
        String output = wrkRaw(connections, url, host, o.seconds());
        String json = output.lines().filter(l -> l.startsWith("{")).reduce((a, b) -> b)
                .orElseThrow(() -> new IOException("wrk printed no result: " + output));
        Map<String, String> m = new LinkedHashMap<>();
        for (String k : new String[] {"rps", "p50", "p99", "p999", "errors", "requests"}) {
            m.put(k, trim(number(json, k)));
        }
        out.println("  wrk -c" + connections + " " + (host == null ? url : host) + ": " + m);
        return m;
    }

    private String wrkRaw(int connections, String url, String host, int seconds) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("wrk", "-t", String.valueOf(Math.min(2, connections)),
                "-c", String.valueOf(connections), "-d", seconds + "s", "--timeout", "10s",
                "-s", benchDir().resolve("latency.lua").toString()));
        if (host != null) {
            cmd.add("-H");
            cmd.add("Host: " + host);
        }
        cmd.add(url);
        return exec(cmd, seconds + 60);
    }

    /** n curl processes at once; returns the aggregate MB/s. */
    private double curlParallel(int n, String url, String host, boolean upload) throws Exception {
        List<Process> ps = new ArrayList<>();
        long t0 = System.nanoTime();
        for (int i = 0; i < n; i++) {
            List<String> cmd = new ArrayList<>(List.of("curl", "-s", "-S", "-o", "/dev/null", "--fail",
                    "-w", "%{http_code}"));
            if (host != null) {
                cmd.add("-H");
                cmd.add("Host: " + host);
            }
            if (upload) {
                cmd.addAll(List.of("-X", "POST", "-T", data.resolve("big.bin").toString(),
                        "-H", "Content-Type: application/octet-stream", "-H", "Expect:"));
            }
            cmd.add(url);
            ps.add(new ProcessBuilder(cmd).redirectErrorStream(true).start());
        }
        for (Process p : ps) {
            if (!p.waitFor(600, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException("curl timed out on " + url);
            }
            String code = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            if (p.exitValue() != 0 || !code.endsWith("200")) {
                throw new IOException("curl " + url + " (" + host + ") failed: " + code);
            }
        }
        double secs = (System.nanoTime() - t0) / 1e9;
        double mbps = n * o.bigBytes() / secs / 1e6;
        out.printf(Locale.ROOT, "  curl x%d %s %s: %.0f MB/s%n", n, upload ? "upload" : "download",
                host == null ? "direct" : host, mbps);
        return mbps;
    }

    /** A client that downloads the big file at about 64 KB/s: one 16 KiB read per 250 ms. */
    private Channel slowClient(EventLoopGroup group, AtomicLong received,
            java.util.concurrent.atomic.AtomicInteger active) throws InterruptedException {
        ChannelFuture f = new Bootstrap().group(group).channel(Transport.socketChannel())
                .option(ChannelOption.AUTO_READ, false)
                .option(ChannelOption.SO_RCVBUF, 16 * 1024)
                .option(ChannelOption.RECVBUF_ALLOCATOR, new FixedRecvByteBufAllocator(16 * 1024))
                .handler(new ChannelInboundHandlerAdapter() {
                    private boolean receiving;

                    @Override
                    public void channelActive(ChannelHandlerContext ctx) {
                        ctx.writeAndFlush(Unpooled.copiedBuffer("GET /big.bin HTTP/1.1\r\nHost: files.bench\r\n\r\n",
                                StandardCharsets.US_ASCII));
                        ctx.executor().scheduleAtFixedRate(ctx::read, 0, 250, TimeUnit.MILLISECONDS);
                    }

                    @Override
                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                        received.addAndGet(((io.netty.buffer.ByteBuf) msg).readableBytes());
                        if (!receiving) {
                            receiving = true;
                            active.incrementAndGet();
                        }
                        ReferenceCountUtil.release(msg);
                    }
                }).connect("127.0.0.1", httpPort);
        return f.sync().channel();
    }

    /** A connection that sends one request and reads (and drops) whatever comes back. */
    private Channel rawRequest(EventLoopGroup group, String request) throws InterruptedException {
        return new Bootstrap().group(group).channel(Transport.socketChannel())
                .handler(new ChannelInboundHandlerAdapter() {
                    @Override
                    public void channelActive(ChannelHandlerContext ctx) {
                        ctx.writeAndFlush(Unpooled.copiedBuffer(request, StandardCharsets.US_ASCII));
                    }

                    @Override
                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                        ReferenceCountUtil.release(msg);
                    }
                }).connect("127.0.0.1", httpPort).sync().channel();
    }

    /** An HTTP server that reads every request body to the end, then answers 200. */
    private static final class UploadSink implements AutoCloseable {
        private final EventLoopGroup group = Transport.newGroup(1, "upload-sink");
        private final Channel server;

        UploadSink() throws InterruptedException {
            server = new ServerBootstrap().group(group).channel(Transport.serverChannel())
                    .childHandler(new ChannelInitializer<Channel>() {
                        @Override
                        protected void initChannel(Channel ch) {
                            ch.pipeline().addLast(new io.netty.handler.codec.http.HttpServerCodec(),
                                    new ChannelInboundHandlerAdapter() {
                                        @Override
                                        public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                            boolean last = msg instanceof io.netty.handler.codec.http.LastHttpContent;
                                            ReferenceCountUtil.release(msg);
                                            if (last) {
                                                var r = new io.netty.handler.codec.http.DefaultFullHttpResponse(
                                                        io.netty.handler.codec.http.HttpVersion.HTTP_1_1,
                                                        io.netty.handler.codec.http.HttpResponseStatus.OK,
                                                        Unpooled.copiedBuffer("ok\n", StandardCharsets.US_ASCII));
                                                r.headers().set("content-length", 3);
                                                ctx.writeAndFlush(r);
                                            }
                                        }
                                    });
                        }
                    }).bind("127.0.0.1", 0).sync().channel();
        }

        int port() {
            return ((InetSocketAddress) server.localAddress()).getPort();
        }

        @Override
        public void close() {
            server.close();
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    // ---------------------------------------------------------------------------------------
    // Processes

    private void prepareData() throws IOException {
        // nginx workers run as an unprivileged user: the data must be readable by all.
        readableByAll(o.work());
        readableByAll(data);
        byte[] small = new byte[1024];
        new java.util.Random(1).nextBytes(small);
        Files.write(data.resolve("small.bin"), small);
        try (RandomAccessFile f = new RandomAccessFile(data.resolve("big.bin").toFile(), "rw")) {
            f.setLength(o.bigBytes());
        }
        data.resolve("small.bin").toFile().setReadable(true, false);
        data.resolve("big.bin").toFile().setReadable(true, false);
    }

    private static void readableByAll(Path dir) {
        dir.toFile().setReadable(true, false);
        dir.toFile().setExecutable(true, false);
    }

    private void startNginx() throws Exception {
        Path conf = o.work().resolve("nginx.conf");
        Path tmp = o.work().resolve("nginx-tmp");
        Files.createDirectories(tmp);
        tmp.toFile().setWritable(true, false);
        readableByAll(tmp);
        Files.writeString(conf, """
                worker_processes auto;
                daemon off;
                pid %1$s/nginx.pid;
                error_log %1$s/nginx-error.log warn;
                events { worker_connections 20000; }
                http {
                  access_log off;
                  sendfile on;
                  tcp_nopush on;
                  tcp_nodelay on;
                  keepalive_requests 10000000;
                  keepalive_timeout 600s;
                  client_body_temp_path %2$s/body;
                  proxy_temp_path %2$s/proxy;
                  fastcgi_temp_path %2$s/fastcgi;
                  uwsgi_temp_path %2$s/uwsgi;
                  scgi_temp_path %2$s/scgi;
                  default_type application/octet-stream;
                  server {
                    listen 127.0.0.1:%3$d backlog=4096;
                    root %4$s;
                    client_max_body_size 0;
                    error_page 405 =200 @ok;
                    location @ok { return 200 "ok\\n"; }
                  }
                }
                """.formatted(o.work(), tmp, nginxPort, data));
        String nginx = Files.isExecutable(Path.of("/usr/sbin/nginx")) ? "/usr/sbin/nginx" : "nginx";
        Process p = new ProcessBuilder(nginx, "-c", conf.toString(), "-p", o.work().toString())
                .redirectErrorStream(true).redirectOutput(o.work().resolve("nginx.out").toFile()).start();
        processes.add(p);
        waitUntil(() -> httpOk(url(nginxPort, "/small.bin"), null), 20_000);
    }

    private List<String> java(String... args) {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        cmd.addAll(jvmFlags());
        String jfr = System.getProperty("bench.jfr"); // profile the proxy and origins: a .jfc settings file
        if (jfr != null) {
            cmd.add("-XX:StartFlightRecording=settings=" + jfr + ",filename=" + o.work().resolve(args[0] + "-"
                    + System.nanoTime() + ".jfr") + ",dumponexit=true");
        }
        String extra = System.getProperty("bench.jvmOpts", "").trim(); // e.g. GC or Netty settings to compare
        if (!extra.isEmpty()) {
            cmd.addAll(List.of(extra.split("\\s+")));
        }
        cmd.addAll(List.of("-jar", o.jar().toString()));
        cmd.addAll(List.of(args));
        return cmd;
    }

    /**
     * The proxy's and origins' JVM flags: none by default, so their footprint is that of
     * {@code java -jar spdy-proxy.jar ...} as the README runs it; {@code -Dbench.jvm=sized} gives
     * the fixed heap earlier runs used (256 MiB pre-touched, 1 GiB at most).
     */
    private static List<String> jvmFlags() {
        return "sized".equals(System.getProperty("bench.jvm"))
                ? List.of("-Xms256m", "-Xmx1g", "-XX:+UseG1GC", "-XX:+AlwaysPreTouch")
                : List.of();
    }

    private void startProxy() throws Exception {
        List<String> cmd = java("proxy", "--bind", "127.0.0.1", "--port", String.valueOf(httpPort),
                "--tunnel-port", String.valueOf(tunnelPort), "--https-port", String.valueOf(httpsPort), "--admin-port", String.valueOf(adminPort),
                "--domain", "bench", "--default-tunnel", "files", "--token", "files=" + TOKEN,
                "--token", "upstream=" + TOKEN, "--token", "sink=" + TOKEN,
                "--token", WebSocketBench.TUNNEL + "=" + TOKEN, "--token", GrpcBench.TUNNEL + "=" + TOKEN,
                "--token", TunnelProtocolBench.TUNNEL + "=" + TOKEN, "--data-dir",
                o.work().resolve("proxy-data").toString(), "--response-timeout", "300s",
                // The idle-streams scenario holds request bodies open on purpose.
                "--idle-timeout", "600s");
        for (int i = 0; i < o.originProcesses(); i++) {
            cmd.add("--token");
            cmd.add("many" + i + "=" + TOKEN);
        }
        proxy = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        processes.add(proxy);
        BufferedReader r = new BufferedReader(new InputStreamReader(proxy.getInputStream(), StandardCharsets.UTF_8));
        String line;
        while ((line = r.readLine()) != null) {
            Matcher m = FINGERPRINT.matcher(line);
            if (m.find()) {
                fingerprint = m.group(1);
                break;
            }
        }
        if (fingerprint == null) {
            throw new IOException("the proxy did not start (no fingerprint printed)");
        }
        drain(r);
        waitUntil(() -> httpOk("http://127.0.0.1:" + adminPort + "/debug", null), 20_000);
    }

    private void startOrigin(String name, String... args) throws IOException {
        List<String> cmd = java("origin", "--proxy", "127.0.0.1:" + tunnelPort, "--name", name, "--token", TOKEN,
                "--fingerprint", fingerprint);
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(o.work().resolve("origin-" + name + ".log").toFile()).start();
        processes.add(p);
        origins.put(name, p);
    }

    private void awaitTunnels(int n) throws Exception {
        waitUntil(() -> {
            try {
                return number(admin(false), "tunnelCount") >= n;
            } catch (Exception e) {
                return false;
            }
        }, 120_000);
    }

    private long streamsInFlight() {
        try {
            String s = admin(false);
            Matcher m = Pattern.compile("\"streamsInFlight\":(\\d+)").matcher(s);
            long total = 0;
            while (m.find()) {
                total += Long.parseLong(m.group(1));
            }
            return total;
        } catch (Exception e) {
            return -1;
        }
    }

    private String admin(boolean gc) throws Exception {
        HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + adminPort + "/debug" + (gc ? "?gc=true" : ""))).build(),
                HttpResponse.BodyHandlers.ofString());
        return r.body();
    }

    private void stopAll() {
        for (int i = processes.size() - 1; i >= 0; i--) {
            processes.get(i).destroy();
        }
        for (Process p : processes) {
            try {
                if (!p.waitFor(15, TimeUnit.SECONDS)) {
                    p.destroyForcibly();
                }
            } catch (InterruptedException e) {
                p.destroyForcibly();
                Thread.currentThread().interrupt();
            }
        }
    }

    // ---------------------------------------------------------------------------------------
    // Results

    private void row(String name, String direct, String files, String upstream) {
        table.add(new String[] {name, direct, files, upstream, ratio(files, direct) + " / " + ratio(upstream, direct)});
    }

    private String writeResults() throws IOException {
        StringBuilder md = new StringBuilder();
        md.append("| scenario | direct (nginx) | tunnel, file server | tunnel, upstream nginx | tunnel / direct |\n");
        md.append("|---|---|---|---|---|\n");
        for (String[] r : table) {
            md.append("| ").append(String.join(" | ", r)).append(" |\n");
        }
        String stamp = Instant.now().toString().replace(":", "").replaceAll("\\..*", "");
        Files.writeString(o.results().resolve("latest.md"), md.toString());
        Files.writeString(o.results().resolve("latest.json"), toJson(results) + "\n");
        boolean complete = o.only().containsAll(Options.SCENARIOS);
        if (!o.quick() && complete) {
            Files.writeString(o.results().resolve("run-" + stamp + ".md"), md.toString());
            Files.writeString(o.results().resolve("run-" + stamp + ".json"), toJson(results) + "\n");
        }
        if (o.only().contains("small") && o.only().contains("transfers")) {
            plot();
        }
        return md.toString();
    }

    /** Latency percentiles and throughput, tunnel against direct, as PNG through gnuplot. */
    private void plot() {
        try {
            StringBuilder lat = new StringBuilder("# label direct files upstream\n");
            for (int c : new int[] {1, 10, 100}) {
                @SuppressWarnings("unchecked")
                Map<String, Map<String, String>> m = (Map<String, Map<String, String>>) results.get("small_c" + c);
                if (m == null) {
                    continue; // not measured at this many connections (the smoke run)
                }
                for (String p : new String[] {"p50", "p99", "p999"}) {
                    lat.append('"').append("c").append(c).append(' ').append(p.replace("p999", "p99.9")).append("\" ")
                            .append(m.get("direct").get(p)).append(' ').append(m.get("tunnel_files").get(p)).append(' ')
                            .append(m.get("tunnel_upstream").get(p)).append('\n');
                }
            }
            StringBuilder tput = new StringBuilder("# label direct files upstream\n");
            for (String k : new String[] {"download_x1", "download_x8", "upload_x1", "upload_x8"}) {
                @SuppressWarnings("unchecked")
                Map<String, Double> m = (Map<String, Double>) results.get(k);
                tput.append('"').append(k.replace('_', ' ')).append("\" ").append(m.get("direct_MBps")).append(' ')
                        .append(m.get("tunnel_files_MBps")).append(' ').append(m.get("tunnel_upstream_MBps")).append('\n');
            }
            Path latFile = o.work().resolve("latency.dat");
            Path tputFile = o.work().resolve("throughput.dat");
            Files.writeString(latFile, lat);
            Files.writeString(tputFile, tput);
            String script = """
                    set terminal pngcairo size 1200,500 font ",10"
                    set output '%s'
                    set multiplot layout 1,2 title "spdy-proxy: tunnel vs direct (nginx), same run"
                    set style data histograms
                    set style histogram clustered gap 1
                    set style fill solid 0.8 border -1
                    set xtics rotate by -40
                    set key top left
                    set logscale y
                    set ylabel "latency (µs, log)"
                    set title "1 KiB responses: latency percentiles by connections"
                    plot '%s' using 2:xtic(1) title 'direct', '' using 3 title 'tunnel (files)', '' using 4 title 'tunnel (upstream)'
                    unset logscale y
                    set ylabel "MB/s"
                    set yrange [0:*]
                    set key top right
                    set title "large transfers"
                    plot '%s' using 2:xtic(1) title 'direct', '' using 3 title 'tunnel (files)', '' using 4 title 'tunnel (upstream)'
                    unset multiplot
                    """.formatted(o.results().resolve("latest.png"), latFile, tputFile);
            Path gp = o.work().resolve("plot.gp");
            Files.writeString(gp, script);
            exec(List.of("gnuplot", gp.toString()), 60);
        } catch (Exception e) {
            out.println("  (no plot: " + e.getMessage() + ")");
        }
    }

    private Map<String, Object> machine() throws Exception {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("cores", Runtime.getRuntime().availableProcessors());
        String cpu = Files.readAllLines(Path.of("/proc/cpuinfo")).stream().filter(l -> l.startsWith("model name"))
                .findFirst().map(l -> l.substring(l.indexOf(':') + 1).trim()).orElse("?");
        m.put("cpu", cpu);
        m.put("java", System.getProperty("java.version"));
        m.put("transport", Transport.name());
        m.put("tls", io.spdyproxy.tls.TlsContexts.provider());
        m.put("date", Instant.now().toString());
        return m;
    }

    // ---------------------------------------------------------------------------------------
    // Small helpers

    private static String toJson(Object v) {
        if (v instanceof Map<?, ?> m) {
            StringBuilder b = new StringBuilder("{");
            boolean first = true;
            for (var e : m.entrySet()) {
                b.append(first ? "" : ",").append('"').append(e.getKey()).append("\":").append(toJson(e.getValue()));
                first = false;
            }
            return b.append('}').toString();
        }
        if (v instanceof Number n) {
            return n.toString();
        }
        String s = String.valueOf(v);
        return s.matches("-?[0-9]+(\\.[0-9]+)?") ? s : '"' + s.replace("\\", "\\\\").replace("\"", "\\\"") + '"';
    }

    private static double number(String json, String key) {
        Matcher m = Pattern.compile(String.format(NUMBER.pattern(), key)).matcher(json);
        if (!m.find()) {
            throw new IllegalStateException("no " + key + " in " + json);
        }
        return Double.parseDouble(m.group(1));
    }

    private static String trim(double d) {
        return d == Math.rint(d) ? String.valueOf((long) d) : String.format(Locale.ROOT, "%.1f", d);
    }

    private static String fmt(double d) {
        return String.format(Locale.ROOT, d >= 100 ? "%.0f" : "%.2f", d);
    }

    private static String ratio(String a, String b) {
        try {
            double x = Double.parseDouble(a);
            double y = Double.parseDouble(b);
            return y == 0 ? "-" : String.format(Locale.ROOT, "%.2f", x / y);
        } catch (RuntimeException e) {
            return "-";
        }
    }

    private static String url(int port, String path) {
        return "http://127.0.0.1:" + port + path;
    }

    private Path benchDir() {
        String configured = System.getProperty("bench.dir");
        if (configured != null) {
            return Path.of(configured);
        }
        Path p = Path.of("bench");
        return Files.isDirectory(p) ? p : o.jar().toAbsolutePath().getParent().getParent().resolve("bench");
    }

    private static boolean httpOk(String url, String host) {
        try {
            HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).timeout(java.time.Duration.ofSeconds(2));
            HttpResponse<Void> r = HttpClient.newHttpClient().send(b.build(), HttpResponse.BodyHandlers.discarding());
            return r.statusCode() == 200;
        } catch (Exception e) {
            return false;
        }
    }

    /**
     * A memory figure of a process and its descendants (the JVM the jar relaunches itself in)
     * from /proc/PID/status: VmRSS (resident now) or VmHWM (peak; summed over the processes).
     */
    private static long memory(Process p, String field) {
        if (p == null) {
            return -1;
        }
        long total = memory(p.pid(), field);
        for (ProcessHandle h : p.descendants().toList()) {
            total += Math.max(0, memory(h.pid(), field));
        }
        return total;
    }

    private static long memory(long pid, String field) {
        try {
            for (String l : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
                if (l.startsWith(field + ":")) {
                    return Long.parseLong(l.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (IOException e) {
            // not Linux: no figure
        }
        return -1;
    }

    private static void drain(BufferedReader r) {
        Thread t = new Thread(() -> {
            try {
                while (r.readLine() != null) {
                    // keep the pipe from filling up
                }
            } catch (IOException e) {
                // process ended
            }
        }, "drain");
        t.setDaemon(true);
        t.start();
    }

    private static String exec(List<String> cmd, long timeoutSeconds) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        CompletableFuture<String> text = CompletableFuture.supplyAsync(() -> {
            try {
                return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            } catch (IOException e) {
                return "";
            }
        });
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException(cmd.get(0) + " timed out");
        }
        return text.get(10, TimeUnit.SECONDS);
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    /** Polls {@code condition} every 50 ms (on a latch nobody counts down) until it holds. */
    private static void waitUntil(java.util.function.BooleanSupplier condition, long timeoutMillis)
            throws InterruptedException {
        CountDownLatch never = new CountDownLatch(1);
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("timed out waiting after " + timeoutMillis + " ms");
            }
            never.await(50, TimeUnit.MILLISECONDS);
        }
    }
}
