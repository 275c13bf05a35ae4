package io.spdyproxy.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.StreamObserver;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Iterator;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every gRPC call shape and failure, run by a grpc-java client against {@link ProbeService} along
 * one {@link GrpcBed.Route}: each subclass picks the route (straight to the app, or through the
 * proxy's h2c or TLS front end and the tunnel). The direct run proves the cases themselves; the
 * tunnel runs prove the proxy carries gRPC unchanged.
 *
 * <p>Threading: the test thread drives the calls and waits on futures that gRPC's threads complete.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 30, unit = TimeUnit.SECONDS) // a guard: every case takes well under a second or two
abstract class GrpcCases {
    private static final int MIB = 1 << 20;

    private GrpcBed bed;
    private ManagedChannel channel;

    /** The bed this class's route needs. */
    abstract GrpcBed startBed(Path dir) throws Exception;

    abstract GrpcBed.Route route();

    @BeforeAll
    void start(@TempDir Path dir) throws Exception {
        bed = startBed(dir);
        channel = bed.channel(route());
    }

    @AfterAll
    void stop() throws Exception {
        if (bed != null) {
            bed.close();
        }
    }

    GrpcBed bed() {
        return bed;
    }

    @BeforeEach
    void freshProbes() {
        bed.service.reset();
    }

    @Test
    void unary() {
        byte[] answer = ClientCalls.blockingUnaryCall(channel, ProbeService.ECHO, CallOptions.DEFAULT,
                "hello".getBytes(StandardCharsets.UTF_8));
        assertThat(new String(answer, StandardCharsets.UTF_8)).isEqualTo("hello");
    }

    /**
     * gRPC requires {@code te: trailers} on a request (gRPC over HTTP/2, "Requests"); RFC 9113
     * section 8.2.2 lets exactly that TE value cross HTTP/2, so a proxy must keep it. Servers that
     * check it refuse a call without it; grpc-java logs a warning, which is what this listens for
     * (it logs before it starts the call, so the answer comes after it).
     */
    @Test
    void teTrailersReachesTheApp() {
        ClientCalls.blockingUnaryCall(channel, ProbeService.ECHO, CallOptions.DEFAULT, new byte[1]);
        assertThat(bed.service.probes.teTrailersMissing).as("the app warned: no te: trailers").isFalse();
    }

    @Test
    void serverStreamsTenThousandMessagesInOrder() {
        Iterator<byte[]> it = ClientCalls.blockingServerStreamingCall(channel, ProbeService.COUNT, CallOptions.DEFAULT,
                ProbeService.countRequest(10_000, 100));
        int n = 0;
        while (it.hasNext()) {
            byte[] m = it.next();
            assertThat(m).isEqualTo(ProbeService.indexed(n, 100));
            n++;
        }
        assertThat(n).isEqualTo(10_000);
    }

    @Test
    void clientStreams() throws Exception {
        CompletableFuture<byte[]> answer = new CompletableFuture<>();
        StreamObserver<byte[]> requests = ClientCalls.asyncClientStreamingCall(
                channel.newCall(ProbeService.SUM, CallOptions.DEFAULT), observer(answer));
        for (int i = 0; i < 1_000; i++) {
            requests.onNext(new byte[i % 2 == 0 ? 100 : 4_000]);
        }
        requests.onCompleted();
        ByteBuffer sums = ByteBuffer.wrap(answer.get(20, TimeUnit.SECONDS));
        assertThat(sums.getLong()).isEqualTo(1_000);
        assertThat(sums.getLong()).isEqualTo(500L * 100 + 500L * 4_000);
    }

    @Test
    void bidirectionalPingPong() throws Exception {
        int rounds = 500;
        CompletableFuture<Integer> done = new CompletableFuture<>();
        AtomicInteger received = new AtomicInteger();
        AtomicReference<ClientCallStreamObserver<byte[]>> out = new AtomicReference<>();
        ClientResponseObserver<byte[], byte[]> in = new ClientResponseObserver<>() {
            @Override
            public void beforeStart(ClientCallStreamObserver<byte[]> requestStream) {
                out.set(requestStream);
            }

            @Override
            public void onNext(byte[] pong) {
                int n = received.getAndIncrement();
                if (ProbeService.indexOf(pong) != n) {
                    done.completeExceptionally(new AssertionError("pong " + ProbeService.indexOf(pong) + " at " + n));
                } else if (n + 1 < rounds) {
                    out.get().onNext(ProbeService.indexed(n + 1, 32)); // the next ping only after this pong
                } else {
                    out.get().onCompleted();
                }
            }

            @Override
            public void onError(Throwable t) {
                done.completeExceptionally(t);
            }

            @Override
            public void onCompleted() {
                done.complete(received.get());
            }
        };
        StreamObserver<byte[]> requests = ClientCalls.asyncBidiStreamingCall(
                channel.newCall(ProbeService.PING, CallOptions.DEFAULT), in);
        requests.onNext(ProbeService.indexed(0, 32));
        assertThat(done.get(20, TimeUnit.SECONDS)).isEqualTo(rounds);
    }

    @Test
    void sixteenMebibytesEachWay() {
        byte[] big = new byte[16 * MIB];
        new Random(11).nextBytes(big);
        byte[] back = ClientCalls.blockingUnaryCall(channel, ProbeService.ECHO, CallOptions.DEFAULT, big);
        assertThat(back).isEqualTo(big);
    }

    @Test
    void statusCodeAndMessageReachTheClient() {
        // grpc-message is percent-encoded (gRPC over HTTP/2, "Responses"): non-ASCII and '%' must survive.
        String message = "no such thing: ünïcode, 100% sure";
        StatusRuntimeException e = fail(Status.Code.NOT_FOUND, message);
        assertThat(e.getStatus().getCode()).as(e.getStatus().toString()).isEqualTo(Status.Code.NOT_FOUND);
        assertThat(e.getStatus().getDescription()).isEqualTo(message);
    }

    @Test
    void statusWithMetadataInTheTrailers() {
        StatusRuntimeException e = fail(Status.Code.FAILED_PRECONDITION, "see the trailers");
        assertThat(e.getStatus().getCode()).as(e.getStatus().toString()).isEqualTo(Status.Code.FAILED_PRECONDITION);
        Metadata trailers = e.getTrailers();
        assertThat(trailers).isNotNull();
        assertThat(trailers.get(ProbeService.DETAIL)).isEqualTo("detail-value");
        assertThat(trailers.get(ProbeService.DETAIL_BIN)).containsExactly(0, 1, 2, 0xff);
    }

    @Test
    void deadlineExpiresAndTheAppSeesTheCancel() throws Exception {
        ProbeService.Probes p = bed.service.probes;
        StatusRuntimeException e = catchThrowableOfType(StatusRuntimeException.class,
                () -> ClientCalls.blockingUnaryCall(channel, ProbeService.SLOW,
                        CallOptions.DEFAULT.withDeadlineAfter(300, TimeUnit.MILLISECONDS), new byte[1]));
        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.DEADLINE_EXCEEDED);
        assertThat(p.slowStarted).isDone(); // the call did reach the app before it expired
        p.slowCancelled.get(10, TimeUnit.SECONDS);
    }

    @Test
    void clientCancelMidStreamReachesTheApp() throws Exception {
        ProbeService.Probes p = bed.service.probes;
        CompletableFuture<Throwable> ended = new CompletableFuture<>();
        AtomicReference<ClientCallStreamObserver<byte[]>> call = new AtomicReference<>();
        ClientCalls.asyncServerStreamingCall(channel.newCall(ProbeService.ENDLESS, CallOptions.DEFAULT),
                new byte[1], new ClientResponseObserver<byte[], byte[]>() {
                    int received;

                    @Override
                    public void beforeStart(ClientCallStreamObserver<byte[]> requestStream) {
                        call.set(requestStream);
                    }

                    @Override
                    public void onNext(byte[] value) {
                        if (++received == 100) {
                            call.get().cancel("enough", null);
                        }
                    }

                    @Override
                    public void onError(Throwable t) {
                        ended.complete(t);
                    }

                    @Override
                    public void onCompleted() {
                        ended.complete(null);
                    }
                });
        // No deadline travels with this call (no grpc-timeout), so only the stream's reset can tell the app.
        p.endlessCancelled.get(10, TimeUnit.SECONDS);
        assertThat(Status.fromThrowable(ended.get(10, TimeUnit.SECONDS)).getCode())
                .isEqualTo(Status.Code.CANCELLED);
    }

    /**
     * A slow consumer: a client with manual inbound flow control that takes nothing at first while
     * the app streams 1 MiB messages, sending only while {@code isReady()}. The bytes the app has
     * handed over but the client has not taken are everything in flight on every hop (HTTP/2 and
     * tunnel windows, socket buffers, the proxy's and origin's queues), so keeping them under
     * {@link #IN_FLIGHT_BOUND} bounds the proxy's memory, and the app stopping on readiness shows
     * backpressure reached it. Without backpressure the app would send all of its 32 MiB at once.
     * Then the client takes the messages one request at a time: all arrive, in order.
     */
    @Test
    void slowConsumerHoldsTheAppOnReadiness() throws Exception {
        int count = 32;
        ProbeService.Probes p = bed.service.probes;
        AtomicInteger delivered = new AtomicInteger();
        AtomicLong maxInFlight = new AtomicLong();
        CompletableFuture<Void> done = new CompletableFuture<>();
        AtomicReference<ClientCallStreamObserver<byte[]>> call = new AtomicReference<>();
        ClientCalls.asyncServerStreamingCall(channel.newCall(ProbeService.FLOOD, CallOptions.DEFAULT),
                ProbeService.countRequest(count, MIB), new ClientResponseObserver<byte[], byte[]>() {
                    @Override
                    public void beforeStart(ClientCallStreamObserver<byte[]> requestStream) {
                        call.set(requestStream);
                        requestStream.disableAutoRequestWithInitial(0);
                    }

                    @Override
                    public void onNext(byte[] m) {
                        int n = delivered.getAndIncrement();
                        // Sent before this one was taken: what was in flight at that moment.
                        maxInFlight.accumulateAndGet((long) (p.floodSent.get() - n) * MIB, Math::max);
                        if (ProbeService.indexOf(m) != n) {
                            done.completeExceptionally(new AssertionError("message " + ProbeService.indexOf(m)
                                    + " at " + n));
                        } else if (n + 1 < count) {
                            call.get().request(1); // the next one only once this one was taken
                        }
                    }

                    @Override
                    public void onError(Throwable t) {
                        done.completeExceptionally(t);
                    }

                    @Override
                    public void onCompleted() {
                        done.complete(null);
                    }
                });
        p.floodStarted.get(10, TimeUnit.SECONDS); // the call reached the app
        // The client holds its window. What must not happen within this hold is the app getting
        // past the bound; the hold is the scenario (a client not reading), not a wait for an event.
        CompletableFuture<Void> overrun = new CompletableFuture<>();
        p.floodSentWatcher = sent -> {
            if ((long) sent * MIB > IN_FLIGHT_BOUND) {
                overrun.complete(null);
            }
        };
        assertThat(overrun).as("the app sending past the bound while the client takes nothing")
                .failsWithin(Duration.ofSeconds(2));
        long heldBack = (long) p.floodSent.get() * MIB;
        // The app sends only while ready: still short of its count, it was stopped by readiness.
        assertThat(p.floodSent.get()).as("messages the app got to send").isLessThan(count);
        assertThat(p.floodBlockedTimes.get()).as("times the app found the call not ready").isPositive();
        call.get().request(1);
        done.get(25, TimeUnit.SECONDS);
        System.out.printf("%s slow consumer: %d KiB sent while the client held its window, at most %d KiB"
                + " in flight later; the app stopped %d times%n", route(), heldBack >> 10, maxInFlight.get() >> 10,
                p.floodBlockedTimes.get());
        assertThat(delivered.get()).isEqualTo(count);
        assertThat(maxInFlight.get()).as("bytes in flight between app and client").isLessThanOrEqualTo(IN_FLIGHT_BOUND);
    }

    /**
     * What may be in flight between app and client: the HTTP/2 windows and socket buffers of the
     * route (direct: gRPC's own window, 1 MiB growing with its BDP estimate, plus loopback socket
     * buffers; through the tunnel two more hops and the tunnel's window). Measured: a few MiB.
     */
    private static final long IN_FLIGHT_BOUND = 12L * MIB;

    private StatusRuntimeException fail(Status.Code code, String message) {
        byte[] m = message.getBytes(StandardCharsets.UTF_8);
        byte[] req = new byte[m.length + 1];
        req[0] = (byte) code.value();
        System.arraycopy(m, 0, req, 1, m.length);
        return catchThrowableOfType(StatusRuntimeException.class,
                () -> ClientCalls.blockingUnaryCall(channel, ProbeService.FAIL, CallOptions.DEFAULT, req));
    }

    private static <T> StreamObserver<T> observer(CompletableFuture<T> result) {
        return new StreamObserver<>() {
            @Override
            public void onNext(T value) {
                result.complete(value);
            }

            @Override
            public void onError(Throwable t) {
                result.completeExceptionally(t);
            }

            @Override
            public void onCompleted() {
                result.completeExceptionally(new AssertionError("completed without an answer"));
            }
        };
    }
}
