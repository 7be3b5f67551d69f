package io.github.sessionproxy.servlet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sessionproxy.servlet.SessionProxyTesting.DirectiveException;
import io.github.sessionproxy.servlet.SessionProxyTesting.Directives;
import io.github.sessionproxy.servlet.SessionProxyTesting.SessionJar;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.AbstractMap;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * The shared conformance vectors, sdk/testdata/vectors.json (tokens and
 * patches, written by the proxy's own code) and directives.json (what the
 * proxy applies and what it answers with 502).
 */
class VectorsTest {
    static final Path TESTDATA = Path.of("..", "testdata");
    static Map<String, Object> vectors;
    static Map<String, Object> table;
    static JwksServer jwks;

    @SuppressWarnings("unchecked")
    static Map<String, Object> load(String name) throws Exception {
        return (Map<String, Object>) Json.parse(Files.readAllBytes(TESTDATA.resolve(name)));
    }

    @BeforeAll
    static void setUp() throws Exception {
        vectors = load("vectors.json");
        table = load("directives.json");
        jwks = new JwksServer(Json.write(vectors.get("jwks")));
    }

    @AfterAll
    static void tearDown() {
        jwks.close();
    }

    @SuppressWarnings("unchecked")
    static List<Map<String, Object>> list(Map<String, Object> m, String key) {
        return (List<Map<String, Object>>) m.get(key);
    }

    @TestFactory
    Stream<DynamicTest> tokens() {
        List<Map<String, Object>> tokens = list(vectors, "tokens");
        assertTrue(tokens.size() > 10);
        return tokens.stream().map(tc -> DynamicTest.dynamicTest((String) tc.get("name"), () -> {
            Verifier.Builder b = Verifier.builder().audience((String) tc.get("audience"));
            if (tc.containsKey("secret")) {
                b.secret((String) tc.get("secret"));
            } else {
                b.jwksUrl(jwks.url());
            }
            Verifier v = b.build();
            if (tc.containsKey("error")) {
                InvalidTokenException e = assertThrows(InvalidTokenException.class, () -> v.verify((String) tc.get("token")));
                assertEquals(tc.get("error"), e.reason());
                assertTrue(e.getMessage().startsWith(tc.get("error") + ": "), e.getMessage());
            } else {
                assertEquals(tc.get("claims"), v.verify((String) tc.get("token")));
            }
        }));
    }

    @Test
    void oneVerifierForManyTokens() throws Exception {
        Verifier v = Verifier.builder().secret((String) vectors.get("secret")).build();
        int n = 0;
        for (Map<String, Object> tc : list(vectors, "tokens")) {
            if (tc.containsKey("claims") && tc.containsKey("secret") && !tc.containsKey("audience")) {
                assertEquals(tc.get("claims"), v.verify((String) tc.get("token")));
                n++;
            }
        }
        assertTrue(n >= 3);
    }

