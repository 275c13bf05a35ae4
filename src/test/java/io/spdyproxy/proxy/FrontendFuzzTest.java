package io.spdyproxy.proxy;

import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static org.junit.jupiter.params.provider.Arguments.arguments;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.AppenderBase;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelInboundHandler;
import io.netty.channel.ChannelOutboundHandler;
import io.netty.channel.ChannelPromise;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseDecoder;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import io.spdyproxy.testing.SocketLikeChannel;
import io.spdyproxy.testing.TrackingAllocator;
import java.io.ByteArrayOutputStream;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.slf4j.LoggerFactory;

/**
 * Coverage-guided fuzzing of the front end's HTTP/1 request handling: the codec as
 * {@link ProxyServer#frontendCodec()} configures it and {@link FrontendHandler}, on an
 * {@code EmbeddedChannel} that reads only when the handler asks (auto-read is off in the proxy),
 * with no tunnel connected, so every request is answered by the front end itself. For any bytes a
 * client sends, cut into reads of any size:
 * <ul>
 *   <li>no exception escapes the handler or a task or listener it scheduled, and every buffer is
 *       released;
 *   <li>what the proxy writes is a sequence of complete, well-formed HTTP/1.1 responses (4xx or
 *       503 here, each with the length it declares, none with a body for HEAD, interim 100s
 *       aside), one per request in order, never more than the client sent;
 *   <li>after a response with {@code Connection: close} nothing follows and the connection closes;
 *   <li>a connection still open has answered every request it received, and asked for more bytes
 *       (no request left waiting, no wedged connection).
 * </ul>
 *
 * <p>Input layout: byte 0 picks the read size (low 6 bits, squared; 0: one read), bit 6 makes the
 * client half-close after its bytes, bit 7 configures a domain; the rest is the wire. Timeout: see
 * {@code SpdySessionFuzzTest}.
 */
@Timeout(value = 1, unit = TimeUnit.DAYS)
class FrontendFuzzTest {
    static final int HALF_CLOSE = 1 << 6;
    static final int DOMAIN = 1 << 7;

    /** Failures Netty logs instead of throwing: a task or a future listener that threw. */
    private static final Failures NETTY_FAILURES = new Failures();

    static {
        Logger netty = (Logger) LoggerFactory.getLogger("io.netty");
        if (!netty.isEnabledFor(Level.WARN)) {
            netty.setLevel(Level.WARN);
        }
        NETTY_FAILURES.start();
        netty.addAppender(NETTY_FAILURES);
    }

    @MethodSource("seeds")
    @FuzzTest(maxDuration = "10s")
    void clientBytes(byte[] input) {
        new Run(input).run();
    }

    private static final class Run {
        private final int flags;
        private final byte[] wire;
        private final TrackingAllocator alloc = new TrackingAllocator();
        private final List<ByteBuf> fed = new ArrayList<>();
        private final List<Object> written = new ArrayList<>();
        private final List<Throwable> thrown = new ArrayList<>();
        private SocketLikeChannel channel;
        private boolean readPending;

        Run(byte[] input) {
            flags = input.length > 0 ? input[0] & 0xFF : 0;
            wire = input.length > 0 ? Arrays.copyOfRange(input, 1, input.length) : new byte[0];
        }

        void run() {
            NETTY_FAILURES.seen.clear();
            ProxyConfig config = ProxyConfig.defaults(Path.of("unused"));
            if ((flags & DOMAIN) != 0) {
                config = config.withDomain("example.com", "default");
            }
            ProxyContext px = new ProxyContext(config, new TunnelRegistry(),
                    new Router(config.domain(), config.defaultTunnel()), new ProxyStats());
            ClientTimeouts timeouts = new ClientTimeouts(config.idleTimeout(), config.requestHeadTimeout());
            channel = new SocketLikeChannel(new ReadGate(), timeouts, ProxyServer.frontendCodec(),
                    new Guard(new FrontendHandler(px, "http", timeouts)));
            channel.config().setAllocator(alloc);
            channel.config().setAutoRead(false);
            try {
                channel.register();
                channel.freezeTime(); // timers (request and idle timeouts) run only when told
                exercise();
                check();
            } catch (Exception e) {
                throw new AssertionError(e);
            } finally {
                channel.finishAndReleaseAll();
                written.forEach(ReferenceCountUtil::release);
            }
            for (ByteBuf b : fed) {
                if (b.refCnt() != 0) {
                    throw new AssertionError("an inbound buffer was not released: refCnt " + b.refCnt());
                }
            }
            if (!thrown.isEmpty()) {
                throw new AssertionError("the front end threw", thrown.get(0));
            }
            if (!NETTY_FAILURES.seen.isEmpty()) {
                throw new AssertionError("a task or listener threw: " + NETTY_FAILURES.seen);
            }
            alloc.assertAllReleased("the connection closed");
        }

