package io.github.sessionproxy.servlet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import jakarta.servlet.ServletOutputStream;
import jakarta.servlet.WriteListener;
import jakarta.servlet.http.HttpServletResponse;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * SessionResponse against a container response it can watch: the order in
 * which headers are added and the response commits, where threads race.
 */
class ResponseTest {
    /** A container's response: headers, and a commit on flush; each header remembers whether it came after the commit. */
    static final class Container {
        volatile boolean committed;
        final List<String> headers = new ArrayList<>();
        final List<String> lateHeaders = new ArrayList<>();
        final CountDownLatch adding = new CountDownLatch(1);
        final CountDownLatch flushed = new CountDownLatch(1);

        HttpServletResponse response() {
            ServletOutputStream out = new ServletOutputStream() {
                @Override
                public void write(int b) {}

                @Override
                public void flush() {
                    committed = true;
                    flushed.countDown();
                }

                @Override
                public boolean isReady() {
                    return true;
                }

                @Override
                public void setWriteListener(WriteListener l) {}
            };
            return (HttpServletResponse) Proxy.newProxyInstance(getClass().getClassLoader(),
                    new Class<?>[] {HttpServletResponse.class}, (proxy, m, args) -> switch (m.getName()) {
                        case "isCommitted" -> committed;
                        case "getBufferSize" -> 8192;
                        case "getOutputStream" -> out;
                        case "getHeaders" -> List.of();
                        case "addHeader", "setHeader" -> {
                            String h = args[0] + ": " + args[1];
                            if (h.startsWith("X-Session")) {
                                adding.countDown();
                                flushed.await(1, TimeUnit.SECONDS); // a flush elsewhere gets its chance now
                            }
                            synchronized (headers) {
                                (committed ? lateHeaders : headers).add(h);
                            }
                            yield null;
                        }
                        case "hashCode" -> System.identityHashCode(proxy);
                        case "equals" -> proxy == args[0];
                        case "toString" -> "container response";
                        default -> null;
                    });
        }
    }

    static SessionState session(Map<String, Object> sess) {
        return new SessionState(Map.of("sid", "s1", "new", false, "sess", sess), "X-Session", 86400);
    }

    /**
     * An async request whose other thread flushes the body while the
     * filter's thread writes the directives (a StreamingResponseBody,
     * an SseEmitter): the flush waits for them, so they go out with the
     * response instead of being dropped by a committed one.
     */
    @Test
    void aFlushFromAnotherThreadWaitsForTheDirectives() throws Exception {
        Container container = new Container();
        SessionState state = session(Map.of());
        state.current.setAttribute("a", 1);
        SessionResponse res = new SessionResponse(container.response(), state);
        ServletOutputStream out = res.getOutputStream();
        Thread streaming = new Thread(() -> {
            try {
                container.adding.await(5, TimeUnit.SECONDS);
                out.flush();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        streaming.start();
        res.finish(); // the filter's thread, as the chain returned
        streaming.join(5000);
        assertTrue(container.committed);
        assertEquals(List.of(), container.lateHeaders, "headers added to a committed response are lost");
        assertEquals(List.of("X-Session-Set: {\"a\":1}", "Vary: Cookie"), container.headers);
    }

    /**
     * The proxy keeps numbers as written, so a session may hold one past
     * the double range (another app's 1e400): left alone, it is no reason
     * to refuse this request's change.
     */
    @Test
    @SuppressWarnings("unchecked")
    void aNumberPastTheDoubleRangeLeftAloneIsNoError() throws Exception {
        Map<String, Object> sess = (Map<String, Object>) Json.parse("{\"big\":1e400,\"deep\":{\"n\":-1e400}}");
        SessionState state = session(sess);
        state.current.setAttribute("a", 1);
        List<String[]> d = state.seal();
        assertEquals(1, d.size());
        assertEquals("X-Session-Set", d.get(0)[0]);
        assertEquals("{\"a\":1}", d.get(0)[1]);
    }

    /** A change inside a map that is not JSON is refused by the key's name when the headers are written. */
    @Test
    @SuppressWarnings("unchecked")
    void aNestedValueThatIsNotJsonIsRefusedByName() throws Exception {
        for (boolean destroyed : new boolean[] {false, true}) {
            SessionState state = session((Map<String, Object>) Json.parse("{\"java:_m\":{\"a\":1}}"));
            Map<Object, Object> m = (Map<Object, Object>) state.current.getAttribute("_m");
            if (destroyed) {
                state.current.invalidate();
                state.current = new ProxySession(state, true);
                state.current.setAttribute("_m", m);
            }
            m.put(1, "one");
            IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, state::seal);
            assertTrue(e.getMessage().contains("\"_m\"") && e.getMessage().contains("java.lang.Integer"), e.getMessage());
        }
    }

    /** A subclass of a Map (Spring's FlashMap) or of a List: its own class would be read back as a plain one. */
    static final class FlashMap extends java.util.HashMap<String, Object> {
        private static final long serialVersionUID = 1L;
    }

    static final class Cart extends ArrayList<Object> {
        private static final long serialVersionUID = 1L;
    }

    @Test
    @SuppressWarnings("unchecked")
    void aMapOrListOfItsOwnClassIsRefusedByName() throws Exception {
        SessionState state = session(Map.of());
        FlashMap flash = new FlashMap();
        flash.put("msg", "Saved");
        for (Object v : new Object[] {flash, List.of(flash), new Cart(), Map.of("cart", new Cart())}) {
            IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                    () -> state.current.setAttribute("k", v));
            assertTrue(e.getMessage().contains("\"k\"") && e.getMessage().contains("ResponseTest$"), e.getMessage());
        }
        // Put inside a map the session holds, found when the headers are written.
        SessionState nested = session((Map<String, Object>) Json.parse("{\"m\":{\"x\":{\"a\":1}}}"));
        flash.put("a", 1);
        ((Map<String, Object>) nested.current.getAttribute("m")).put("x", flash);
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, nested::seal);
        assertTrue(e.getMessage().contains("\"m\"") && e.getMessage().contains("FlashMap"), e.getMessage());
        // Plain ones are JSON, whichever java.util class holds them.
        for (Object v : new Object[] {new java.util.HashMap<>(Map.of("a", 1)), new java.util.TreeMap<>(Map.of("a", 1)),
                java.util.Collections.unmodifiableMap(Map.of("a", 1)), new java.util.LinkedList<>(List.of(1)),
                java.util.Arrays.asList(1, 2), new java.util.concurrent.CopyOnWriteArrayList<>(List.of(1)), List.of(), Map.of()}) {
            state.current.setAttribute("k", v);
        }
    }
}