    @Test
    void anEmptySecretIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> Verifier.builder().secret("").build());
        assertThrows(IllegalArgumentException.class, () -> Verifier.builder().build());
    }

    @SuppressWarnings("unchecked")
    @TestFactory
    Stream<DynamicTest> patches() {
        return list(vectors, "patches").stream().map(tc -> DynamicTest.dynamicTest((String) tc.get("name"), () -> {
            Map<String, Object> before = (Map<String, Object>) tc.get("before");
            Map<String, Object> after = (Map<String, Object>) tc.get("after");
            Map<String, Object> patch = Json.diff(before, after);
            assertEquals(tc.get("patch"), patch.isEmpty() ? null : patch);

            // Through the session: arrived as before, set to after key by key.
            SessionState state = new SessionState(Map.of("sid", "x", "sess", Json.copy(before), "new", false), "X-Session", 0);
            ProxySession s = state.current;
            for (String k : List.copyOf(state.data.keySet())) {
                if (!after.containsKey(k)) {
                    s.removeAttribute(k);
                }
            }
            for (Map.Entry<String, Object> e : after.entrySet()) {
                if (e.getValue() != null) {
                    s.setAttribute(e.getKey(), Json.copy(e.getValue()));
                } else {
                    state.data.put(e.getKey(), null); // a null the proxy holds, as the token brings it
                }
            }
            List<String[]> headers = state.directives();
            if (tc.get("patch") == null) {
                assertEquals(0, headers.size(), () -> headers.get(0)[1]);
            } else {
                assertEquals(1, headers.size());
                assertEquals("X-Session-Set", headers.get(0)[0]);
                assertEquals(tc.get("patch"), Json.parse(headers.get(0)[1]));
                assertTrue(headers.get(0)[1].matches("[ -~]*"), "not printable ASCII: " + headers.get(0)[1]);
            }
        }));
    }

    @SuppressWarnings("unchecked")
    @Test
    void nestedChangesInPlaceAreFound() throws Exception {
        SessionState state = new SessionState(Map.of("sess", Map.of("cart", List.of(1, 2), "user", Map.of("age", 30))), "X-Session", 0);
        ((List<Object>) state.current.getAttribute("cart")).add(3);
        ((Map<String, Object>) state.current.getAttribute("user")).put("age", 31);
        assertEquals(Map.of("cart", List.of(1, 2, 3), "user", Map.of("age", 31)), Json.parse(state.directives().get(0)[1]));
    }

    /** A case's header lines: the last one repeated and {@code <pad>} filled in, as the table says. */
    @SuppressWarnings("unchecked")
    static List<Map.Entry<String, String>> lines(Map<String, Object> c) {
        int padN = c.containsKey("pad") ? ((Number) c.get("pad")).intValue() : 0;
        String pad = ((String) c.getOrDefault("pad_with", "x")).repeat(padN);
        List<List<String>> headers = (List<List<String>>) c.get("headers");
        List<Map.Entry<String, String>> out = new ArrayList<>();
        for (int i = 0; i < headers.size(); i++) {
            int n = i == headers.size() - 1 && c.containsKey("repeat") ? ((Number) c.get("repeat")).intValue() : 1;
            for (int j = 0; j < n; j++) {
                out.add(new AbstractMap.SimpleEntry<>(headers.get(i).get(0), headers.get(i).get(1).replace("<pad>", pad)));
            }
        }
        return out;
    }

    @SuppressWarnings("unchecked")
    @TestFactory
    Stream<DynamicTest> directives() {
        return list(table, "cases").stream().map(c -> DynamicTest.dynamicTest((String) c.get("name"), () -> {
            Map<String, Object> before = (Map<String, Object>) c.getOrDefault("before", table.get("before"));
            List<Map.Entry<String, String>> lines = lines(c);
            SessionJar jar = new SessionJar("s", before);
            String sid = jar.sid();
            if (c.containsKey("want")) {
                Map<String, Object> want = (Map<String, Object>) c.get("want");
                Directives d = SessionProxyTesting.readDirectives(lines, "X-Session");
                assertEquals(want.get("set"), d.set());
                assertEquals(want.get("destroy"), d.destroy());
                assertEquals(want.get("destroy_others"), d.destroyOthers());
                assertEquals(want.get("renew"), d.renew());
                Object maxAge = want.get("max_age") instanceof Number n ? (Object) n.longValue() : want.get("max_age");
                assertEquals(maxAge, d.maxAge());
                jar.apply(lines);
                assertEquals(want.get("session"), jar.data(), "the session the next token carries");
                assertEquals(want.get("new"), jar.isNew(), "the next token's new");
                assertEquals(want.get("id"), jar.sid().equals(sid) ? "same" : "new", "the next token's id");
                return;
            }
            assertThrows(DirectiveException.class, () -> jar.apply(lines));
            assertEquals(before, jar.data(), "nothing of the response applied");
            assertEquals(sid, jar.sid());
            DirectiveException e = assertThrows(DirectiveException.class, () -> SessionProxyTesting.readDirectives(lines, "X-Session"));
            assertTrue(e instanceof IllegalArgumentException);
            if (c.get("error") != null) {
                assertEquals(((String) c.get("error")).toLowerCase(), e.header().toLowerCase());
            }
            assertTrue(e.getMessage().startsWith("sessionproxy.testing: " + e.header() + ": "), e.getMessage());
        }));
    }

    /**
     * A new session the response leaves empty stays new, as the proxy
     * saves no empty new session (checked against the binary): an empty
     * patch or one that only removes keeps the next token's new; a renew
     * or a max age saves it.
     */
    @Test
    void aNewSessionLeftEmptyStaysNew() {
        for (String set : new String[] {"{}", "{\"a\":null}"}) {
            SessionJar jar = new SessionJar("s");
            jar.apply(Map.of("X-Session-Set", List.of(set)));
            assertTrue(jar.isNew(), set);
        }
        SessionJar jar = new SessionJar("s");
        jar.apply(Map.of("X-Session-Set", List.of("{\"a\":1}")));
        assertFalse(jar.isNew());
        jar = new SessionJar("s");
        jar.apply(Map.of("X-Session-Renew", List.of("true")));
        assertFalse(jar.isNew());
        jar = new SessionJar("s");
        jar.apply(Map.of("X-Session-Max-Age", List.of("60000")));
        assertFalse(jar.isNew());
    }

    @Test
    void directivesNamedAfterTheHeader() {
        Map<String, List<String>> h = new LinkedHashMap<>();
        h.put("X-App-Session-Renew", List.of("true"));
        h.put("X-Session-Set", List.of("{\"_a\":1}"));
        assertTrue(SessionProxyTesting.readDirectives(h, "X-App-Session").renew());
        h.put("X-App-Session-Destroy", List.of("nope"));
        assertEquals("X-App-Session-Destroy",
                assertThrows(DirectiveException.class, () -> SessionProxyTesting.readDirectives(h, "X-App-Session")).header());
    }

    @Test
    void aMintedTokenVerifies() throws Exception {
        String token = SessionProxyTesting.token("k").session(Map.of("a", 1)).sid("s1").audience("web").mint();
        Map<String, Object> claims = Verifier.builder().secret("k").audience("web").build().verify(token);
        assertEquals(Map.of("a", 1), claims.get("sess"));
        assertEquals("s1", claims.get("sid"));
        assertFalse((Boolean) claims.get("new"));
        String expired = SessionProxyTesting.token("k").ttl(java.time.Duration.ofMinutes(-1)).mint();
        assertEquals("expired", assertThrows(InvalidTokenException.class,
                () -> Verifier.builder().secret("k").build().verify(expired)).reason());
        assertNotEquals(SessionProxyTesting.newSid(), SessionProxyTesting.newSid());
    }
}
