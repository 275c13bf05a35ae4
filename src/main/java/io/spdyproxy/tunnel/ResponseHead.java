package io.spdyproxy.tunnel;

import io.netty.handler.codec.http.HttpHeaders;

/**
 * A response head exactly as the peer sent it, validated by nobody yet: the status as text
 * ({@code "200"} or {@code "200 OK"}; null when missing) and the header fields in an unvalidated
 * {@link HttpHeaders} (names as sent, pseudo-fields removed). The proxy decides what of it may
 * reach a client.
 */
public record ResponseHead(String status, HttpHeaders headers) {}
