package io.spdyproxy.origin.inspect;

/** How a captured exchange ended (or that it has not yet). */
enum Outcome {
    IN_FLIGHT("in flight"),
    COMPLETE("complete"),
    /** This side (the app, the file server, the origin) reset the stream. */
    RESET("reset by the origin"),
    /** The other side (the client via the proxy, or the tunnel) ended the stream early. */
    ABORTED("aborted by the client or the tunnel");

    final String text;

    Outcome(String text) {
        this.text = text;
    }
}
