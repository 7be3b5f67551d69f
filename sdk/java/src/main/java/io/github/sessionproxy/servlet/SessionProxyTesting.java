package io.github.sessionproxy.servlet;

import jakarta.servlet.http.HttpServletResponse;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.AbstractMap;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/**
 * SessionProxyTesting lets an app unit-test its routes without the proxy:
 * {@link #mintToken} signs a token as the proxy does, {@link #readDirectives}
 * reads (and checks, as strictly as the proxy) a response's
 * {@code X-Session-*} headers, and a {@link SessionJar} plays the proxy
 * across several requests.
 *
 * <pre>{@code
 * SessionJar jar = new SessionJar(SECRET);
 * var res = client.send(get("/set").header("X-Session", jar.token()), ...);
 * jar.apply(res.headers().map());
 * assertEquals("john doe", ((Map<?, ?>) jar.data().get("user")).get("name"));
 * }</pre>
 */
public final class SessionProxyTesting {
    private SessionProxyTesting() {}

    private static final SecureRandom RANDOM = new SecureRandom();

    /** A random session id shaped like the proxy's (16 bytes, base64url). */
    public static String newSid() {
        byte[] b = new byte[16];
        RANDOM.nextBytes(b);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(b);
    }

    /** An HS256 token for the session data {@code sess}, as the proxy would send it (a random sid, new when empty). */
    public static String mintToken(String secret, Map<String, ?> sess) {
        return token(secret).session(sess).mint();
    }

    /** A builder for a token with every claim under the test's control. */
    public static TokenBuilder token(String secret) {
        return new TokenBuilder(secret);
    }

    /** TokenBuilder mints one HS256 token. */
    public static final class TokenBuilder {
        private final String secret;
        private Map<String, ?> sess = Map.of();
        private String sid = newSid();
        private Boolean isNew;
        private Duration ttl = Duration.ofSeconds(60);
        private Long iat;
        private Object audience;
        private String issuer = Verifier.ISSUER;
        private final Map<String, Object> extra = new LinkedHashMap<>();

        private TokenBuilder(String secret) {
            if (secret == null || secret.isEmpty()) {
                throw new IllegalArgumentException("sessionproxy testing: the secret is empty");
            }
            this.secret = secret;
        }

        /** The session data (default empty). */
        public TokenBuilder session(Map<String, ?> sess) {
            this.sess = sess == null ? Map.of() : sess;
            return this;
        }

        /** The session id (default random); null leaves it out, as the koa cookie format does. */
        public TokenBuilder sid(String sid) {
            this.sid = sid;
            return this;
        }

        /** The {@code new} claim (default: whether the session data is empty). */
        public TokenBuilder isNew(boolean isNew) {
            this.isNew = isNew;
            return this;
        }

        /** {@code exp} - {@code iat} (default 60 s; negative for an expired token). */
        public TokenBuilder ttl(Duration ttl) {
            this.ttl = Objects.requireNonNull(ttl);
            return this;
        }

        /** {@code iat} in seconds (default now). */
        public TokenBuilder issuedAt(long seconds) {
            this.iat = seconds;
            return this;
        }

        /** The {@code aud} claim: a String or a List of them. */
        public TokenBuilder audience(Object audience) {
            this.audience = audience;
            return this;
        }

        /** The {@code iss} claim (default sessionproxy). */
        public TokenBuilder issuer(String issuer) {
            this.issuer = issuer;
            return this;
        }

        /** Any other claim, set last (it may replace one of the above). */
        public TokenBuilder claim(String name, Object value) {
            extra.put(name, value);
            return this;
        }

        public String mint() {
            long now = iat != null ? iat : System.currentTimeMillis() / 1000;
            Map<String, Object> claims = new LinkedHashMap<>();
            if (sid != null) {
                claims.put("sid", sid);
            }
            claims.put("sess", sess);
            claims.put("new", isNew != null ? isNew : sess.isEmpty());
            claims.put("iss", issuer);
            claims.put("iat", now);
            claims.put("exp", now + ttl.toSeconds());
            if (audience != null) {
                claims.put("aud", audience);
            }
            claims.putAll(extra);
            Base64.Encoder b64 = Base64.getUrlEncoder().withoutPadding();
            String head = b64.encodeToString("{\"alg\":\"HS256\",\"typ\":\"JWT\"}".getBytes(StandardCharsets.US_ASCII));
            String body = b64.encodeToString(Json.write(claims).getBytes(StandardCharsets.US_ASCII));
            byte[] sig = Verifier.hs256(secret.getBytes(StandardCharsets.UTF_8), (head + "." + body).getBytes(StandardCharsets.US_ASCII));
            return head + "." + body + "." + b64.encodeToString(sig);
        }
    }

