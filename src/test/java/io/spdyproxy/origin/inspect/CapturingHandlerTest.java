package io.spdyproxy.origin.inspect;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.spdyproxy.tunnel.BodyListener;
import io.spdyproxy.tunnel.StreamClosedException;
import io.spdyproxy.tunnel.StreamError;
import io.spdyproxy.tunnel.TunnelExchange;
import io.spdyproxy.tunnel.TunnelSession;
import io.spdyproxy.tunnel.TunnelStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The decorator changes nothing of what flows: the handler gets the very buffers the tunnel
 * delivered (same instances, same reference counts, same order, same end), its writes reach the
 * stream unchanged, window credit and resets pass through, and the capture holds only copies.
 */
class CapturingHandlerTest {
    /** A tunnel stream that records what the handler does to it. */
    private static final class RecordingStream implements TunnelStream {
        final List<Object> calls = new ArrayList<>();
        boolean writable = true;

        @Override
        public int id() {
            return 1;
        }

        @Override
        public TunnelSession session() {
            return null;
        }

        @Override
        public void sendResponse(HttpResponse head, boolean endOfStream) {
            calls.add("response " + head.status().code() + " " + endOfStream);
        }

        @Override
        public void sendData(ByteBuf data, boolean endOfStream) {
            calls.add(data);
            calls.add("data " + endOfStream);
        }

        @Override
        public void sendTrailers(HttpHeaders trailers) {
            calls.add("trailers " + trailers.get("x-sum"));
        }

        @Override
        public void consume(int bytes) {
            calls.add("consume " + bytes);
        }

        @Override
        public void reset(StreamError error) {
            calls.add("reset " + error);
        }

        @Override
        public boolean isWritable() {
            return writable;
        }

        @Override
        public long queuedBytes() {
            return 0;
        }

        @Override
        public long maxQueuedBytes() {
            return 0;
        }

        @Override
        public long bytesSent() {
            return 0;
        }

        @Override
        public long bytesReceived() {
            return 0;
        }

        @Override
        public boolean isClosed() {
            return false;
        }
    }

    private final CaptureStore store = new CaptureStore(10, 1024 * 1024, 8);
    private final RecordingStream stream = new RecordingStream();

    private TunnelExchange outer(HttpMethod method, boolean hasBody) {
        DefaultHttpRequest r = new DefaultHttpRequest(HttpVersion.HTTP_1_1, method, "/up?x=1");
        r.headers().set("host", "app.test");
        return new TunnelExchange(stream, r, "https", hasBody);
    }

    @Test
    void theHandlerGetsTheSameBuffersAndItsAnswerReachesTheStreamUnchanged() {
        List<Object> heard = new ArrayList<>();
        TunnelExchange[] inner = new TunnelExchange[1];
        CapturingHandler h = new CapturingHandler(ex -> {
            inner[0] = ex;
            ex.onBody(new BodyListener() {
                @Override
                public void onChunk(ByteBuf chunk, boolean last) {
                    heard.add(System.identityHashCode(chunk));
                    heard.add("refCnt " + chunk.refCnt() + " last " + last);
                    int n = chunk.readableBytes();
                    chunk.release();
                    ex.consume(n);
                }

                @Override
                public void onTrailers(HttpHeaders trailers) {
                    heard.add("trailers " + trailers.get("x-sum"));
                }
            });
            ex.onWritable(() -> heard.add("writable"));
            ex.onClose(cause -> heard.add("closed " + (cause == null ? "clean" : cause.error())));
        }, store);
        TunnelExchange outer = outer(HttpMethod.POST, true);
        h.onRequest(outer);
        assertThat(inner[0].request()).isSameAs(outer.request());
        assertThat(inner[0].scheme()).isEqualTo("https");
        assertThat(inner[0].requestHasBody()).isTrue();

        ByteBuf one = PooledByteBufAllocator.DEFAULT.directBuffer().writeBytes("hello ".getBytes(StandardCharsets.UTF_8));
        ByteBuf two = PooledByteBufAllocator.DEFAULT.directBuffer().writeBytes("world!".getBytes(StandardCharsets.UTF_8));
        outer.onData(stream, one, false);
        outer.onData(stream, two, false);
        HttpHeaders trailers = io.netty.handler.codec.http.DefaultHttpHeadersFactory.headersFactory()
                .withNameValidation(false).newHeaders().add("x-sum", "42").add(":pseudo", "dropped");
        outer.onTrailers(stream, trailers, true);
        outer.onWritabilityChanged(stream);
        assertThat(heard).as("the same buffer instances, in order").containsExactly(System.identityHashCode(one),
                "refCnt 1 last false", System.identityHashCode(two), "refCnt 1 last false", "trailers 42",
                System.identityHashCode(Unpooled.EMPTY_BUFFER), "refCnt 1 last true", "writable");
        assertThat(stream.calls).containsExactly("consume 6", "consume 6", "consume 0");

        stream.calls.clear();
        HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.CREATED);
        ByteBuf answer = Unpooled.copiedBuffer("0123456789abcdef", StandardCharsets.UTF_8);
        inner[0].respond(head, false);
        inner[0].write(answer, false);
        inner[0].end(new DefaultHttpHeaders().add("x-sum", "7"));
        assertThat(stream.calls).containsExactly("response 201 false", answer, "data false", "trailers 7");
        assertThat(answer.refCnt()).as("ownership passed to the stream, nothing retained").isEqualTo(1);
        answer.release();