        private void exercise() {
            int chunk = flags & 0x3F;
            chunk = chunk == 0 ? Math.max(1, wire.length) : chunk * chunk;
            drain();
            int off = 0;
            while (off < wire.length && channel.isOpen() && readPending) {
                readPending = false;
                ByteBuf b = Unpooled.wrappedBuffer(wire, off, Math.min(chunk, wire.length - off));
                off += b.readableBytes();
                fed.add(b);
                channel.writeInbound(b);
                drain();
            }
            if (off < wire.length && channel.isOpen()) {
                throw new AssertionError("wedged: open, " + (wire.length - off) + " bytes unread, no read asked for");
            }
            if ((flags & HALF_CLOSE) != 0 && channel.isOpen()) {
                channel.pipeline().fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
                drain();
            }
        }

        private void drain() {
            for (int round = 0; round < 100; round++) {
                channel.runPendingTasks();
                if (channel.isOpen()) {
                    channel.flushOutbound();
                }
                boolean any = false;
                Object out;
                while ((out = channel.readOutbound()) != null) {
                    any = true;
                    written.add(out);
                }
                if (!any && !channel.hasPendingTasks()) {
                    return;
                }
            }
        }

        private void check() {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            for (Object o : written) {
                if (!(o instanceof ByteBuf b)) {
                    throw new AssertionError("the front end wrote " + o.getClass() + ", not bytes");
                }
                bytes.writeBytes(ByteBufUtil.getBytes(b));
            }
            List<Request> requests = requests(wire, (flags & HALF_CLOSE) != 0);
            List<Response> responses = responses(bytes.toByteArray(), requests);
            if (responses.size() > requests.size()) {
                throw new AssertionError(responses.size() + " responses to " + requests.size() + " requests");
            }
            for (int i = 0; i < responses.size(); i++) {
                Response r = responses.get(i);
                int code = r.status;
                if (!(code >= 400 && code < 500 || code == 501 || code == 503 || code == 505)) {
                    throw new AssertionError("response " + i + " to " + requests.get(i) + " is " + code);
                }
                if (r.close && i != responses.size() - 1) {
                    throw new AssertionError("response " + i + " said Connection: close, yet more followed");
                }
                if (r.close && channel.isOpen()) {
                    throw new AssertionError("Connection: close, yet the connection is open");
                }
            }
            if (channel.isOpen() && (flags & HALF_CLOSE) == 0) {
                long complete = requests.stream().filter(q -> q.complete).count();
                if (responses.size() != complete) {
                    throw new AssertionError("open with " + complete + " complete requests but " + responses.size()
                            + " responses: " + requests);
                }
                if (!readPending) {
                    throw new AssertionError("open and idle, but not reading");
                }
            }
        }

        /** Asks for bytes, as a socket with auto-read off does, only when the handler asks. */
        private final class ReadGate extends ChannelOutboundHandlerAdapter {
            @Override
            public void read(ChannelHandlerContext ctx) {
                readPending = true;
                ctx.read();
            }
        }

        /**
         * Runs the front end, recording what it throws: its own {@code exceptionCaught} closes the
         * connection quietly, which would hide a bug from the fuzzer. Every event and operation is
         * handed to it as the pipeline would; errors the codec passes on go straight to it.
         */
        private final class Guard extends ChannelDuplexHandler {
            private final ChannelHandler inner;

            Guard(ChannelHandler inner) {
                this.inner = inner;
            }

            private ChannelInboundHandler in() {
                return (ChannelInboundHandler) inner;
            }

            private void guard(ChannelHandlerContext ctx, ThrowingRunnable r) {
                try {
                    r.run();
                } catch (Throwable t) {
                    thrown.add(t);
                    ctx.close();
                }
            }

            private void outbound(ChannelHandlerContext ctx, OutboundCall call, Runnable passOn) {
                if (inner instanceof ChannelOutboundHandler out) {
                    guard(ctx, () -> call.run(out));
                } else {
                    passOn.run();
                }
            }

            @Override
            public void handlerAdded(ChannelHandlerContext ctx) {
                guard(ctx, () -> inner.handlerAdded(ctx));
            }

            @Override
            public void handlerRemoved(ChannelHandlerContext ctx) {
                guard(ctx, () -> inner.handlerRemoved(ctx));
            }