    /**
     * The session directives of one response, decoded: every
     * {@code X-Session-Set} patch in order; {@code destroy} (this session
     * ends: {@code true}, {@code 1} or {@code all}); {@code destroyOthers}
     * (the user's other sessions end: {@code others} or {@code all});
     * {@code renew}; {@code maxAge} (a Long of ms, "session", or null).
     */
    public record Directives(List<Map<String, Object>> set, boolean destroy, boolean destroyOthers, boolean renew, Object maxAge) {}

    /** DirectiveException: a directive the proxy would answer with 502, applying nothing of the response. */
    public static final class DirectiveException extends IllegalArgumentException {
        private static final long serialVersionUID = 1L;
        private final String header;
        private final String reason;

        DirectiveException(String header, String reason) {
            super("sessionproxy.testing: " + header + ": " + reason);
            this.header = header;
            this.reason = reason;
        }

        /** The header at fault, as the response named it. */
        public String header() {
            return header;
        }

        public String reason() {
            return reason;
        }
    }

    // The proxy's limits (proxy/directive.go): past them a response is 502.
    private static final int MAX_DIRECTIVES = 100;
    private static final int MAX_DIRECTIVE_BYTES = 1 << 20;
    private static final int MAX_DEPTH = 32;
    private static final String SPACE = " \t\n\u000b\f\r"; // what Go's strings.TrimSpace trims of a header's bytes

    /**
     * {@link #readDirectives(Iterable, String)} of a header map: java.net.http's
     * {@code headers().map()}, Spring 6's {@code HttpHeaders}, Spring 7's
     * {@code HttpHeaders.asMultiValueMap()} (its HttpHeaders is no Map).
     */
    public static Directives readDirectives(Map<String, ? extends List<String>> headers) {
        return readDirectives(headers, "X-Session");
    }

    public static Directives readDirectives(Map<String, ? extends List<String>> headers, String header) {
        return readDirectives(entries(headers), header);
    }

    /** The directives of a servlet response (MockMvc's {@code MockHttpServletResponse}, say). */
    public static Directives readDirectives(HttpServletResponse response, String header) {
        return readDirectives(entries(response), header);
    }

    static List<Map.Entry<String, String>> entries(Map<String, ? extends List<String>> headers) {
        List<Map.Entry<String, String>> out = new ArrayList<>();
        headers.forEach((name, values) -> values.forEach(v -> out.add(new AbstractMap.SimpleEntry<>(name, v))));
        return out;
    }

    static List<Map.Entry<String, String>> entries(HttpServletResponse response) {
        List<Map.Entry<String, String>> out = new ArrayList<>();
        for (String name : response.getHeaderNames()) {
            for (String v : response.getHeaders(name)) {
                out.add(new AbstractMap.SimpleEntry<>(name, v));
            }
        }
        return out;
    }

