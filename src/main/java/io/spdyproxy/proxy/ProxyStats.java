package io.spdyproxy.proxy;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * The proxy's counters (the original's {@code /debug}): client connections, requests in flight,
 * bytes to clients, errors by status.
 *
 * <p>Threading: safe from any thread.
 */
final class ProxyStats {
    private final LongAdder connections = new LongAdder();
    private final LongAdder connectionsTotal = new LongAdder();
    private final LongAdder requestsInFlight = new LongAdder();
    private final LongAdder requestsTotal = new LongAdder();
    private final LongAdder bytesToClients = new LongAdder();
    private final Map<Integer, LongAdder> errors = new ConcurrentHashMap<>();

    void connectionOpened() {
        connections.increment();
        connectionsTotal.increment();
    }

    void connectionClosed() {
        connections.decrement();
    }

    void requestStarted() {
        requestsInFlight.increment();
        requestsTotal.increment();
    }

    void requestEnded() {
        requestsInFlight.decrement();
    }

    void bytesToClients(long n) {
        bytesToClients.add(n);
    }

    void error(int status) {
        errors.computeIfAbsent(status, s -> new LongAdder()).increment();
    }

    long connections() {
        return connections.sum();
    }

    long connectionsTotal() {
        return connectionsTotal.sum();
    }

    long requestsInFlight() {
        return requestsInFlight.sum();
    }

    long requestsTotal() {
        return requestsTotal.sum();
    }

    long bytesToClients() {
        return bytesToClients.sum();
    }

    Map<Integer, Long> errors() {
        Map<Integer, Long> out = new TreeMap<>();
        errors.forEach((k, v) -> out.put(k, v.sum()));
        return out;
    }
}
