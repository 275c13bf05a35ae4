package io.spdyproxy.grpc;

import io.grpc.Context;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.ServerCalls;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The gRPC service of the tests and of the benchmark's {@code grpc} scenario, defined without
 * protoc: {@link MethodDescriptor}s over raw bytes, one per call shape gRPC has (unary, server
 * streaming, client streaming, bidirectional), plus methods that fail, stall, stream forever or
 * stream under flow control, each reporting what the app saw (a cancel, readiness) through
 * futures and counters a test waits on.
 *
 * <p>Threading: gRPC calls the handlers on its executor, one call's callbacks serialized; the
 * probes (futures, atomics) are read by the test thread.
 */
final class ProbeService {
    static final String SERVICE = "spdyproxy.test.Probe";
    static final Metadata.Key<String> DETAIL = Metadata.Key.of("x-detail", Metadata.ASCII_STRING_MARSHALLER);
    static final Metadata.Key<byte[]> DETAIL_BIN = Metadata.Key.of("x-detail-bin", Metadata.BINARY_BYTE_MARSHALLER);

    /** Raw bytes as the message: no protobuf needed to speak gRPC (declared before the methods that use it). */
    static final MethodDescriptor.Marshaller<byte[]> BYTES = new MethodDescriptor.Marshaller<>() {
        @Override
        public InputStream stream(byte[] value) {
            return new ByteArrayInputStream(value);
        }

        @Override
        public byte[] parse(InputStream stream) {
            try {
                return stream.readAllBytes();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    };

    static final MethodDescriptor<byte[], byte[]> ECHO = method("Echo", MethodDescriptor.MethodType.UNARY);
    /** Request: count and size (two ints); answer: count messages of size bytes, each starting with its index. */
    static final MethodDescriptor<byte[], byte[]> COUNT = method("Count", MethodDescriptor.MethodType.SERVER_STREAMING);
    /** Answer: the number of messages and of bytes received (two longs). */
    static final MethodDescriptor<byte[], byte[]> SUM = method("Sum", MethodDescriptor.MethodType.CLIENT_STREAMING);
    /** Echoes every message as it comes. */
    static final MethodDescriptor<byte[], byte[]> PING = method("PingPong", MethodDescriptor.MethodType.BIDI_STREAMING);
    /** Request: a status code (one byte) and a message (UTF-8); answer: that status, with trailers. */
    static final MethodDescriptor<byte[], byte[]> FAIL = method("Fail", MethodDescriptor.MethodType.UNARY);
    /** Never answers; its context's cancellation completes {@link Probes#slowCancelled}. */
    static final MethodDescriptor<byte[], byte[]> SLOW = method("Slow", MethodDescriptor.MethodType.UNARY);
    /** Streams small messages while ready, until cancelled . */
    static final MethodDescriptor<byte[], byte[]> ENDLESS = method("Endless",
            MethodDescriptor.MethodType.SERVER_STREAMING);
    /** Like {@link #COUNT}, but only while the call is ready: the app obeys flow control ({@link Probes}). */
    static final MethodDescriptor<byte[], byte[]> FLOOD = method("Flood", MethodDescriptor.MethodType.SERVER_STREAMING);

    /** What the calls of one test did; {@link #reset()} starts afresh. */
    volatile Probes probes = new Probes();

    /**
     * What the app saw: the cancels of {@link #SLOW} and {@link #ENDLESS}; for {@link #FLOOD},
     * the messages handed to gRPC and how often the handler found the call not ready and stopped
     * (backpressure reaching the app).
     */
    static final class Probes {
        final CompletableFuture<Void> slowStarted = new CompletableFuture<>();
        final CompletableFuture<Void> slowCancelled = new CompletableFuture<>();
        final CompletableFuture<Void> endlessCancelled = new CompletableFuture<>();
        final AtomicLong endlessSent = new AtomicLong();
        final AtomicInteger floodSent = new AtomicInteger();
        final AtomicInteger floodBlockedTimes = new AtomicInteger();
        /** Set when grpc-java's server warned of a request without {@code te: trailers}. */
        volatile boolean teTrailersMissing;
        final CompletableFuture<Void> floodStarted = new CompletableFuture<>();
        final CompletableFuture<Void> floodDone = new CompletableFuture<>();
        /** Told the count after every message the flood hands to gRPC. */
        volatile java.util.function.IntConsumer floodSentWatcher = n -> {};
    }

    void reset() {
        probes = new Probes();
    }

    /**
     * grpc-java's server drops {@code te} from the metadata it hands the app and only logs a
     * warning when {@code te: trailers} is missing; this listens for that warning.
     */
    java.util.logging.Handler teWarnings() {
        return new java.util.logging.Handler() {
            @Override
            public void publish(java.util.logging.LogRecord r) {
                if (r.getMessage() != null && r.getMessage().contains("TE: trailers")) {
                    probes.teTrailersMissing = true;
                }
            }

            @Override
            public void flush() {}

            @Override
            public void close() {}
        };
    }

    ServerServiceDefinition definition() {
        return ServerServiceDefinition.builder(SERVICE)
                .addMethod(ECHO, ServerCalls.asyncUnaryCall((req, out) -> {
                    out.onNext(req);
                    out.onCompleted();
                }))
                .addMethod(COUNT, ServerCalls.asyncServerStreamingCall((req, out) -> {
                    ByteBuffer b = ByteBuffer.wrap(req);
                    int count = b.getInt();
                    int size = b.getInt();
                    for (int i = 0; i < count; i++) {
                        out.onNext(indexed(i, size));
                    }
                    out.onCompleted();
                }))
                .addMethod(SUM, ServerCalls.asyncClientStreamingCall(out -> new StreamObserver<byte[]>() {
                    long messages;
                    long bytes;

                    @Override
                    public void onNext(byte[] value) {
                        messages++;
                        bytes += value.length;
                    }

                    @Override
                    public void onError(Throwable t) {
                        // the client went away: nothing to answer
                    }

                    @Override
                    public void onCompleted() {
                        out.onNext(ByteBuffer.allocate(16).putLong(messages).putLong(bytes).array());
                        out.onCompleted();
                    }
                }))
                .addMethod(PING, ServerCalls.asyncBidiStreamingCall(out -> new StreamObserver<byte[]>() {
                    @Override
                    public void onNext(byte[] value) {
                        out.onNext(value);
                    }

                    @Override
                    public void onError(Throwable t) {
                        // the client went away
                    }

                    @Override
                    public void onCompleted() {
                        out.onCompleted();
                    }
                }))
                .addMethod(FAIL, ServerCalls.asyncUnaryCall((req, out) -> {
                    Metadata trailers = new Metadata();
                    trailers.put(DETAIL, "detail-value");
                    trailers.put(DETAIL_BIN, new byte[] {0, 1, 2, (byte) 0xff});
                    String message = new String(req, 1, req.length - 1, StandardCharsets.UTF_8);
                    out.onError(Status.fromCodeValue(req[0]).withDescription(message).asRuntimeException(trailers));
                }))
                .addMethod(SLOW, ServerCalls.asyncUnaryCall((req, out) -> {
                    Probes p = probes;
                    Context.current().addListener(c -> p.slowCancelled.complete(null), Runnable::run);
                    p.slowStarted.complete(null);
                }))
                .addMethod(ENDLESS, ServerCalls.asyncServerStreamingCall((req, out) -> {
                    Probes p = probes;
                    ServerCallStreamObserver<byte[]> call = (ServerCallStreamObserver<byte[]>) out;
                    call.setOnCancelHandler(() -> p.endlessCancelled.complete(null));
                    call.setOnReadyHandler(() -> {
                        while (call.isReady() && !call.isCancelled()) {
                            call.onNext(indexed((int) p.endlessSent.getAndIncrement(), 64));
                        }
                    });
                }))
                .addMethod(FLOOD, ServerCalls.asyncServerStreamingCall((req, out) -> {
                    ByteBuffer b = ByteBuffer.wrap(req);
                    int count = b.getInt();
                    int size = b.getInt();
                    Probes p = probes;
                    ServerCallStreamObserver<byte[]> call = (ServerCallStreamObserver<byte[]>) out;
                    call.setOnCancelHandler(() -> p.floodDone.completeExceptionally(new IllegalStateException("cancelled")));
                    call.setOnReadyHandler(() -> {
                        p.floodStarted.complete(null);
                        while (call.isReady() && p.floodSent.get() < count) {
                            call.onNext(indexed(p.floodSent.getAndIncrement(), size));
                            p.floodSentWatcher.accept(p.floodSent.get());
                        }
                        if (p.floodSent.get() < count) {
                            p.floodBlockedTimes.incrementAndGet();
                        } else if (!p.floodDone.isDone()) {
                            call.onCompleted();
                            p.floodDone.complete(null);
                        }
                    });
                }))
                .build();
    }

    /** A message of {@code size} bytes (at least 4) starting with {@code index}, the rest a pattern. */
    static byte[] indexed(int index, int size) {
        byte[] m = new byte[Math.max(4, size)];
        ByteBuffer.wrap(m).putInt(index);
        for (int i = 4; i < m.length; i++) {
            m[i] = (byte) (i * 31 + index);
        }
        return m;
    }

    static int indexOf(byte[] message) {
        return ByteBuffer.wrap(message).getInt();
    }

    static byte[] countRequest(int count, int size) {
        return ByteBuffer.allocate(8).putInt(count).putInt(size).array();
    }

    private static MethodDescriptor<byte[], byte[]> method(String name, MethodDescriptor.MethodType type) {
        return MethodDescriptor.<byte[], byte[]>newBuilder().setType(type)
                .setFullMethodName(MethodDescriptor.generateFullMethodName(SERVICE, name))
                .setRequestMarshaller(BYTES).setResponseMarshaller(BYTES).build();
    }
}
