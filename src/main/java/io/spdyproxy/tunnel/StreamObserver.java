package io.spdyproxy.tunnel;

/**
 * Hears what the tunnel layer knows of each stream and nobody above it sees in one place: the
 * response status the serving side sent, flow-control stalls, and how the stream ended (a reset
 * and its reason, either direction). Metrics hang off it; a session without one pays a field read.
 *
 * <p>Threading: called on the session's event loop; must not block or throw.
 */
public interface StreamObserver {
    /** Hears nothing. */
    StreamObserver NONE = new StreamObserver() {};

    /** The serving side (the origin) sends the response head with {@code status}. */
    default void responseSent(int status) {}

    /**
     * The stream had data to send and the peer's window (or the connection) could not take it: its
     * send queue filled and the producer was told to wait.
     */
    default void sendStalled() {}

    /**
     * The stream ended; {@code cause} is null after a clean end both ways, otherwise the reset's
     * reason and whether this side sent it ({@link StreamClosedException#isLocal()}).
     */
    default void closed(StreamClosedException cause, long bytesSent, long bytesReceived) {}

    /** Gives each new stream of a session its observer (may hand out one shared instance). */
    @FunctionalInterface
    interface Factory {
        Factory NONE = () -> StreamObserver.NONE;

        StreamObserver streamOpened();
    }
}