    /**
     * The session directives in a response's header lines, in order;
     * {@code header} is the proxy's {@code token.header}, which names them.
     * Throws {@link DirectiveException}, naming the header, for what the
     * proxy answers with 502: an X-Session-Set that is not a JSON object,
     * nests deeper than 32 or sets a top-level key starting with "_"; a
     * Destroy other than true, 1, others or all; a Renew other than true
     * or 1; a Max-Age that is neither 1 ms to 100 years nor "session"; any
     * other header named after {@code header} (a typo, or with "_"); more
     * than 100 such header values or more than 1 MiB of them (Latin-1, one
     * byte a character, as a servlet container sends them); a character
     * beyond Latin-1, which a container cannot send.
     */
    public static Directives readDirectives(Iterable<? extends Map.Entry<String, String>> lines, String header) {
        String prefix = header.toLowerCase(Locale.ROOT);
        String own = prefix.replace('_', '-');
        List<Map<String, Object>> set = new ArrayList<>();
        boolean destroy = false;
        boolean others = false;
        boolean renew = false;
        Object maxAge = null;
        int count = 0;
        long size = 0;
        for (Map.Entry<String, String> line : lines) {
            String name = line.getKey();
            String value = line.getValue() == null ? "" : line.getValue();
            String lname = name.toLowerCase(Locale.ROOT);
            String norm = lname.replace('_', '-');
            if (!norm.equals(own) && !norm.startsWith(own + "-")) {
                continue;
            }
            count++;
            for (int i = 0; i < value.length(); i++) {
                if (value.charAt(i) > 0xff) {
                    throw new DirectiveException(name, "characters beyond Latin-1, which a servlet container cannot send "
                            + "in a header: write the JSON as ASCII, as the library does");
                }
            }
            size += value.length();
            if (count > MAX_DIRECTIVES) {
                throw new DirectiveException(name, "more than " + MAX_DIRECTIVES + " session headers in one response");
            }
            if (size > MAX_DIRECTIVE_BYTES) {
                throw new DirectiveException(name, "the session headers of one response are longer than " + MAX_DIRECTIVE_BYTES + " bytes");
            }
            String v = trim(value);
            if (lname.equals(prefix)) {
                continue; // the token, echoed back: the proxy drops it
            } else if (lname.equals(prefix + "-set")) {
                set.add(patch(name, value));
            } else if (lname.equals(prefix + "-destroy")) {
                switch (v) {
                    case "true", "1" -> destroy = true;
                    case "others" -> others = true;
                    case "all" -> {
                        destroy = true;
                        others = true;
                    }
                    default -> throw new DirectiveException(name, quote(value) + ": want \"true\", \"1\", \"others\" or \"all\"");
                }
            } else if (lname.equals(prefix + "-renew")) {
                if (!v.equals("true") && !v.equals("1")) {
                    throw new DirectiveException(name, quote(value) + ": want \"true\" or \"1\"");
                }
                renew = true;
            } else if (lname.equals(prefix + "-max-age")) {
                maxAge = maxAge(name, value, v);
            } else {
                throw new DirectiveException(name, "unknown session directive");
            }
        }
        return new Directives(List.copyOf(set), destroy, others, renew, maxAge);
    }

    private static String trim(String s) {
        int i = 0;
        int j = s.length();
        while (i < j && SPACE.indexOf(s.charAt(i)) >= 0) {
            i++;
        }
        while (j > i && SPACE.indexOf(s.charAt(j - 1)) >= 0) {
            j--;
        }
        return s.substring(i, j);
    }

    private static String quote(String s) {
        return Json.write(s);
    }

    private static Map<String, Object> patch(String name, String value) {
        if (tooDeep(value)) {
            throw new DirectiveException(name, "want a JSON object: objects and arrays nested deeper than " + MAX_DEPTH);
        }
        Object parsed;
        try {
            parsed = Json.parse(value);
        } catch (Exception e) {
            throw new DirectiveException(name, "want a JSON object: " + e.getMessage().lines().findFirst().orElse(""));
        }
        if (!(parsed instanceof Map<?, ?>)) {
            throw new DirectiveException(name, "want a JSON object: not a JSON object");
        }
        @SuppressWarnings("unchecked")
        Map<String, Object> patch = (Map<String, Object>) parsed;
        for (String k : patch.keySet()) {
            if (k.startsWith("_")) {
                throw new DirectiveException(name, "top-level key " + quote(k)
                        + ": keys starting with \"_\" are reserved for the proxy's bookkeeping");
            }
        }
        return patch;
    }

    /** Whether the JSON text nests objects and arrays deeper than MAX_DEPTH outside its strings. */
    private static boolean tooDeep(String v) {
        int depth = 0;
        for (int i = 0; i < v.length(); i++) {
            char c = v.charAt(i);
            if (c == '"') {
                i++;
                while (i < v.length() && v.charAt(i) != '"') {
                    i += v.charAt(i) == '\\' ? 2 : 1;
                }
            } else if (c == '{' || c == '[') {
                if (++depth > MAX_DEPTH) {
                    return true;
                }
            } else if (c == '}' || c == ']') {
                depth--;
            }
        }
        return false;
    }

