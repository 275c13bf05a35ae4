package io.spdyproxy.cli;

/**
 * A mistake in what the user gave (a flag, a file, a port in use), with a message that names the
 * flag and says what to do. The command line prints the message alone, without a stack trace.
 */
final class UserError extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    UserError(String message) {
        super(message);
    }

    @Override
    public synchronized Throwable fillInStackTrace() {
        return this; // a message for the user; where it was thrown is of no use to them
    }
}
