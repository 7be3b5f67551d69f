package io.github.sessionproxy.servlet;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.SerializableString;
import com.fasterxml.jackson.core.io.CharacterEscapes;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.core.json.JsonWriteFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The JSON the session is made of: strict parsing, ASCII-only writing (a
 * header value is Latin-1 on the wire, and {@code \}u escapes are JSON),
 * JSON equality, and the RFC 7396 merge patch between two sessions.
 *
 * <p>A session value is what JSON holds, as Jackson reads it: {@code Map}
 * with {@code String} keys, {@code List}, {@code String}, a {@code Number}
 * ({@code Integer}, {@code Long}, {@code BigInteger} for integers of any
 * size, {@code Double} for fractions; also {@code Short}, {@code Byte},
 * {@code Float}, {@code BigDecimal}), {@code Boolean} and {@code null}.
 */
final class Json {
    private Json() {}

    /** Refuses NaN, trailing text and the like; a repeated key's last value wins, as in Go. */
    static final ObjectMapper MAPPER = JsonMapper.builder()
            .disable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .enable(JsonWriteFeature.ESCAPE_NON_ASCII)
            .build();

    static {
        MAPPER.getFactory().setCharacterEscapes(new AsciiEscapes());
    }

    /** Escapes DEL too: a header value carries printable ASCII only. */
    private static final class AsciiEscapes extends CharacterEscapes {
        private static final long serialVersionUID = 1L;
        private final int[] ascii;

        AsciiEscapes() {
            ascii = CharacterEscapes.standardAsciiEscapesForJSON();
            ascii[0x7f] = CharacterEscapes.ESCAPE_STANDARD;
        }

        @Override
        public int[] getEscapeCodesForAscii() {
            return ascii;
        }

        @Override
        public SerializableString getEscapeSequence(int ch) {
            return null; // ESCAPE_NON_ASCII and ESCAPE_STANDARD give \\uXXXX
        }
    }

    /** Parses JSON text; any JSON value. */
    static Object parse(byte[] text) throws IOException {
        return MAPPER.readValue(text, Object.class);
    }

    static Object parse(String text) throws IOException {
        return MAPPER.readValue(text, Object.class);
    }

    /** Writes v (already checked by {@link #check}) as compact, printable-ASCII JSON. */
    static String write(Object v) {
        try {
            return MAPPER.writeValueAsString(v);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("sessionproxy: cannot write the session as JSON: " + e.getOriginalMessage(), e);
        }
    }

    /**
     * Throws IllegalArgumentException, naming the session key, when value
     * (at any depth) is not a JSON value or is a number JSON cannot carry.
     */
    static void check(String key, Object value) {
        String bad = firstNonJson(value, 0);
        if (bad != null) {
            String start = "sessionproxy: session attribute \"" + key + "\" cannot be sent to the proxy: " + bad + ". ";
            if (springsOwn(key, value)) {
                throw new IllegalArgumentException(start + "Spring keeps this object in the session itself, so the app "
                        + "cannot convert it: configure Spring to keep it elsewhere, as sessionproxy-servlet's README says "
                        + "(Spring Security: a SecurityContextRepository that keeps JSON, CookieCsrfTokenRepository, "
                        + "CookieRequestCache; no flash attributes, @SessionScope beans or SessionLocaleResolver)");
            }
            throw new IllegalArgumentException(start + "The session holds what JSON holds (Map<String, ?>, List, String, "
                    + "Number, Boolean, null): store a date as its ISO-8601 string, an object as a Map "
                    + "(e.g. objectMapper.convertValue(obj, Map.class))");
        }
    }

    /**
     * Whether Spring, not the app, stores this attribute: Spring Security's
     * context, saved request and last exception, the attributes Spring
     * names after its classes (CSRF token, flash maps, locale), session
     * scoped beans, or one of Spring's own objects.
     */
    private static boolean springsOwn(String key, Object value) {
        return key.startsWith("SPRING_SECURITY_") || key.startsWith("org.springframework.") || key.startsWith("scopedTarget.")
                || value.getClass().getName().startsWith("org.springframework.");
    }

    private static final int MAX_DEPTH = 1000;

    private static String firstNonJson(Object v, int depth) {
        if (depth > MAX_DEPTH) {
            return "it nests deeper than " + MAX_DEPTH;
        }
        if (v == null || v instanceof String || v instanceof Boolean || v instanceof Integer || v instanceof Long
                || v instanceof BigInteger || v instanceof Short || v instanceof Byte || v instanceof BigDecimal) {
            return null;
        }
        if (v instanceof Double || v instanceof Float) {
            double d = ((Number) v).doubleValue();
            return Double.isFinite(d) ? null : "the number " + d + " is not JSON";
        }
        if ((v instanceof Map || v instanceof List) && !plainContainer(v)) {
            return "a " + typeName(v) + " would be read back as a plain " + (v instanceof Map ? "Map" : "List")
                    + ", not as its own class (copy it into a LinkedHashMap or an ArrayList if that is what you want)";
        }
        if (v instanceof Map<?, ?> m) {
            for (Map.Entry<?, ?> e : m.entrySet()) {
                if (!(e.getKey() instanceof String)) {
                    return "a Map key of type " + typeName(e.getKey()) + " (JSON object keys are strings)";
                }
                String bad = firstNonJson(e.getValue(), depth + 1);
                if (bad != null) {
                    return bad;
                }
            }
            return null;
        }
        if (v instanceof List<?> l) {
            for (Object x : l) {
                String bad = firstNonJson(x, depth + 1);
                if (bad != null) {
                    return bad;
                }
            }
            return null;
        }
        return "a value of type " + typeName(v) + " is not JSON";
    }

