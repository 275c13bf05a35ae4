package io.spdyproxy.tunnel.handshake;

import static java.nio.charset.StandardCharsets.ISO_8859_1;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;

/**
 * A hand-driven peer of the tunnel listener, the way an attacker would drive one: a TCP or TLS
 * socket from a chosen loopback source address (127.0.0.2 and up are loopback on Linux, so a test
 * can play a second host), a {@code PUT} with any token, bytes trickled one at a time, and a wait
 * for the listener to close the connection.
 *
 * <p>Threading: used from the test thread; {@link #trickle} writes from the given scheduler.
 */
final class RawTunnelClient implements AutoCloseable {
    /** The listener's answer to a PUT. */
    record Answer(int status, Map<String, String> headers, String body, Duration took) {
        String header(String name) {
            return headers.get(name);
        }
    }

    final Socket socket;
    private final long opened;
    private final InputStream in;
    private final OutputStream out;

    private RawTunnelClient(Socket socket, long opened) throws IOException {
        this.socket = socket;
        this.opened = opened;
        this.in = socket.getInputStream();
        this.out = socket.getOutputStream();
    }

    /** A plain TCP connection from {@code source}; reads give up after {@code guard}. */
    static RawTunnelClient tcp(String source, int port, Duration guard) throws IOException {
        Socket s = new Socket();
        s.bind(new InetSocketAddress(source, 0));
        s.setSoTimeout((int) guard.toMillis());
        long opened = System.nanoTime();
        s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
        return new RawTunnelClient(s, opened);
    }

    /** A TLS connection from {@code source} with its handshake done (any certificate trusted). */
    static RawTunnelClient tls(String source, int port, Duration guard) throws Exception {
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, new TrustManager[] {new TrustAll()}, null);
        SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket();
        s.bind(new InetSocketAddress(source, 0));
        s.setSoTimeout((int) guard.toMillis());
        long opened = System.nanoTime();
        s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
        s.startHandshake();
        return new RawTunnelClient(s, opened);
    }

    /** Opens a TLS connection from {@code source}, sends a PUT with {@code token}, reads the answer. */
    static Answer attempt(String source, int port, String token) throws Exception {
        try (RawTunnelClient c = tls(source, port, Duration.ofSeconds(10))) {
            return c.put(token);
        }
    }

    /** Our origins' handshake (PROTOCOL.md) for the default tunnel with {@code token}. */
    static byte[] putRequest(String token) {
        return ("PUT / HTTP/1.1\r\nHost: localhost:1444\r\nUser-Agent: spdy-proxy\r\n"
                + TunnelProtocol.PROTOCOL_HEADER + ": spdy/3.1\r\n"
                + TunnelProtocol.NAME_HEADER + ": " + TunnelProtocol.DEFAULT_NAME + "\r\n"
                + "Authorization: Bearer " + token + "\r\nContent-Length: 12\r\n\r\n"
                + TunnelProtocol.ORIGIN_HELLO).getBytes(ISO_8859_1);
    }

    /** Sends the PUT and reads the answer's head and body (its Content-Length). */
    Answer put(String token) throws IOException {
        long sent = System.nanoTime();
        out.write(putRequest(token));
        out.flush();
        String statusLine = line();
        Map<String, String> headers = new TreeMap<>(String.CASE_INSENSITIVE_ORDER);
        for (String l = line(); !l.isEmpty(); l = line()) {
            int colon = l.indexOf(':');
            headers.put(l.substring(0, colon).trim(), l.substring(colon + 1).trim());
        }
        Duration took = Duration.ofNanos(System.nanoTime() - sent);
        byte[] body = in.readNBytes(Integer.parseInt(headers.getOrDefault("Content-Length", "0")));
        return new Answer(Integer.parseInt(statusLine.split(" ")[1]), headers, new String(body, ISO_8859_1), took);
    }

    private String line() throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        for (int c = in.read(); c != '\n'; c = in.read()) {
            if (c < 0) {
                throw new IOException("connection closed inside the answer's head: " + b.toString(ISO_8859_1));
            }
            b.write(c);
        }
        String s = b.toString(ISO_8859_1);
        return s.endsWith("\r") ? s.substring(0, s.length() - 1) : s;
    }

    /**
     * Writes {@code bytes} one at a time, one every {@code interval}, until done or the connection
     * fails; returns the count of bytes written so far (live).
     */
    AtomicInteger trickle(byte[] bytes, Duration interval, ScheduledExecutorService scheduler) {
        AtomicInteger written = new AtomicInteger();
        scheduler.scheduleAtFixedRate(() -> {
            int i = written.get();
            if (i >= bytes.length) {
                throw new IllegalStateException("done"); // ends the periodic task
            }
            try {
                out.write(bytes[i]);
                out.flush();
                written.incrementAndGet();
            } catch (IOException e) {
                throw new IllegalStateException("closed", e); // ends the periodic task
            }
        }, 0, interval.toNanos(), TimeUnit.NANOSECONDS);
        return written;
    }

    /**
     * Reads until the listener closes the connection (EOF or reset) and returns the time since
     * the connect began; fails when the read guard runs out first.
     */
    Duration awaitClosed() throws IOException {
        byte[] buf = new byte[4096];
        try {
            while (in.read(buf) >= 0) {
                // a TLS alert or a refusal: keep reading to the end
            }
        } catch (SocketTimeoutException e) {
            throw new AssertionError("the listener kept the connection open for "
                    + Duration.ofNanos(System.nanoTime() - opened).toMillis() + " ms", e);
        } catch (IOException e) {
            // reset by the listener: closed all the same
        }
        return Duration.ofNanos(System.nanoTime() - opened);
    }

    /** The first flight of a TLS client: a ClientHello record to trickle. */
    static byte[] clientHello() throws Exception {
        SSLEngine engine = SSLContext.getDefault().createSSLEngine("localhost", 1444);
        engine.setUseClientMode(true);
        ByteBuffer out = ByteBuffer.allocate(engine.getSession().getPacketBufferSize());
        engine.wrap(ByteBuffer.allocate(0), out);
        out.flip();
        byte[] hello = new byte[out.remaining()];
        out.get(hello);
        return hello;
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }

    /** The test plays an attacker: it does not care whom it talks to. */
    private static final class TrustAll implements X509TrustManager {
        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) {}

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) {}

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return new X509Certificate[0];
        }
    }
}
