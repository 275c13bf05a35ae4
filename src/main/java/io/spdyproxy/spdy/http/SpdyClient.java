package io.spdyproxy.spdy.http;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.ssl.ApplicationProtocolNegotiationHandler;
import io.netty.handler.ssl.SslContext;
import io.spdyproxy.spdy.SpdyError;
import io.spdyproxy.spdy.SpdyProtocol;
import io.spdyproxy.spdy.SpdySession;
import io.spdyproxy.spdy.SpdySessionConfig;
import io.spdyproxy.spdy.SpdySessionListener;
import io.spdyproxy.transport.Transport;
import java.net.InetSocketAddress;
import java.util.concurrent.CompletableFuture;

/**
 * Opens SPDY client sessions and sends HTTP requests over them, like the original's {@code
 * NewClient(addr).Do(req)}; request and response bodies stream.
 */
public final class SpdyClient {
    private SpdyClient() {}

    /**
     * Dials {@code address} ({@code ssl} null: plain TCP) and completes with a session once TLS
     * and ALPN are done. The session runs on one loop of {@code group}.
     */
    public static CompletableFuture<SpdySession> connect(EventLoopGroup group, InetSocketAddress address,
            SslContext ssl, SpdySessionConfig config, SpdySessionListener listener) {
        CompletableFuture<SpdySession> result = new CompletableFuture<>();
        Bootstrap b = new Bootstrap()
                .group(group)
                .channel(Transport.socketChannel())
                .option(ChannelOption.TCP_NODELAY, true)
                .handler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        if (ssl == null) {
                            // Installed once connected, below, and no byte is read before: the
                            // connect listener may run as a later loop task (when the connect
                            // completed before it was added), after auto-read had already read the
                            // peer's first frames (its SETTINGS, a PING) into a pipeline without
                            // the session, where they were dropped.
                            ch.config().setAutoRead(false);
                            return;
                        }
                        ch.pipeline().addLast(ssl.newHandler(ch.alloc(),
                                address.getHostString(), address.getPort()));
                        ch.pipeline().addLast(new ApplicationProtocolNegotiationHandler(
                                SpdyProtocol.SPDY_3_1.alpnId()) {
                            @Override
                            protected void configurePipeline(ChannelHandlerContext ctx, String protocol) {
                                SpdySessionConfig c = config.toBuilder()
                                        .protocol(SpdyProtocol.fromAlpn(protocol)).build();
                                result.complete(SpdySession.install(ctx.channel(), c, listener));
                            }

                            @Override
                            protected void handshakeFailure(ChannelHandlerContext ctx, Throwable cause)
                                    throws Exception {
                                result.completeExceptionally(cause);
                                super.handshakeFailure(ctx, cause);
                            }
                        });
                    }
                });
        ChannelFuture f = b.connect(address);
        f.addListener(done -> {
            if (!done.isSuccess()) {
                result.completeExceptionally(done.cause());
            } else if (ssl == null) {
                SpdySession session = SpdySession.install(f.channel(), config, listener);
                f.channel().config().setAutoRead(true); // the session reads from here on
                result.complete(session);
            }
        });
        Channel ch = f.channel();
        ch.closeFuture().addListener(x -> result.completeExceptionally(
                new IllegalStateException("connection closed before the session started")));
        return result;
    }

    /**
     * Sends {@code request}'s head; when {@code hasBody}, write the body through the returned
     * call. The response body goes to {@code body} (null: discarded).
     */
    public static CompletableFuture<HttpCall> send(SpdySession session, HttpRequest request,
            String scheme, int priority, boolean hasBody, BodyListener body) {
        return send(session, request, scheme, priority, hasBody, call -> call.onBody(body));
    }

    /**
     * Like {@link #send(SpdySession, HttpRequest, String, int, boolean, BodyListener)}, but
     * {@code setup} gets the call before its stream opens, so it can register body and close
     * callbacks (and keep the reference) before any response event can arrive.
     */
    public static CompletableFuture<HttpCall> send(SpdySession session, HttpRequest request,
            String scheme, int priority, boolean hasBody, java.util.function.Consumer<HttpCall> setup) {
        HttpCall call = new HttpCall();
        setup.accept(call);
        return session.newStream(SpdyHttpHeaders.fromRequest(request, scheme), priority, !hasBody, call)
                .thenApply(s -> {
                    call.stream = s;
                    return call;
                });
    }

    /**
     * Sends a complete request and collects the response, failing past {@code maxBodyBytes}. For
     * small exchanges (tests, command line); real traffic should stream.
     */
    public static CompletableFuture<FullHttpResponse> fetch(SpdySession session, FullHttpRequest request,
            String scheme, int maxBodyBytes) {
        CompletableFuture<FullHttpResponse> result = new CompletableFuture<>();
        ByteBuf content = request.content();
        boolean hasBody = content.isReadable();
        CompositeByteBuf received = session.channel().alloc().compositeBuffer(Integer.MAX_VALUE);
        HttpCall[] holder = new HttpCall[1];
        BodyListener collector = new BodyListener() {
            private HttpHeaders trailers;

            @Override
            public void onChunk(ByteBuf chunk, boolean last) {
                int n = chunk.readableBytes();
                if (result.isDone()) {
                    chunk.release();
                    holder[0].consume(n);
                    return;
                }
                if (received.readableBytes() + n > maxBodyBytes) {
                    chunk.release();
                    holder[0].consume(n);
                    received.release();
                    result.completeExceptionally(new IllegalStateException(
                            "response body exceeds " + maxBodyBytes + " bytes"));
                    holder[0].reset(SpdyError.CANCEL);
                    return;
                }
                if (n > 0) {
                    received.addComponent(true, chunk);
                } else {
                    chunk.release();
                }
                holder[0].consume(n);
                if (last) {
                    HttpResponse head = holder[0].response().join();
                    FullHttpResponse full = new DefaultFullHttpResponse(head.protocolVersion(),
                            head.status(), received);
                    full.headers().set(head.headers());
                    if (trailers != null) {
                        full.trailingHeaders().set(trailers);
                    }
                    if (!result.complete(full)) {
                        full.release();
                    }
                }
            }

            @Override
            public void onTrailers(HttpHeaders t) {
                trailers = t;
            }
        };
        send(session, request, scheme, 3, hasBody, (HttpCall c) -> {
            holder[0] = c;
            c.onBody(collector);
            c.onClose(cause -> {
                if (cause != null && !result.isDone()) {
                    received.release();
                    result.completeExceptionally(cause);
                }
            });
        }).whenComplete((call, err) -> {
            if (err != null) {
                received.release();
                request.release();
                result.completeExceptionally(err);
                return;
            }
            if (hasBody) {
                call.write(content.retain(), true);
            }
            request.release();
        });
        return result;
    }
}
