package io.spdyproxy.origin.files;

import io.netty.handler.codec.DateFormatter;
import java.io.IOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Date;
import java.util.List;

/** Renders a directory as an HTML page or a JSON array, names sorted, hidden files left out. */
final class DirectoryListing {

    record Entry(String name, boolean directory, long size, long modifiedMillis) {}

    private DirectoryListing() {}

    static List<Entry> read(Path dir, boolean showHidden) throws IOException {
        List<Entry> entries = new ArrayList<>();
        try (DirectoryStream<Path> stream = Files.newDirectoryStream(dir)) {
            for (Path p : stream) {
                String name = p.getFileName().toString();
                if (!showHidden && name.startsWith(".")) {
                    continue;
                }
                BasicFileAttributes a;
                try {
                    a = Files.readAttributes(p, BasicFileAttributes.class);
                } catch (IOException e) {
                    continue; // vanished or unreadable: leave it out
                }
                entries.add(new Entry(name, a.isDirectory(), a.isDirectory() ? 0 : a.size(),
                        a.lastModifiedTime().toMillis()));
            }
        }
        entries.sort(Comparator.comparing(Entry::name));
        return entries;
    }

    static String html(String requestPath, List<Entry> entries) {
        String title = "Index of " + escapeHtml(requestPath);
        StringBuilder b = new StringBuilder(256 + entries.size() * 160);
        b.append("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">")
                .append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
                .append("<title>").append(title).append("</title>")
                .append("<style>body{font-family:system-ui,sans-serif;margin:2em}")
                .append("td{padding:.2em 1em .2em 0}td.s{text-align:right}</style></head><body>\n")
                .append("<h1>").append(title).append("</h1>\n<table>\n");
        if (!requestPath.equals("/")) {
            b.append("<tr><td><a href=\"../\">../</a></td><td></td><td></td></tr>\n");
        }
        for (Entry e : entries) {
            String shown = e.name() + (e.directory() ? "/" : "");
            String href = encodeSegment(e.name()) + (e.directory() ? "/" : "");
            b.append("<tr><td><a href=\"").append(escapeHtml(href)).append("\">")
                    .append(escapeHtml(shown)).append("</a></td><td class=\"s\">")
                    .append(e.directory() ? "-" : humanSize(e.size())).append("</td><td>")
                    .append(DateFormatter.format(new Date(e.modifiedMillis()))).append("</td></tr>\n");
        }
        b.append("</table>\n</body></html>\n");
        return b.toString();
    }

    static String json(List<Entry> entries) {
        StringBuilder b = new StringBuilder(2 + entries.size() * 100).append('[');
        for (int i = 0; i < entries.size(); i++) {
            Entry e = entries.get(i);
            if (i > 0) {
                b.append(',');
            }
            b.append("{\"name\":").append(jsonString(e.name()))
                    .append(",\"type\":\"").append(e.directory() ? "directory" : "file").append('"')
                    .append(",\"size\":").append(e.size())
                    .append(",\"modified\":\"").append(Instant.ofEpochMilli(e.modifiedMillis())).append("\"}");
        }
        return b.append("]\n").toString();
    }

    /** Percent-encodes one path segment (RFC 3986): spaces as %20, never '+'. */
    static String encodeSegment(String name) {
        return URLEncoder.encode(name, StandardCharsets.UTF_8).replace("+", "%20");
    }

    static String escapeHtml(String s) {
        StringBuilder b = new StringBuilder(s.length() + 16);
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '<' -> b.append("&lt;");
                case '>' -> b.append("&gt;");
                case '&' -> b.append("&amp;");
                case '"' -> b.append("&quot;");
                case '\'' -> b.append("&#39;");
                default -> b.append(c);
            }
        }
        return b.toString();
    }

    private static String jsonString(String s) {
        StringBuilder b = new StringBuilder(s.length() + 2).append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                default -> {
                    if (c < 0x20 || c == '<' || c == '>' || c == '&') {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        return b.append('"').toString();
    }

    private static String humanSize(long n) {
        if (n < 1024) {
            return n + " B";
        }
        String[] units = {"KiB", "MiB", "GiB", "TiB"};
        double v = n;
        int u = -1;
        do {
            v /= 1024;
            u++;
        } while (v >= 1024 && u < units.length - 1);
        return String.format("%.1f %s", v, units[u]);
    }
}
