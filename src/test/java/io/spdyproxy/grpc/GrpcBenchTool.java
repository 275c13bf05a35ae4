package io.spdyproxy.grpc;

import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * The gRPC half of the benchmark's {@code grpc} scenario, run as a JVM of its own by {@code
 * io.spdyproxy.bench.GrpcBench} with the test classpath: grpc-java stays out of the product jar
 * (it is a test dependency), and the app and the load generator do not share the proxy's JVM.
 *
 * <ul>
 *   <li>{@code server}: {@link ProbeService} on a loopback port; prints {@code port: N}, runs until
 *       its standard input closes (so it never outlives the benchmark).
 *   <li>{@code load HOST:PORT AUTHORITY CALLERS SECONDS WARMUP}: CALLERS concurrent unary calls
 *       ({@code Echo}, 100 bytes) on one channel for SECONDS after WARMUP seconds; prints one JSON
 *       line: calls, calls/s, p50/p99 latency in µs, errors.
 * </ul>
 *
 * <p>Threading: callers run on gRPC's threads; each completion starts that caller's next call.
 */
public final class GrpcBenchTool {
    private GrpcBenchTool() {}

    public static void main(String[] args) throws Exception {
        switch (args.length == 0 ? "" : args[0]) {
            case "server" -> server();
            case "load" -> load(args[1], args[2], Integer.parseInt(args[3]), Integer.parseInt(args[4]),
                    Integer.parseInt(args[5]));
            default -> {
                System.err.println("usage: server | load HOST:PORT AUTHORITY CALLERS SECONDS WARMUP");
                System.exit(2);
            }
        }
    }

    private static void server() throws IOException, InterruptedException {
        Server s = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
                .addService(new ProbeService().definition()).build().start();
        System.out.println("port: " + s.getPort());
        System.out.flush();
        while (System.in.read() >= 0) {
            // runs until the benchmark closes our standard input (or dies)
        }
        s.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }

    private static void load(String target, String authority, int callers, int seconds, int warmup)
            throws InterruptedException {
        int colon = target.lastIndexOf(':');
        ManagedChannel channel = NettyChannelBuilder.forAddress(target.substring(0, colon),
                Integer.parseInt(target.substring(colon + 1))).usePlaintext().overrideAuthority(authority).build();
        try {
            run(channel, callers, warmup); // JIT warm-up of both ends; figures discarded
            Result r = run(channel, callers, seconds);
            System.out.printf(Locale.ROOT, "{\"calls\":%d,\"cps\":%.1f,\"p50\":%d,\"p99\":%d,\"errors\":%d}%n",
                    r.calls(), r.calls() / (double) seconds, r.percentile(0.50), r.percentile(0.99), r.errors.get());
        } finally {
            channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
    }

    private static Result run(ManagedChannel channel, int callers, int seconds) throws InterruptedException {
        Result r = new Result();
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        CountDownLatch stopped = new CountDownLatch(callers);
        byte[] payload = new byte[100];
        for (int i = 0; i < callers; i++) {
            new Caller(channel, payload, end, r, stopped).next();
        }
        if (!stopped.await(seconds + 30L, TimeUnit.SECONDS)) {
            throw new IllegalStateException("callers did not finish");
        }
        return r;
    }

    /** One caller: a unary call, and on its answer the next, until the end time. */
    private record Caller(ManagedChannel channel, byte[] payload, long end, Result r, CountDownLatch stopped) {
        void next() {
            if (System.nanoTime() >= end) {
                stopped.countDown();
                return;
            }
            long t0 = System.nanoTime();
            ClientCalls.asyncUnaryCall(channel.newCall(ProbeService.ECHO, CallOptions.DEFAULT), payload,
                    new StreamObserver<byte[]>() {
                        @Override
                        public void onNext(byte[] value) {
                            r.record((System.nanoTime() - t0) / 1_000);
                        }

                        @Override
                        public void onError(Throwable t) {
                            r.errors.incrementAndGet();
                            next();
                        }

                        @Override
                        public void onCompleted() {
                            next();
                        }
                    });
        }
    }

    /** Calls and a latency histogram in µs (1 µs buckets up to 1 s, the rest in the last). */
    private static final class Result {
        private static final int BUCKETS = 1_000_000;
        final AtomicLongArray histogram = new AtomicLongArray(BUCKETS);
        final AtomicLong errors = new AtomicLong();

        long calls() {
            long total = 0;
            for (int i = 0; i < BUCKETS; i++) {
                total += histogram.get(i);
            }
            return total;
        }

        void record(long micros) {
            histogram.incrementAndGet((int) Math.min(BUCKETS - 1, micros));
        }

        long percentile(double p) {
            long[] h = new long[BUCKETS];
            Arrays.setAll(h, histogram::get);
            long total = Arrays.stream(h).sum();
            long seen = 0;
            for (int i = 0; i < BUCKETS; i++) {
                seen += h[i];
                if (seen >= p * total && total > 0) {
                    return i;
                }
            }
            return BUCKETS;
        }
    }
}