    /**
     * Whether a Map or List is one of the JDK's (or Kotlin's) own: one of
     * another class, such as Spring's FlashMap, comes back from JSON as a
     * plain one, and the app's cast to its class would fail on the next
     * request.
     */
    private static boolean plainContainer(Object v) {
        String n = v.getClass().getName();
        return n.startsWith("java.") || n.startsWith("kotlin.collections.");
    }

    private static String typeName(Object o) {
        return o == null ? "null" : o.getClass().getName();
    }

    /** A deep copy of a JSON value, maps and lists mutable, map order kept. */
    static Object copy(Object v) {
        if (v instanceof Map<?, ?> m) {
            Map<String, Object> out = new LinkedHashMap<>();
            for (Map.Entry<?, ?> e : m.entrySet()) {
                out.put((String) e.getKey(), copy(e.getValue()));
            }
            return out;
        }
        if (v instanceof List<?> l) {
            List<Object> out = new ArrayList<>(l.size());
            for (Object x : l) {
                out.add(copy(x));
            }
            return out;
        }
        return v;
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> copyObject(Map<String, ?> m) {
        return (Map<String, Object>) copy(m);
    }

    /** JSON equality: true is not 1, 1 is 1.0, objects by key, arrays in order. */
    static boolean same(Object a, Object b) {
        if (a == null || b == null) {
            return a == b;
        }
        if (a instanceof Number x && b instanceof Number y) {
            return decimal(x).compareTo(decimal(y)) == 0;
        }
        if (a instanceof Map<?, ?> x && b instanceof Map<?, ?> y) {
            if (!x.keySet().equals(y.keySet())) {
                return false;
            }
            for (Map.Entry<?, ?> e : x.entrySet()) {
                if (!same(e.getValue(), y.get(e.getKey()))) {
                    return false;
                }
            }
            return true;
        }
        if (a instanceof List<?> x && b instanceof List<?> y) {
            if (x.size() != y.size()) {
                return false;
            }
            Iterator<?> i = x.iterator();
            Iterator<?> j = y.iterator();
            while (i.hasNext()) {
                if (!same(i.next(), j.next())) {
                    return false;
                }
            }
            return true;
        }
        if (a instanceof String || a instanceof Boolean) {
            return a.equals(b);
        }
        return false;
    }

    private static BigDecimal decimal(Number n) {
        if (n instanceof BigDecimal d) {
            return d;
        }
        if (n instanceof BigInteger i) {
            return new BigDecimal(i);
        }
        if (n instanceof Double || n instanceof Float) {
            double d = n.doubleValue();
            if (!Double.isFinite(d)) {
                // Only compared with itself (a number past the double range
                // the session arrived with, left alone): equal to the same infinity.
                return d > 0 ? INF : NEG_INF;
            }
            return new BigDecimal(d);
        }
        return BigDecimal.valueOf(n.longValue());
    }

    private static final BigDecimal INF = BigDecimal.TEN.pow(100000);
    private static final BigDecimal NEG_INF = INF.negate();

    /**
     * The smallest merge patch that turns before into after: only changed
     * keys, a removed key as null, nested objects diffed key by key, arrays
     * and scalars replaced whole; empty when nothing changed. A member that
     * is null before and null or gone after is no change (a merge patch
     * reads null as absent).
     */
    static Map<String, Object> diff(Map<String, ?> before, Map<String, ?> after) {
        Map<String, Object> patch = new LinkedHashMap<>();
        for (Map.Entry<String, ?> e : before.entrySet()) {
            if (e.getValue() != null && after.get(e.getKey()) == null) {
                patch.put(e.getKey(), null);
            }
        }
        for (Map.Entry<String, ?> e : after.entrySet()) {
            String k = e.getKey();
            Object v = e.getValue();
            if (v == null) {
                continue;
            }
            Object b = before.get(k);
            if (b instanceof Map<?, ?> bm && v instanceof Map<?, ?> vm && stringKeys(vm) && plainContainer(vm)) {
                @SuppressWarnings("unchecked")
                Map<String, Object> sub = diff((Map<String, ?>) bm, (Map<String, ?>) vm);
                if (!sub.isEmpty()) {
                    patch.put(k, sub);
                }
            } else if (b == null || !same(b, v)) {
                patch.put(k, stripNulls(v));
            }
        }
        return patch;
    }

    private static boolean stringKeys(Map<?, ?> m) {
        for (Object k : m.keySet()) {
            if (!(k instanceof String)) {
                return false; // not JSON: sent whole, so that check() names it
            }
        }
        return true;
    }

    /** v with the null members of its objects left out (arrays keep theirs). */
    static Object stripNulls(Object v) {
        if (v instanceof Map<?, ?> m && stringKeys(m) && plainContainer(m)) {
            Map<String, Object> out = new LinkedHashMap<>();
            for (Map.Entry<?, ?> e : m.entrySet()) {
                if (e.getValue() != null) {
                    out.put((String) e.getKey(), stripNulls(e.getValue()));
                }
            }
            return out;
        }
        return v;
    }

    /** Applies an RFC 7396 merge patch, returning a new value. */
    static Object mergePatch(Object target, Object patch) {
        if (!(patch instanceof Map<?, ?> p)) {
            return copy(patch);
        }
        Map<String, Object> result = new LinkedHashMap<>();
        if (target instanceof Map<?, ?> t) {
            for (Map.Entry<?, ?> e : t.entrySet()) {
                result.put((String) e.getKey(), e.getValue());
            }
        }
        for (Map.Entry<?, ?> e : p.entrySet()) {
            String k = (String) e.getKey();
            if (e.getValue() == null) {
                result.remove(k);
            } else {
                result.put(k, mergePatch(result.get(k), e.getValue()));
            }
        }
        return result;
    }
}
