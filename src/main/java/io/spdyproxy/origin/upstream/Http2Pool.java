package io.spdyproxy.origin.upstream;

import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.io.IOException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Multiplexed HTTP/2 connections to the app, a few per event loop: a request becomes a stream on
 * a connection of its own loop with room for one more stream, else on a new connection (up to
 * {@link #MAX_CONNECTIONS}), else it waits in a bounded queue for a stream to end. A connection
 * that closes or says GOAWAY is replaced by the next request that needs one.
 *
 * <p>For {@code https://} the app picks the protocol by ALPN: when it picks {@code http/1.1}, the
 * connection goes to the HTTP/1.1 pool and so do all later requests ({@link #appRefusedH2()}).
 *
 * <p>Threading: each loop's connections and queue are touched only on that loop.
 */
final class Http2Pool {
    static final int MAX_CONNECTIONS = 4;
    /** Requests that may wait for a stream per loop; beyond, 502 at once (memory stays bounded). */
    static final int MAX_WAITING = 1024;

    private final UpstreamConfig config;
    private final UpstreamDialer dialer;
    private final UpstreamPool http1;
    private final Map<EventLoop, LoopConnections> loops = new ConcurrentHashMap<>();
    private volatile boolean appRefusedH2;

    Http2Pool(UpstreamConfig config, UpstreamDialer dialer, UpstreamPool http1) {
        this.config = config;
        this.dialer = dialer;
        this.http1 = http1;
    }

    /** True once an https app chose HTTP/1.1 by ALPN: requests go to the HTTP/1.1 pool from then on. */
    boolean appRefusedH2() {
        return appRefusedH2;
    }

    /** A stream channel speaking HTTP/1 objects (or, after ALPN chose http/1.1, an HTTP/1.1 connection). */
    Future<Channel> acquire(EventLoop loop) {
        Promise<Channel> p = loop.newPromise();
        loops.computeIfAbsent(loop, LoopConnections::new).acquire(p);
        return p;
    }

    void close() {
        loops.forEach((loop, conns) -> loop.execute(conns::close));
    }

    /** The connections of one loop. */
    private final class LoopConnections {
        private final EventLoop loop;
        private final List<Http2Connection> connections = new ArrayList<>();
        private final ArrayDeque<Promise<Channel>> waiting = new ArrayDeque<>();
        private int dialing;
        private boolean closed;

        LoopConnections(EventLoop loop) {
            this.loop = loop;
        }

        void acquire(Promise<Channel> p) {
            if (closed) {
                p.tryFailure(new IOException("the reverse proxy is closing"));
                return;
            }
            for (Http2Connection c : connections) {
                if (c.hasCapacity()) {
                    open(c, p);
                    return;
                }
            }
            if (waiting.size() >= MAX_WAITING) {
                p.tryFailure(new IOException(MAX_WAITING + " requests already wait for a stream to the app ("
                        + MAX_CONNECTIONS + " connections at the app's stream limit)"));
                return;
            }
            waiting.add(p);
            dialIfNeeded();
        }

        /** One more connection when requests wait, none is on its way, and the cap allows. */
        private void dialIfNeeded() {
            if (waiting.isEmpty() || dialing > 0) {
                return;
            }
            int live = 0;
            for (Http2Connection c : connections) {
                if (c.state() == Http2Connection.State.STARTING) {
                    return; // its SETTINGS will tell how many streams it takes
                }
                if (c.state() == Http2Connection.State.ACTIVE) {
                    live++;
                }
            }
            if (live < MAX_CONNECTIONS) {
                dial();
            }
        }

        private void open(Http2Connection c, Promise<Channel> p) {
            c.openStream().addListener((Future<Http2StreamChannel> f) -> {
                if (!f.isSuccess()) {
                    p.tryFailure(f.cause());
                } else if (!p.trySuccess(f.getNow())) {
                    f.getNow().close(); // the request gave up meanwhile
                }
            });
        }

        private void dial() {
            dialing++;
            dialer.dial(loop, true).addListener((Future<Channel> f) -> {
                dialing--;
                if (!f.isSuccess()) {
                    if (connections.isEmpty()) {
                        failWaiting(f.cause());
                    }
                    return;
                }
                Channel ch = f.getNow();
                if (closed) {
                    ch.close();
                    return;
                }
                if (!dialer.speaksH2(ch)) {
                    fallBackToHttp1(ch);
                    return;
                }
                connections.add(new Http2Connection(ch, config.connectTimeout().toMillis(), this::changed));
            });
        }

        /** The https app picked http/1.1: this connection serves one waiter, the HTTP/1.1 pool the rest. */
        private void fallBackToHttp1(Channel ch) {
            appRefusedH2 = true;
            Promise<Channel> first = waiting.poll();
            if (first == null || !first.trySuccess(http1.adopt(ch))) {
                ch.close();
            }
            Promise<Channel> p;
            while ((p = waiting.poll()) != null) {
                Promise<Channel> waiter = p;
                http1.acquire(loop).addListener((Future<Channel> f) -> {
                    if (!f.isSuccess()) {
                        waiter.tryFailure(f.cause());
                    } else if (!waiter.trySuccess(f.getNow())) {
                        http1.release(f.getNow());
                    }
                });
            }
        }

        private void changed(Http2Connection c) {
            if (c.state() == Http2Connection.State.CLOSED) {
                connections.remove(c);
                if (!c.wasActive() && dialing == 0 && connections.isEmpty()) {
                    failWaiting(c.notStarted());
                    return;
                }
            }
            for (Http2Connection live : connections) {
                Promise<Channel> p;
                while (live.hasCapacity() && (p = waiting.poll()) != null) {
                    if (!p.isDone()) {
                        open(live, p);
                    }
                }
            }
            dialIfNeeded();
        }

        private void failWaiting(Throwable cause) {
            Promise<Channel> p;
            while ((p = waiting.poll()) != null) {
                p.tryFailure(cause);
            }
        }

        void close() {
            closed = true;
            failWaiting(new IOException("the reverse proxy is closing"));
            for (Http2Connection c : new ArrayList<>(connections)) {
                c.close();
            }
        }
    }
}