            @Override
            public void channelRegistered(ChannelHandlerContext ctx) {
                guard(ctx, () -> in().channelRegistered(ctx));
            }

            @Override
            public void channelUnregistered(ChannelHandlerContext ctx) {
                guard(ctx, () -> in().channelUnregistered(ctx));
            }

            @Override
            public void channelActive(ChannelHandlerContext ctx) {
                guard(ctx, () -> in().channelActive(ctx));
            }

            @Override
            public void channelInactive(ChannelHandlerContext ctx) {
                guard(ctx, () -> in().channelInactive(ctx));
            }

            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                guard(ctx, () -> in().channelRead(ctx, msg));
            }

            @Override
            public void channelReadComplete(ChannelHandlerContext ctx) {
                guard(ctx, () -> in().channelReadComplete(ctx));
            }

            @Override
            public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                guard(ctx, () -> in().userEventTriggered(ctx, evt));
            }

            @Override
            public void channelWritabilityChanged(ChannelHandlerContext ctx) {
                guard(ctx, () -> in().channelWritabilityChanged(ctx));
            }

            @Override
            public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                guard(ctx, () -> in().exceptionCaught(ctx, cause));
            }

            @Override
            public void read(ChannelHandlerContext ctx) {
                outbound(ctx, o -> o.read(ctx), ctx::read);
            }

            @Override
            public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
                outbound(ctx, o -> o.write(ctx, msg, promise), () -> ctx.write(msg, promise));
            }

            @Override
            public void flush(ChannelHandlerContext ctx) {
                outbound(ctx, o -> o.flush(ctx), ctx::flush);
            }

            @Override
            public void close(ChannelHandlerContext ctx, ChannelPromise promise) {
                outbound(ctx, o -> o.close(ctx, promise), () -> ctx.close(promise));
            }
        }
    }

    @FunctionalInterface
    private interface OutboundCall {
        void run(ChannelOutboundHandler handler) throws Exception;
    }

    @FunctionalInterface
    private interface ThrowingRunnable {
        void run() throws Exception;
    }

    /** A request as the same codec reads the client's bytes: its method, and whether it ended. */
    private record Request(HttpMethod method, boolean complete, boolean failed) {}

    /** A response as a client reads the proxy's bytes. */
    private record Response(int status, boolean close) {}

    /**
     * The client's requests, read by a codec configured as the front end's; after a half-close,
     * a request cut off by it counts too (the codec reports it as a failed one, which gets 400).
     */
    private static List<Request> requests(byte[] wire, boolean halfClose) {
        EmbeddedChannel reader = new EmbeddedChannel(ProxyServer.frontendCodec());
        List<Request> out = new ArrayList<>();
        try {
            reader.writeInbound(Unpooled.wrappedBuffer(wire));
            if (halfClose) {
                reader.pipeline().fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
            }
        } catch (Exception e) {
            // The codec refuses more than 1,024 pipelined requests by throwing; what it read counts.
        }
        HttpMethod method = null;
        boolean failed = false;
        Object m;
        while ((m = reader.readInbound()) != null) {
            try {
                if (m instanceof HttpRequest r) {
                    method = r.method();
                    failed = r.decoderResult().isFailure();
                }
                if (m instanceof HttpObject o && o.decoderResult().isFailure()) {
                    failed = true;
                }
                if (m instanceof LastHttpContent) {
                    out.add(new Request(method, true, failed));
                    method = null;
                } else if (failed && m instanceof HttpRequest) {
                    out.add(new Request(method, false, true));
                    method = null;
                }
            } finally {
                ReferenceCountUtil.release(m);
            }
        }
        if (method != null) {
            out.add(new Request(method, false, failed));
        }
        reader.finishAndReleaseAll();
        return out;
    }

    /**
     * The proxy's responses, read the way a client that sent {@code requests} reads them: the
     * body of a response to HEAD is empty whatever its headers say.
     */
    private static List<Response> responses(byte[] bytes, List<Request> requests) {
        Queue<HttpMethod> methods = new ArrayDeque<>();
        requests.forEach(r -> methods.add(r.method() == null ? HttpMethod.GET : r.method()));
        EmbeddedChannel reader = new EmbeddedChannel(new HttpResponseDecoder() {
            @Override
            protected boolean isContentAlwaysEmpty(HttpMessage msg) {
                int code = ((HttpResponse) msg).status().code();
                if (code >= 100 && code < 200) {
                    return super.isContentAlwaysEmpty(msg); // interim: the final response follows
                }
                return HttpMethod.HEAD.equals(methods.poll()) || super.isContentAlwaysEmpty(msg);
            }
        });
        List<Response> out = new ArrayList<>();
        try {
            reader.writeInbound(Unpooled.wrappedBuffer(bytes));
            HttpResponse head = null;
            long declared = -1;
            long body = 0;
            Object m;
            while ((m = reader.readInbound()) != null) {
                try {
                    if (m instanceof HttpObject o && o.decoderResult().isFailure()) {
                        throw new AssertionError("a malformed response", o.decoderResult().cause());
                    }
                    if (m instanceof HttpResponse r) {
                        if (head != null) {
                            throw new AssertionError("a response inside another");
                        }
                        head = r;
                        declared = r.headers().contains(HttpHeaderNames.CONTENT_LENGTH)
                                ? Long.parseLong(r.headers().get(HttpHeaderNames.CONTENT_LENGTH)) : -1;
                        body = 0;
                        if (declared < 0 && !io.netty.handler.codec.http.HttpUtil.isTransferEncodingChunked(r)
                                && r.status().code() >= 200) {
                            throw new AssertionError("a response without its length: " + r);
                        }
                    }
                    if (m instanceof HttpContent c) {
                        body += c.content().readableBytes();
                    }
                    if (m instanceof LastHttpContent) {
                        int code = head.status().code();
                        if (code >= 200) {
                            boolean headRequest = out.size() < requests.size()
                                    && HttpMethod.HEAD.equals(requests.get(out.size()).method());
                            if (!headRequest && declared >= 0 && body != declared) {
                                throw new AssertionError("a body of " + body + " bytes, declared " + declared);
                            }
                            out.add(new Response(code, !io.netty.handler.codec.http.HttpUtil.isKeepAlive(head)));
                        }
                        head = null;
                    }
                } finally {
                    ReferenceCountUtil.release(m);
                }
            }
            if (head != null) {
                throw new AssertionError("the proxy's last response is cut off: " + head);
            }
        } finally {
            reader.finishAndReleaseAll();
        }
        return out;
    }

    /** Collects WARN and ERROR events that carry an exception. */
    private static final class Failures extends AppenderBase<ILoggingEvent> {
        final List<String> seen = new ArrayList<>();

        @Override
        protected void append(ILoggingEvent e) {
            if (e.getLevel().isGreaterOrEqual(Level.WARN) && e.getThrowableProxy() != null) {
                seen.add(e.getFormattedMessage() + ": " + e.getThrowableProxy().getClassName() + ": "
                        + e.getThrowableProxy().getMessage());
            }
        }
    }

    // ------------------------------------------------------------------------------------------
    // Seeds: requests a client may send, one by one and pipelined, valid and broken.

    static Stream<Arguments> seeds() {
        String get = "GET /index.html HTTP/1.1\r\nHost: web.example.com\r\nUser-Agent: curl/8\r\n\r\n";
        return Stream.of(
                seed("GET", 0, get),
                seed("GET, domain", DOMAIN, get),
                seed("pipelined GET HEAD GET", 7, get + "HEAD / HTTP/1.1\r\nHost: a\r\n\r\n" + get),
                seed("HTTP/1.0", 0, "GET / HTTP/1.0\r\n\r\n"),
                seed("POST with a body", 3, "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"),
                seed("chunked POST", 0, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                        + "5\r\nhello\r\n0\r\n\r\n"),
                seed("100-continue", 0, "PUT /f HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc"),
                seed("odd expectation", 0, "GET / HTTP/1.1\r\nHost: a\r\nExpect: teapot\r\n\r\n"),
                seed("keep-alive then close", 2, get + "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n" + get),
                seed("half-close after two", HALF_CLOSE | 1, get + get),
                seed("bad request line", 0, "GET\r\n\r\n"),
                seed("bad header", 0, "GET / HTTP/1.1\r\nHost a\r\n\r\n"),
                seed("two lengths", 0, "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"),
                seed("length and chunked", 0, "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
                        + "0\r\n\r\n"),
                seed("long URI", 5, "GET /" + "a".repeat(9000) + " HTTP/1.1\r\n\r\n"),
                seed("no Host", 0, "GET / HTTP/1.1\r\n\r\n"));
    }

    private static Arguments seed(String name, int flags, String wire) {
        byte[] w = wire.getBytes(ISO_8859_1);
        byte[] b = new byte[w.length + 1];
        b[0] = (byte) flags;
        System.arraycopy(w, 0, b, 1, w.length);
        return arguments(Named.of(name, b));
    }
}
