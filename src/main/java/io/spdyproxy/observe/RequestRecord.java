package io.spdyproxy.observe;

/**
 * One finished request as the proxy saw it: what the access log writes, what the metrics count and
 * what the dashboard lists. Made once per request, when it ends.
 *
 * @param startMillis when the request head arrived, epoch milliseconds
 * @param client the client's address (the TCP peer)
 * @param tunnel the tunnel name the host routed to ({@code null} when it was refused before routing)
 * @param protocol {@code HTTP/1.0}, {@code HTTP/1.1} or {@code HTTP/2.0}
 * @param scheme {@code http} or {@code https}, as the client connected
 * @param method the request method
 * @param host the {@code Host} (or {@code :authority}) the client asked for, or {@code null}
 * @param target the request target as sent (path and query)
 * @param referer the {@code Referer} header, or {@code null}
 * @param userAgent the {@code User-Agent} header, or {@code null}
 * @param user the visitor the proxy authenticated (basic auth), or {@code null}
 * @param status the status the client got (an origin's or an answer of the proxy's); 0 when none went out
 * @param bytesIn request body bytes read from the client
 * @param bytesOut response body bytes written to the client
 * @param firstByteNanos from the request head to the response head going out; -1 when none did
 * @param durationNanos from the request head to the end
 * @param outcome how it ended
 */
public record RequestRecord(long startMillis, String client, String tunnel, String protocol, String scheme,
        String method, String host, String target, String referer, String userAgent, String user, int status,
        long bytesIn, long bytesOut, long firstByteNanos, long durationNanos, Outcome outcome) {

    /** How a request ended. */
    public enum Outcome {
        /** The whole answer went out (the origin's, or an error page of the proxy's). */
        COMPLETE,
        /** The client went away (or broke its request) before the answer was out. */
        CLIENT_ABORTED,
        /** The origin reset the stream, failed, or broke HTTP framing. */
        ORIGIN_RESET,
        /** The origin did not answer within the response timeout (504). */
        TIMEOUT;

        /** Lower case, as logs and metric tags show it: {@code client_aborted}. */
        public String label() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }
}