        outer.onClosed(stream, null);
        assertThat(heard).endsWith("closed clean");
        Capture c = store.newestFirst().get(0);
        Capture.Snapshot s = c.snapshot();
        assertThat(new String(s.requestBody(), StandardCharsets.UTF_8)).as("8 bytes kept").isEqualTo("hello wo");
        assertThat(s.requestBodyTotal()).isEqualTo(12);
        assertThat(new String(s.responseBody(), StandardCharsets.UTF_8)).isEqualTo("01234567");
        assertThat(s.responseBodyTotal()).isEqualTo(16);
        assertThat(s.requestTrailers()).extracting(e -> e.getKey() + "=" + e.getValue()).containsExactly("x-sum=42");
        assertThat(s.responseTrailers()).extracting(e -> e.getKey() + "=" + e.getValue()).containsExactly("x-sum=7");
        assertThat(s.status()).isEqualTo(201);
        assertThat(s.outcome()).isEqualTo(Outcome.COMPLETE);
        assertThat(c.done).isCompleted();
    }

    @Test
    void aBodyTheHandlerIgnoresIsStillReleasedAndCredited() {
        CapturingHandler h = new CapturingHandler(ex -> { }, store);
        TunnelExchange outer = outer(HttpMethod.PUT, true);
        h.onRequest(outer);
        ByteBuf chunk = PooledByteBufAllocator.DEFAULT.directBuffer().writeBytes(new byte[100]);
        outer.onData(stream, chunk, true);
        assertThat(chunk.refCnt()).isZero();
        assertThat(stream.calls).containsExactly("consume 100");
        assertThat(store.newestFirst().get(0).snapshot().requestBodyTotal()).isEqualTo(100);
    }

    @Test
    void howTheExchangeEndedIsRecorded() {
        CapturingHandler h = new CapturingHandler(ex -> ex.reset(StreamError.INTERNAL_ERROR), store);
        TunnelExchange reset = outer(HttpMethod.GET, false);
        h.onRequest(reset);
        assertThat(stream.calls).containsExactly("reset INTERNAL_ERROR");
        reset.onClosed(stream, new StreamClosedException(StreamError.INTERNAL_ERROR, false, true, "reset"));
        TunnelExchange aborted = outer(HttpMethod.GET, false);
        h.onRequest(aborted);
        aborted.onClosed(stream, new StreamClosedException(StreamError.CANCEL, false, false, "client went away"));
        List<Capture> kept = store.newestFirst();
        assertThat(kept.get(0).snapshot().outcome()).isEqualTo(Outcome.ABORTED);
        assertThat(kept.get(0).snapshot().error()).isEqualTo("CANCEL");
        assertThat(kept.get(1).snapshot().outcome()).isEqualTo(Outcome.RESET);
        assertThat(kept.get(1).snapshot().status()).isZero();
        assertThat(CaptureJson.detail(kept.get(0))).contains("\"outcomeText\":\"aborted by the client or the tunnel (CANCEL)\"");
    }
}
