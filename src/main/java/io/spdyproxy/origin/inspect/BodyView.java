package io.spdyproxy.origin.inspect;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * How the page first shows a captured body (the user can switch): pretty-printed JSON for JSON
 * media types, text for text types and for untyped bytes that read as UTF-8 text, hex for
 * anything else, for compressed bodies (a {@code Content-Encoding}) and for bytes that are not
 * valid UTF-8 whatever their type claims.
 */
enum BodyView {
    EMPTY,
    JSON,
    TEXT,
    HEX;

    static BodyView of(List<Map.Entry<String, String>> headers, byte[] body, boolean truncated) {
        if (body.length == 0) {
            return EMPTY;
        }
        String encoding = header(headers, "content-encoding");
        if (encoding != null && !encoding.isBlank() && !encoding.trim().equalsIgnoreCase("identity")) {
            return HEX;
        }
        if (!isUtf8Text(body, truncated)) {
            return HEX;
        }
        String type = header(headers, "content-type");
        String media = type == null ? "" : type.split(";", 2)[0].trim().toLowerCase(Locale.ROOT);
        if (media.equals("application/json") || media.endsWith("+json")) {
            return JSON;
        }
        if (media.isEmpty() || media.startsWith("text/") || media.endsWith("+xml") || media.endsWith("/xml")
                || media.equals("application/x-www-form-urlencoded") || media.equals("application/javascript")
                || media.equals("application/graphql") || media.equals("application/x-ndjson")) {
            return TEXT;
        }
        return HEX; // a binary type (image/png, application/octet-stream, application/grpc, ...)
    }

    /**
     * Valid UTF-8 without control characters other than tab, CR and LF. A body cut at the capture
     * limit may end inside a character: up to 3 trailing bytes are then forgiven.
     */
    static boolean isUtf8Text(byte[] body, boolean truncated) {
        int end = body.length;
        for (int cut = 0; cut <= (truncated ? 3 : 0) && cut < body.length; cut++) {
            if (decodes(body, end - cut)) {
                return true;
            }
        }
        return false;
    }

    private static boolean decodes(byte[] body, int length) {
        try {
            CharSequence text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(body, 0, length));
            for (int i = 0; i < text.length(); i++) {
                char c = text.charAt(i);
                if ((c < 0x20 && c != '\t' && c != '\r' && c != '\n') || c == 0x7f) {
                    return false;
                }
            }
            return true;
        } catch (CharacterCodingException e) {
            return false;
        }
    }

    static String header(List<Map.Entry<String, String>> headers, String name) {
        for (Map.Entry<String, String> h : headers) {
            if (h.getKey().equalsIgnoreCase(name)) {
                return h.getValue();
            }
        }
        return null;
    }

    String id() {
        return name().toLowerCase(Locale.ROOT);
    }
}
