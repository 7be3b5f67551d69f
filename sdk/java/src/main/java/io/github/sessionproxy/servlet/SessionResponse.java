package io.github.sessionproxy.servlet;

import jakarta.servlet.ServletOutputStream;
import jakarta.servlet.WriteListener;
import jakarta.servlet.http.HttpServletResponse;
import jakarta.servlet.http.HttpServletResponseWrapper;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.Writer;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The response as the app sees it. The session's directives are written
 * just before anything that commits it: {@code flushBuffer()}, a flush or
 * close of its stream or writer, {@code sendError}, {@code sendRedirect},
 * the body reaching its Content-Length, or a write that may fill the
 * container's buffer (see {@link #mayCommit}); else when the filter
 * returns. After that a change to the session throws
 * IllegalStateException. The app's own directive headers
 * ({@code X-Session-Set}, {@code -Destroy}, {@code -Renew},
 * {@code -Max-Age}) are dropped: the session owns them.
 */
final class SessionResponse extends HttpServletResponseWrapper {
    private final SessionState state;
    private final String own; // the header's name, lower case, '_' as '-'
    private long contentLength = -1;
    private long written;
    // Written by one thread at a time: an async request's own thread may
    // flush the body while the filter's thread writes the directives, and
    // that flush must wait for them. Set once they are added (or could not be).
    private volatile boolean done;
    private final Object lock = new Object();
    private final List<String[]> sent = new ArrayList<>();
    private ServletOutputStream stream;
    private PrintWriter writer;

    SessionResponse(HttpServletResponse response, SessionState state) {
        super(response);
        this.state = state;
        this.own = normal(state.header);
    }

    private static String normal(String name) {
        return name.toLowerCase(Locale.ROOT).replace('_', '-');
    }

    /**
     * Whether name is the token header or one of its four directives
     * (X-Session, X-Session-Set, -Destroy, -Renew, -Max-Age; any case, '_'
     * for '-'). Another X-Session- name is the app's: the proxy refuses it
     * with 502, which shows a typo rather than hiding it.
     */
    boolean ownHeader(String name) {
        String n = normal(name);
        if (n.equals(own)) {
            return true;
        }
        if (!n.startsWith(own + "-")) {
            return false;
        }
        return switch (n.substring(own.length())) {
            case "-set", "-destroy", "-renew", "-max-age" -> true;
            default -> false;
        };
    }

    /**
     * Writes the directives unless they are written. Should the response be
     * committed already (by a path that did not pass here), a change that
     * cannot reach the proxy throws IllegalStateException rather than
     * being lost.
     */
    void writeDirectives() {
        if (done) {
            return;
        }
        synchronized (lock) {
            if (done) {
                return;
            }
            try {
                if (super.isCommitted()) {
                    if (!state.seal().isEmpty()) {
                        throw new IllegalStateException("sessionproxy: the response was committed before the session's headers "
                                + "could be written; the session change is lost");
                    }
                    return;
                }
                List<String[]> d = state.seal();
                if (state.accessed && !varies()) {
                    d = new ArrayList<>(d);
                    d.add(new String[] {"Vary", "Cookie"});
                }
                for (String[] h : d) {
                    super.addHeader(h[0], h[1]);
                }
                sent.addAll(d);
            } finally {
                done = true;
            }
        }
    }

    private boolean varies() {
        for (String v : super.getHeaders("Vary")) {
            for (String f : v.split(",")) {
                String t = f.trim();
                if (t.equalsIgnoreCase("cookie") || t.equals("*")) {
                    return true;
                }
            }
        }
        return false;
    }

    /**
     * Called when the filter's chain returned: writes the directives, or,
     * when something committed the response without passing here, throws
     * IllegalStateException if they had anything to say.
     */
    void finish() {
        writeDirectives();
        if (state.changedSinceSealed()) {
            throw new IllegalStateException("sessionproxy: the session changed after the response was committed; "
                    + "the change is lost. Change the session before writing the body");
        }
    }

    /**
     * Before writing n more bytes: whether they may commit the response.
     * The body reaching its Content-Length does, and so does filling the
     * buffer; a single write of more than a quarter of the buffer may too
     * (Jetty sends such a write at once rather than aggregating it).
     */
    private void beforeWrite(long n) {
        if (!done && mayCommit(n)) {
            writeDirectives();
        }
        written += n;
    }

    private boolean mayCommit(long n) {
        int buffer = getBufferSize();
        return (contentLength >= 0 && written + n >= contentLength)
                || (buffer > 0 && (written + n >= buffer || n > buffer / 4));
    }

    // Commit points.

    @Override
    public void flushBuffer() throws IOException {
        writeDirectives();
        super.flushBuffer();
    }

    @Override
    public void sendError(int sc) throws IOException {
        writeDirectives();
        super.sendError(sc);
    }

    @Override
    public void sendError(int sc, String msg) throws IOException {
        writeDirectives();
        super.sendError(sc, msg);
    }

    @Override
    public void sendRedirect(String location) throws IOException {
        writeDirectives();
        super.sendRedirect(location);
    }

    @Override
    public void sendRedirect(String location, boolean clearBuffer) throws IOException {
        writeDirectives();
        super.sendRedirect(location, clearBuffer);
    }

    @Override
    public void sendRedirect(String location, int sc) throws IOException {
        writeDirectives();
        super.sendRedirect(location, sc);
    }