    private static Object maxAge(String name, String value, String v) {
        if (v.equals("session")) {
            return v;
        }
        String digits = v.startsWith("+") ? v.substring(1) : v;
        boolean ok = !digits.isEmpty() && digits.chars().allMatch(c -> c >= '0' && c <= '9');
        if (ok) {
            String significant = digits.replaceFirst("^0+", "");
            if (significant.length() <= 13) {
                long ms = significant.isEmpty() ? 0 : Long.parseLong(significant);
                if (ms > 0 && ms <= SessionState.LONGEST_MAX_AGE) {
                    return ms;
                }
            }
        }
        throw new DirectiveException(name, quote(value) + ": want a positive number of milliseconds (at most 100 years) or \"session\"");
    }

    /** Applies an RFC 7396 merge patch to a copy of target and returns it. */
    public static Map<String, Object> mergePatch(Map<String, ?> target, Map<String, ?> patch) {
        @SuppressWarnings("unchecked")
        Map<String, Object> out = (Map<String, Object>) Json.mergePatch(Json.copy(target), patch);
        return out;
    }

    /**
     * SessionJar plays the proxy for a test: it holds a session across
     * requests. {@link #token()} is a fresh token of the current session;
     * {@link #apply} applies a response's directives as the proxy would
     * (merge patch, destroy, renew, max age), or throws
     * {@link DirectiveException} and applies nothing. The next token's id
     * is the proxy's: a new one after a destroy or a renew of a saved
     * session, and after every response while the session is unsaved
     * ({@link #isNew()}), as the proxy keeps no empty new session to
     * remember its id.
     */
    public static final class SessionJar {
        private final String secret;
        private final String header;
        private Object audience;
        private Map<String, Object> data;
        private String sid = newSid();
        private boolean isNew;
        private Object maxAge;

        public SessionJar(String secret) {
            this(secret, Map.of(), "X-Session");
        }

        public SessionJar(String secret, Map<String, ?> data) {
            this(secret, data, "X-Session");
        }

        /** A jar for the proxy's {@code token.header} {@code header}. */
        public SessionJar(String secret, Map<String, ?> data, String header) {
            this.secret = secret;
            this.header = header;
            this.data = Json.copyObject(data);
            this.isNew = data.isEmpty();
        }

        /** The {@code aud} of the tokens (a String or a List). */
        public SessionJar audience(Object audience) {
            this.audience = audience;
            return this;
        }

        /** The session data, as the proxy holds it. */
        public Map<String, Object> data() {
            return data;
        }

        public String sid() {
            return sid;
        }

        public boolean isNew() {
            return isNew;
        }

        /** The last X-Session-Max-Age applied: a Long of ms, "session", or null. */
        public Object maxAge() {
            return maxAge;
        }

        /** The token header's name. */
        public String header() {
            return header;
        }

        /** A fresh token of the session as it is. */
        public String token() {
            return SessionProxyTesting.token(secret).session(data).sid(sid).isNew(isNew).audience(audience).mint();
        }

        public Directives apply(Map<String, ? extends List<String>> headers) {
            return apply(entries(headers));
        }

        public Directives apply(HttpServletResponse response) {
            return apply(entries(response));
        }

        /** Applies one response's directives; returns them decoded. */
        public Directives apply(Iterable<? extends Map.Entry<String, String>> lines) {
            Directives d = readDirectives(lines, header);
            boolean renewed = d.renew() && !isNew; // a new session saved keeps its id
            if (d.destroy()) {
                data = new LinkedHashMap<>();
                isNew = true;
            }
            for (Map<String, Object> p : d.set()) {
                data = mergePatch(data, p);
            }
            if (d.maxAge() != null) {
                maxAge = d.maxAge();
            }
            // A destroy without a set or a max age only ends the session,
            // a renew beside it too.
            boolean ended = d.destroy() && d.set().isEmpty() && d.maxAge() == null;
            if (!ended && (!data.isEmpty() || d.renew() || d.maxAge() != null)) {
                isNew = false; // saved: the proxy saves no new session left empty
            }
            // Nothing remembers the id of a session the proxy left unsaved:
            // the next request starts another.
            if (d.destroy() || renewed || isNew) {
                sid = newSid();
            }
            return d;
        }
    }
}
