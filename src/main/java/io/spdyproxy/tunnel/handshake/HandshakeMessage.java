package io.spdyproxy.tunnel.handshake;

import io.netty.handler.codec.http.HttpHeaders;

/** One HTTP/1.1 message of the tunnel handshake: start line, headers and the (small) body. */
record HandshakeMessage(String startLine, HttpHeaders headers, String body) {}