    @Override
    public void sendRedirect(String location, int sc, boolean clearBuffer) throws IOException {
        writeDirectives();
        super.sendRedirect(location, sc, clearBuffer);
    }

    /** A reset before the commit clears the headers: the directives written are put back. */
    @Override
    public void reset() {
        super.reset();
        contentLength = -1;
        written = 0;
        for (String[] h : sent) {
            super.addHeader(h[0], h[1]);
        }
    }

    @Override
    public void resetBuffer() {
        super.resetBuffer();
        written = 0;
    }

    // Content-Length, and the headers the session owns.

    @Override
    public void setContentLength(int len) {
        lengthSet(len);
        super.setContentLength(len);
    }

    @Override
    public void setContentLengthLong(long len) {
        lengthSet(len);
        super.setContentLengthLong(len);
    }

    /**
     * A Content-Length the body has reached already completes the
     * response, which Tomcat then counts as committed: the directives go
     * first.
     */
    private void lengthSet(long len) {
        contentLength = len;
        if (!done && len > 0 && written >= len) {
            writeDirectives();
        }
    }

    private void trackLength(String name, String value) {
        if ("content-length".equalsIgnoreCase(name)) {
            try {
                lengthSet(value == null ? -1 : Long.parseLong(value.trim()));
            } catch (NumberFormatException e) {
                contentLength = -1;
            }
        }
    }

    @Override
    public void setHeader(String name, String value) {
        if (ownHeader(name)) {
            return;
        }
        trackLength(name, value);
        super.setHeader(name, value);
    }

    @Override
    public void addHeader(String name, String value) {
        if (ownHeader(name)) {
            return;
        }
        trackLength(name, value);
        super.addHeader(name, value);
    }

    @Override
    public void setIntHeader(String name, int value) {
        if (ownHeader(name)) {
            return;
        }
        trackLength(name, Integer.toString(value));
        super.setIntHeader(name, value);
    }

    @Override
    public void addIntHeader(String name, int value) {
        if (ownHeader(name)) {
            return;
        }
        trackLength(name, Integer.toString(value));
        super.addIntHeader(name, value);
    }

    @Override
    public void setDateHeader(String name, long date) {
        if (!ownHeader(name)) {
            super.setDateHeader(name, date);
        }
    }

    @Override
    public void addDateHeader(String name, long date) {
        if (!ownHeader(name)) {
            super.addDateHeader(name, date);
        }
    }

    // The body.

    @Override
    public ServletOutputStream getOutputStream() throws IOException {
        if (stream == null) {
            stream = new Stream(super.getOutputStream());
        }
        return stream;
    }

    @Override
    public PrintWriter getWriter() throws IOException {
        if (writer == null) {
            String enc = getCharacterEncoding();
            Charset cs;
            try {
                cs = enc == null ? StandardCharsets.ISO_8859_1 : Charset.forName(enc);
            } catch (RuntimeException e) {
                cs = StandardCharsets.UTF_8;
            }
            PrintWriter container = super.getWriter();
            writer = new PrintWriter(new CountingWriter(container, cs)) {
                @Override
                public boolean checkError() {
                    // The container's writer keeps the I/O errors (a client gone): ask it too.
                    return super.checkError() || container.checkError();
                }
            };
        }
        return writer;
    }

    private final class Stream extends ServletOutputStream {
        private final ServletOutputStream out;

        Stream(ServletOutputStream out) {
            this.out = out;
        }

        @Override
        public void write(int b) throws IOException {
            beforeWrite(1);
            out.write(b);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            beforeWrite(len);
            out.write(b, off, len);
        }

        @Override
        public void flush() throws IOException {
            writeDirectives();
            out.flush();
        }

        @Override
        public void close() throws IOException {
            writeDirectives();
            out.close();
        }

        @Override
        public boolean isReady() {
            return out.isReady();
        }

        @Override
        public void setWriteListener(WriteListener listener) {
            out.setWriteListener(listener);
        }
    }

    /** Counts the bytes the characters will take in the response's charset. */
    private final class CountingWriter extends Writer {
        private final PrintWriter out;
        private final Charset charset;
        private final boolean oneByte;
        private final boolean utf8;

        CountingWriter(PrintWriter out, Charset charset) {
            this.out = out;
            this.charset = charset;
            this.utf8 = charset.equals(StandardCharsets.UTF_8);
            this.oneByte = charset.equals(StandardCharsets.ISO_8859_1) || charset.equals(StandardCharsets.US_ASCII);
        }

        private long bytes(char[] c, int off, int len) {
            if (oneByte) {
                return len;
            }
            if (utf8) {
                long n = 0;
                for (int i = off; i < off + len; i++) {
                    char ch = c[i];
                    n += ch < 0x80 ? 1 : ch < 0x800 ? 2 : Character.isSurrogate(ch) ? 2 : 3;
                }
                return n;
            }
            return new String(c, off, len).getBytes(charset).length;
        }

        @Override
        public void write(char[] c, int off, int len) {
            beforeWrite(bytes(c, off, len));
            out.write(c, off, len);
        }

        @Override
        public void write(String s, int off, int len) {
            char[] c = new char[len];
            s.getChars(off, off + len, c, 0);
            write(c, 0, len);
        }

        @Override
        public void write(int ch) {
            write(new char[] {(char) ch}, 0, 1);
        }

        @Override
        public void flush() {
            writeDirectives();
            out.flush();
        }

        @Override
        public void close() {
            writeDirectives();
            out.close();
        }
    }
}
