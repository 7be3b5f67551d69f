package io.github.sessionproxy.servlet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sessionproxy.servlet.SessionProxyTesting.Directives;
import io.github.sessionproxy.servlet.SessionProxyTesting.SessionJar;
import jakarta.servlet.DispatcherType;
import jakarta.servlet.Filter;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import jakarta.servlet.http.HttpSession;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.ee10.servlet.ErrorPageErrorHandler;
import org.eclipse.jetty.ee10.servlet.FilterHolder;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * SessionProxyFilter in a real servlet container (embedded Jetty 12, ee10)
 * over real HTTP on 127.0.0.1: what a proxy in front of the app would
 * receive, including when the response commits early.
 */
class FilterTest {
    static final String SECRET = "filter-test-secret-0123456789abcdef";

    interface Route {
        void serve(HttpServletRequest req, HttpServletResponse res) throws Exception;
    }

    /** A container with SessionProxyFilter in front of routes; errors that escape the filter are kept. */
    static final class App implements AutoCloseable {
        final Map<String, Route> routes = new ConcurrentHashMap<>();
        final LinkedBlockingQueue<Throwable> escaped = new LinkedBlockingQueue<>();
        final java.util.concurrent.Semaphore returned = new java.util.concurrent.Semaphore(0); // a request's filters returned
        final Server server = new Server();
        final ServerConnector connector = new ServerConnector(server);

        App(SessionProxyFilter filter) throws Exception {
            this(filter, EnumSet.of(DispatcherType.REQUEST));
        }

        /** The filter mapped for these dispatches; errors (status 500) get the error page at /error. */
        App(SessionProxyFilter filter, EnumSet<DispatcherType> dispatches) throws Exception {
            connector.setHost("127.0.0.1");
            connector.setPort(0);
            server.addConnector(connector);
            ServletContextHandler ctx = new ServletContextHandler();
            ctx.setContextPath("/");
            Filter catcher = (req, res, chain) -> {
                try {
                    chain.doFilter(req, res);
                    returned.release();
                } catch (IOException | RuntimeException | jakarta.servlet.ServletException e) {
                    escaped.add(e);
                    throw e;
                }
            };
            FilterHolder catching = new FilterHolder(catcher);
            FilterHolder sessions = new FilterHolder(filter);
            catching.setAsyncSupported(true);
            sessions.setAsyncSupported(true);
            ctx.addFilter(catching, "/*", EnumSet.of(DispatcherType.REQUEST));
            ctx.addFilter(sessions, "/*", dispatches);
            ErrorPageErrorHandler errors = new ErrorPageErrorHandler();
            errors.addErrorPage(500, "/error");
            ctx.setErrorHandler(errors);
            ServletHolder servlet = new ServletHolder(new HttpServlet() {
                private static final long serialVersionUID = 1L;

                @Override
                protected void service(HttpServletRequest req, HttpServletResponse res) throws IOException {
                    Route r = routes.get(req.getRequestURI());
                    if (r == null) {
                        res.sendError(404);
                        return;
                    }
                    try {
                        r.serve(req, res);
                    } catch (IOException | RuntimeException e) {
                        throw e;
                    } catch (Exception e) {
                        throw new IOException(e);
                    }
                }
            });
            servlet.setAsyncSupported(true);
            ctx.addServlet(servlet, "/*");
            server.setHandler(ctx);
            server.start();
        }

        String url(String path) {
            return "http://127.0.0.1:" + connector.getLocalPort() + path;
        }

        @Override
        public void close() throws Exception {
            server.stop();
        }
    }

    static App app;
    static final HttpClient CLIENT = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @BeforeAll
    static void start() throws Exception {
        app = new App(SessionProxyFilter.builder().secret(SECRET).build());
    }

    @AfterAll
    static void stop() throws Exception {
        app.close();
    }

    static HttpResponse<String> get(String url, String token) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10));
        if (token != null) {
            b.header("X-Session", token);
        }
        return CLIENT.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    static HttpResponse<String> get(String path, Map<String, ?> sess) throws Exception {
        return get(app.url(path), SessionProxyTesting.token(SECRET).session(sess).sid("sid-1").mint());
    }

    static Directives directives(HttpResponse<?> res) {
        return SessionProxyTesting.readDirectives(res.headers().map());
    }

    static String header(HttpResponse<?> res, String name) {
        return res.headers().firstValue(name).orElse(null);
    }

    @Test
    void koaSessionsSeedRoutes() throws Exception {
        app.routes.put("/set", (req, res) -> {
            req.getSession().setAttribute("user", Map.of("name", "john doe", "age", 30));
            res.getWriter().print("session set");
        });
        app.routes.put("/get", (req, res) -> {
            Object user = req.getSession().getAttribute("user");
            if (user == null) {
                res.setStatus(204);
                return;
            }
            res.setContentType("application/json");
            res.getWriter().print(Json.write(user));
        });
        app.routes.put("/destroy", (req, res) -> req.getSession().invalidate());
        app.routes.put("/renew", (req, res) -> req.changeSessionId());

        SessionJar jar = new SessionJar(SECRET);
        HttpResponse<String> r = get(app.url("/set"), jar.token());
        assertEquals("session set", r.body());
        jar.apply(r.headers().map());
        assertEquals(Map.of("user", Map.of("name", "john doe", "age", 30)), jar.data());
        assertFalse(jar.isNew());

        r = get(app.url("/get"), jar.token());
        assertEquals(200, r.statusCode());
        assertEquals(Map.of("name", "john doe", "age", 30), Json.parse(r.body()));
        assertEquals(new Directives(List.of(), false, false, false, null), jar.apply(r.headers().map()), "a read sends nothing");
        assertEquals("Cookie", header(r, "Vary"), "a page that read the session varies on the cookie");

        String sid = jar.sid();
        jar.apply(get(app.url("/renew"), jar.token()).headers().map());
        assertTrue(!jar.sid().equals(sid) && jar.data().containsKey("user"), "renew: a new id, the same data");

        jar.apply(get(app.url("/destroy"), jar.token()).headers().map());
        assertEquals(Map.of(), jar.data());
        assertEquals(204, get(app.url("/get"), jar.token()).statusCode());
    }

    @Test
    void withoutAValidToken401() throws Exception {
        app.routes.put("/any", (req, res) -> res.getWriter().print("served"));
        for (String token : new String[] {null, "", "a.b.c", SessionProxyTesting.token("another-secret").mint(),
                SessionProxyTesting.token(SECRET).ttl(Duration.ofMinutes(-1)).mint()}) {
            HttpResponse<String> r = get(app.url("/any"), token);
            assertEquals(401, r.statusCode(), String.valueOf(token));
            assertEquals("401 Unauthorized: no valid session token\n", r.body());
        }
        assertEquals("served", get("/any", Map.of()).body());
    }

    /**
     * A token secret's rotation (docs/rotate-keys.md): the old secret still
     * verifies through oldSecrets, given to the builder or as the init-param,
     * and a secret in neither is refused as before.
     */
    @Test
    void oldSecretsVerifyDuringARotation() throws Exception {
        String old = "the-old-secret-0123456789abcdef";
        Verifier v = Verifier.builder().secret(SECRET).oldSecrets(List.of("unrelated-0123456789", old)).build();
        assertEquals("s1", v.verify(SessionProxyTesting.token(old).sid("s1").mint()).get("sid"));
        assertEquals("s2", v.verify(SessionProxyTesting.token(SECRET).sid("s2").mint()).get("sid"));
        InvalidTokenException e = org.junit.jupiter.api.Assertions.assertThrows(InvalidTokenException.class,
                () -> v.verify(SessionProxyTesting.token("another-secret").mint()));
        assertEquals("signature", e.reason());

        SessionProxyFilter fromInitParams = new SessionProxyFilter();
        fromInitParams.init(InitParamsTest.config(Map.of("secret", SECRET, "oldSecrets", "unrelated-0123456789, " + old)));
        try (App rotating = new App(fromInitParams)) {
            rotating.routes.put("/any", (req, res) -> res.getWriter().print("served"));
            assertEquals("served", get(rotating.url("/any"), SessionProxyTesting.token(old).mint()).body());
            assertEquals("served", get(rotating.url("/any"), SessionProxyTesting.token(SECRET).mint()).body());
            assertEquals(401, get(rotating.url("/any"), SessionProxyTesting.token("another-secret").mint()).statusCode());
        }
    }

    /**
     * The client is not told why a token was refused; the log is, at INFO,
     * as the Go, Python and Ruby libraries log it: a secret or audience
     * that differs from the proxy's (or a test minting with the wrong
     * one) shows there rather than as a silent wall of 401s.
     */
    @Test
    void aRefusalIsLoggedWithItsReason() throws Exception {
        app.routes.put("/any", (req, res) -> res.getWriter().print("served"));
        java.util.logging.Logger log = java.util.logging.Logger.getLogger(SessionProxyFilter.class.getName());
        List<java.util.logging.LogRecord> records = new java.util.concurrent.CopyOnWriteArrayList<>();
        java.util.logging.Handler handler = new java.util.logging.Handler() {
            @Override
            public void publish(java.util.logging.LogRecord r) {
                records.add(r);
            }

            @Override
            public void flush() {}

            @Override
            public void close() {}
        };
        log.addHandler(handler);
        try {
            assertEquals(401, get(app.url("/any?q=1"), SessionProxyTesting.token("another-secret").mint()).statusCode());
        } finally {
            log.removeHandler(handler);
        }
        assertEquals(1, records.size(), records.toString());
        assertEquals(java.util.logging.Level.INFO, records.get(0).getLevel());
        assertTrue(records.get(0).getMessage().startsWith("sessionproxy: GET /any refused with 401: signature"), records.get(0).getMessage());
    }

    @Test
    void aSessionTheAppNeverReadSendsNothing() throws Exception {
        app.routes.put("/plain", (req, res) -> res.getWriter().print("plain"));
        HttpResponse<String> r = get("/plain", Map.of("a", 1));
        assertEquals(new Directives(List.of(), false, false, false, null), directives(r));
        assertNull(header(r, "Vary"));
    }

    @Test
    void theHttpSessionApi() throws Exception {
        app.routes.put("/api", (req, res) -> {
            HttpSession s = req.getSession();
            Map<String, Object> seen = new LinkedHashMap<>();
            seen.put("id", s.getId());
            seen.put("new", s.isNew());
            seen.put("requested", req.getRequestedSessionId());
            seen.put("valid", req.isRequestedSessionIdValid());
            seen.put("names", java.util.Collections.list(s.getAttributeNames()).stream().sorted().toList());
            s.setAttribute("n", 1);
            s.setAttribute("gone", null); // null removes, per the servlet spec
            s.removeAttribute("b");
            s.setAttribute("_flash", "hi"); // stored as java:_flash: the proxy reserves "_" keys
            res.getWriter().print(Json.write(seen));
        });
        HttpResponse<String> r = get("/api", Map.of("b", true, "gone", "x"));
        assertEquals(Map.of("id", "sid-1", "new", false, "requested", "sid-1", "valid", true, "names", List.of("b", "gone")),
                Json.parse(r.body()));
        Map<String, Object> want = new LinkedHashMap<>();
        want.put("b", null);
        want.put("gone", null);
        want.put("n", 1);
        want.put("java:_flash", "hi");
        assertEquals(want, directives(r).set().get(0));

        app.routes.put("/underscore", (req, res) -> res.getWriter().print(req.getSession().getAttribute("_flash")));
        assertEquals("hi", get("/underscore", Map.of("java:_flash", "hi")).body(), "read back under its own name");
    }

    @Test
    void aNewSessionExistsOnceAsked() throws Exception {
        app.routes.put("/new", (req, res) -> {
            boolean before = req.getSession(false) == null;
            HttpSession s = req.getSession();
            res.getWriter().print(before + " " + s.isNew() + " " + (req.getSession(false) == s) + " " + req.getRequestedSessionId());
        });
        assertEquals("true true true null", get("/new", Map.of()).body());

        // The koa cookie format has no ids: still a non-empty one, the same all request long.
        app.routes.put("/koa", (req, res) -> res.getWriter().print(req.getSession().getId().length() + " " + req.getSession().getId().equals(req.getSession().getId())));
        assertEquals("22 true", get(app.url("/koa"), SessionProxyTesting.token(SECRET).session(Map.of("a", 1)).sid(null).mint()).body());
    }

    @Test
    void invalidateThenSetStartsANewSession() throws Exception {
        app.routes.put("/relogin", (req, res) -> {
            HttpSession old = req.getSession();
            old.setMaxInactiveInterval(60); // goes with the old session
            old.invalidate();
            String refused;
            try {
                old.getAttribute("user");
                refused = "no";
            } catch (IllegalStateException e) {
                refused = "yes";
            }
            HttpSession fresh = req.getSession(false) == null ? req.getSession() : null;
            fresh.setAttribute("user", "ann");
            res.getWriter().print(refused + " " + fresh.isNew() + " " + req.isRequestedSessionIdValid());
        });
        HttpResponse<String> r = get("/relogin", Map.of("user", "bob", "cart", List.of(1)));
        assertEquals("yes true false", r.body());
        assertEquals(new Directives(List.of(Map.of("user", "ann")), true, false, false, null), directives(r));
        SessionJar jar = new SessionJar(SECRET, Map.of("user", "bob"));
        jar.apply(r.headers().map());
        assertEquals(Map.of("user", "ann"), jar.data());
    }

    /** The old object after invalidate(), as the README lists it: what throws, what still answers. */
    @Test
    void theOldSessionAfterInvalidate() throws Exception {
        app.routes.put("/old", (req, res) -> {
            HttpSession old = req.getSession();
            old.invalidate();
            Map<String, java.util.concurrent.Callable<Object>> calls = new LinkedHashMap<>();
            calls.put("getAttribute", () -> old.getAttribute("user"));
            calls.put("getAttributeNames", old::getAttributeNames);
            calls.put("setAttribute", () -> {
                old.setAttribute("user", "ann");
                return null;
            });
            calls.put("removeAttribute", () -> {
                old.removeAttribute("user");
                return null;
            });
            calls.put("isNew", old::isNew);
            calls.put("getCreationTime", old::getCreationTime);
            calls.put("getLastAccessedTime", old::getLastAccessedTime);
            calls.put("setMaxInactiveInterval", () -> {
                old.setMaxInactiveInterval(60);
                return null;
            });
            calls.put("invalidate", () -> {
                old.invalidate();
                return null;
            });
            calls.put("getId", old::getId);
            calls.put("getMaxInactiveInterval", old::getMaxInactiveInterval);
            StringBuilder out = new StringBuilder();
            for (Map.Entry<String, java.util.concurrent.Callable<Object>> c : calls.entrySet()) {
                try {
                    c.getValue().call();
                    out.append(c.getKey()).append(" answers\n");
                } catch (IllegalStateException e) {
                    out.append(c.getKey()).append(" throws\n");
                }
            }
            res.getWriter().print(out);
        });
        HttpResponse<String> r = get("/old", Map.of("user", "bob"));
        assertEquals("getAttribute throws\ngetAttributeNames throws\nsetAttribute throws\nremoveAttribute throws\n"
                + "isNew throws\ngetCreationTime throws\ngetLastAccessedTime throws\nsetMaxInactiveInterval throws\n"
                + "invalidate throws\ngetId answers\ngetMaxInactiveInterval answers\n", r.body());
        assertEquals(new Directives(List.of(), true, false, false, null), directives(r));
    }

    @Test
    void changeSessionIdRenews() throws Exception {
        app.routes.put("/login", (req, res) -> {
            req.getSession().setAttribute("user", "ann");
            String before = req.getSession().getId();
            String id = req.changeSessionId();
            // Spring Security's session-fixation event needs both ids, non-empty and different.
            res.getWriter().print(before + " " + !id.isEmpty() + " " + !id.equals(before) + " " + id.equals(req.getSession().getId()));
        });
        HttpResponse<String> r = get("/login", Map.of("cart", 1));
        assertEquals("sid-1 true true true", r.body(), "a provisional id until the proxy gives the new one");
        assertEquals(new Directives(List.of(Map.of("user", "ann")), false, false, true, null), directives(r));
    }

    @Test
    void maxInactiveIntervalIsTheMaxAge() throws Exception {
        app.routes.put("/remember", (req, res) -> req.getSession().setMaxInactiveInterval(Integer.parseInt(req.getParameter("s"))));
        app.routes.put("/browser", (req, res) -> ProxySession.of(req).setMaxAgeSession());
        assertEquals(3_600_000L, directives(get("/remember?s=3600", Map.of("a", 1))).maxAge());
        assertEquals(3_153_600_000_000L, directives(get("/remember?s=0", Map.of("a", 1))).maxAge(), "0: never times out, as far as the proxy goes");
        assertEquals(3_153_600_000_000L, directives(get("/remember?s=-1", Map.of("a", 1))).maxAge());
        assertEquals("session", directives(get("/browser", Map.of("a", 1))).maxAge());
    }

    @Test
    void destroyOthersAndAll() throws Exception {
        app.routes.put("/others", (req, res) -> ProxySession.of(req).destroyOthers());
        app.routes.put("/all", (req, res) -> ProxySession.of(req).destroyAll());
        assertEquals(new Directives(List.of(), false, true, false, null), directives(get("/others", Map.of("u", 1))));
        assertEquals(new Directives(List.of(), true, true, false, null), directives(get("/all", Map.of("u", 1))));
    }

    @Test
    void theAppsOwnSessionHeadersAreDropped() throws Exception {
        app.routes.put("/byhand", (req, res) -> {
            res.setHeader("X-Session-Renew", "true");
            res.addHeader("x-session-destroy", "true");
            res.setIntHeader("X_Session_Max_Age", 5);
            res.addHeader("X-Sessions", "kept");
        });
        HttpResponse<String> r = get("/byhand", Map.of("a", 1));
        assertEquals(new Directives(List.of(), false, false, false, null), directives(r));
        assertEquals("kept", header(r, "X-Sessions"));
    }

    /**
     * Another X-Session- name (a typo of a directive) is left as the app
     * wrote it, as every other library leaves it: the proxy refuses it with
     * 502, which shows the mistake instead of hiding it.
     */
    @Test
    void anotherSessionHeaderIsLeftForTheProxyToRefuse() throws Exception {
        app.routes.put("/typo", (req, res) -> res.setHeader("X-Session-Sett", "{\"a\":2}"));
        assertEquals("{\"a\":2}", header(get("/typo", Map.of("a", 1)), "X-Session-Sett"));
    }

    @Test
    void aValueThatIsNotJsonIsRefusedByName() throws Exception {
        app.routes.put("/pojo", (req, res) -> {
            try {
                req.getSession().setAttribute("when", new java.util.Date());
            } catch (IllegalArgumentException e) {
                res.getWriter().print(e.getMessage());
            }
        });
        String msg = get("/pojo", Map.of()).body();
        assertTrue(msg.contains("\"when\"") && msg.contains("java.util.Date"), msg);
    }

    /**
     * What Spring Security stores with its defaults, the first thing a
     * Spring Boot app with the filter meets: the app cannot convert those
     * objects, so the message says to configure Spring instead.
     */
    @Test
    void springsOwnObjectsAreRefusedWithTheWayRound() {
        for (String key : new String[] {"SPRING_SECURITY_SAVED_REQUEST",
                "org.springframework.security.web.csrf.HttpSessionCsrfTokenRepository.CSRF_TOKEN"}) {
            IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                    () -> Json.check(key, new Object()));
            assertTrue(e.getMessage().contains("Spring keeps this object in the session itself")
                    && e.getMessage().contains("CookieCsrfTokenRepository"), e.getMessage());
            assertFalse(e.getMessage().contains("convertValue"), e.getMessage());
        }
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> Json.check("when", new java.util.Date()));
        assertTrue(e.getMessage().contains("convertValue") && !e.getMessage().contains("Spring"), e.getMessage());
    }

    @Test
    void aChangeAfterAFlushThrowsAndTheEarlierOneArrives() throws Exception {
        app.routes.put("/stream", (req, res) -> {
            HttpSession s = req.getSession();
            s.setAttribute("a", 1);
            PrintWriter w = res.getWriter();
            w.print("first ");
            w.flush(); // commits
            try {
                s.setAttribute("b", 2);
                w.print("lost");
            } catch (IllegalStateException e) {
                w.print("refused");
            }
        });
        HttpResponse<String> r = get("/stream", Map.of());
        assertEquals("first refused", r.body());
        assertEquals(List.of(Map.of("a", 1)), directives(r).set());
    }

    @Test
    void everyCommitPointWritesTheDirectivesFirst() throws Exception {
        Map<String, Route> commits = new LinkedHashMap<>();
        commits.put("flushBuffer", (req, res) -> res.flushBuffer());
        commits.put("outputStream flush", (req, res) -> res.getOutputStream().flush());
        commits.put("writer close", (req, res) -> res.getWriter().close());
        commits.put("content length reached", (req, res) -> {
            res.setContentLength(2);
            res.getOutputStream().write("ok".getBytes());
        });
        commits.put("content length header reached", (req, res) -> {
            res.setHeader("Content-Length", "2");
            res.getWriter().print("ok");
        });
        commits.put("content length set after the body", (req, res) -> {
            res.getOutputStream().write("ok".getBytes());
            res.setContentLength(2);
        });
        commits.put("content length header set after the body", (req, res) -> {
            res.getWriter().print("ok");
            res.setIntHeader("Content-Length", 2);
        });
        commits.put("one write of a third of the buffer", (req, res) -> res.getOutputStream().write(new byte[res.getBufferSize() / 3]));
        commits.put("one write larger than the buffer", (req, res) -> res.getOutputStream().write(new byte[100_000]));
        commits.put("many small writes", (req, res) -> {
            OutputStream out = res.getOutputStream();
            for (int i = 0; i < 100; i++) {
                out.write(new byte[1000]);
            }
        });
        commits.put("many small characters", (req, res) -> {
            PrintWriter w = res.getWriter();
            for (int i = 0; i < 20_000; i++) {
                w.print("é€"); // 5 bytes in UTF-8
            }
        });
        commits.put("sendError", (req, res) -> res.sendError(403));
        commits.put("sendRedirect", (req, res) -> res.sendRedirect("/elsewhere"));
        for (Map.Entry<String, Route> c : commits.entrySet()) {
            String path = "/commit/" + c.getKey().replace(' ', '-');
            app.routes.put(path, (req, res) -> {
                res.setCharacterEncoding("UTF-8");
                req.getSession().setAttribute("a", 1);
                c.getValue().serve(req, res);
                req.getSession().removeAttribute("absent"); // no change: allowed after the commit too
                req.getSession().setAttribute("a", 1); // nor is setting the value it holds
                try {
                    req.getSession().setAttribute("b", 2);
                    res.setHeader("X-Late", "accepted"); // visible only if nothing committed
                } catch (IllegalStateException e) {
                    res.setHeader("X-Late", "refused");
                }
            });
            HttpResponse<String> r = get(path, Map.of());
            assertEquals(List.of(Map.of("a", 1)), directives(r).set(), c.getKey());
            // Jetty keeps a header set after sendError (its error page comes later): refused either way.
            assertNotEquals("accepted", header(r, "X-Late"), c.getKey() + ": a change after the commit point");
            assertNull(app.escaped.poll(), c.getKey());
        }
        // A small body that never filled the buffer: the late change arrives.
        app.routes.put("/commit/none", (req, res) -> {
            req.getSession().setAttribute("a", 1);
            res.getWriter().print("small");
            req.getSession().setAttribute("b", 2);
        });
        assertEquals(List.of(Map.of("a", 1, "b", 2)), directives(get("/commit/none", Map.of())).set());
    }

    @Test
    void anAsyncRequestChangesTheSessionBeforeStartAsync() throws Exception {
        app.routes.put("/async", (req, res) -> {
            HttpSession s = req.getSession();
            s.setAttribute("a", 1);
            jakarta.servlet.AsyncContext async = req.startAsync();
            app.returned.drainPermits();
            async.start(() -> {
                try {
                    app.returned.tryAcquire(5, TimeUnit.SECONDS); // the filter returned, the servlet's thread is gone
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                String late;
                try {
                    s.setAttribute("b", 2);
                    late = "accepted";
                } catch (IllegalStateException e) {
                    late = "refused";
                }
                try {
                    async.getResponse().getWriter().print(late);
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
                async.complete();
            });
        });
        HttpResponse<String> r = get("/async", Map.of());
        assertEquals("refused", r.body());
        assertEquals(List.of(Map.of("a", 1)), directives(r).set());
    }

    @Test
    void aNestedChangeAfterTheCommitIsNeverSilent() throws Exception {
        app.routes.put("/nested", (req, res) -> {
            @SuppressWarnings("unchecked")
            Map<String, Object> user = (Map<String, Object>) req.getSession().getAttribute("user");
            res.getWriter().print("x");
            res.flushBuffer();
            user.put("age", 31); // after the headers went out
        });
        try {
            get("/nested", Map.of("user", Map.of("age", 30)));
        } catch (IOException e) {
            // the container may cut the response the filter failed
        }
        Throwable e = app.escaped.poll(5, TimeUnit.SECONDS);
        assertInstanceOf(IllegalStateException.class, e);
        assertTrue(e.getMessage().contains("after the response was committed"), e.getMessage());
    }

    @Test
    void notRequiredLetsTheRequestThroughReadOnly() throws Exception {
        try (App open = new App(SessionProxyFilter.builder().secret(SECRET).required(r -> r.getRequestURI().startsWith("/public")).build())) {
            open.routes.put("/public", (req, res) -> res.getWriter().print("needs a token"));
            open.routes.put("/open", (req, res) -> {
                String what = String.valueOf(req.getSession(false)) + " " + ProxySession.of(req).isVerified() + " "
                        + ((InvalidTokenException) req.getAttribute(SessionProxyFilter.ERROR_ATTRIBUTE)).reason();
                try {
                    req.getSession().setAttribute("a", 1);
                } catch (IllegalStateException e) {
                    what += " read-only";
                }
                res.getWriter().print(what);
            });
            assertEquals("null false malformed read-only", get(open.url("/open"), (String) null).body());
            assertEquals(401, get(open.url("/public"), (String) null).statusCode());
        }
    }

    @Test
    void theHeaderOption() throws Exception {
        try (App other = new App(SessionProxyFilter.builder().secret(SECRET).header("X-App-Session").build())) {
            other.routes.put("/put", (req, res) -> req.getSession().setAttribute("k", "v"));
            HttpResponse<String> r = CLIENT.send(HttpRequest.newBuilder(URI.create(other.url("/put")))
                    .header("X-App-Session", SessionProxyTesting.mintToken(SECRET, Map.of())).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(List.of(Map.of("k", "v")), SessionProxyTesting.readDirectives(r.headers().map(), "X-App-Session").set());
            assertEquals(401, get(other.url("/put"), SessionProxyTesting.mintToken(SECRET, Map.of())).statusCode(), "X-Session is not read");
        }
    }

    /**
     * Registered for error dispatches too (as the README says, so that
     * Spring Security finds the user on the error page), the filter gives
     * the error page the session as the failed request left it, the
     * changes made before the exception included, and sends them once.
     */
    @Test
    void theErrorPageSeesTheSessionTheRequestLeft() throws Exception {
        try (App errors = new App(SessionProxyFilter.builder().secret(SECRET).build(),
                EnumSet.of(DispatcherType.REQUEST, DispatcherType.ERROR, DispatcherType.ASYNC))) {
            errors.routes.put("/fails", (req, res) -> {
                req.getSession().setAttribute("a", 1);
                throw new IllegalStateException("fails");
            });
            errors.routes.put("/error", (req, res) -> {
                HttpSession s = req.getSession(false);
                res.getWriter().print(s == null ? "no session" : s.getAttribute("user") + " " + s.getAttribute("a") + " " + s.getId());
            });
            HttpResponse<String> r = get(errors.url("/fails"), SessionProxyTesting.token(SECRET).session(Map.of("user", "ann")).sid("sid-1").mint());
            assertEquals(500, r.statusCode());
            assertEquals("ann 1 sid-1", r.body());
            assertEquals(List.of(Map.of("a", 1)), directives(r).set());
            assertEquals(List.of("Cookie"), r.headers().allValues("Vary"));
        }
    }

    /**
     * A forward (a JSP view, Spring's forward:) ends the response in the
     * container, around the filter: the directives are written before it,
     * and a change in the forward's target throws instead of being lost.
     */
    @Test
    void aForwardSendsTheChangesMadeBeforeIt() throws Exception {
        app.routes.put("/forwarding", (req, res) -> {
            req.getSession().setAttribute("a", 1);
            req.getRequestDispatcher("/forwarded").forward(req, res);
        });
        app.routes.put("/forwarded", (req, res) -> {
            String late;
            try {
                req.getSession().setAttribute("b", 2);
                late = "accepted";
            } catch (IllegalStateException e) {
                late = "refused";
            }
            res.getWriter().print("view " + req.getSession().getAttribute("a") + " " + late);
        });
        HttpResponse<String> r = get("/forwarding", Map.of());
        assertEquals(200, r.statusCode());
        assertEquals("view 1 refused", r.body());
        assertEquals(List.of(Map.of("a", 1)), directives(r).set());
        assertNull(app.escaped.poll(), "nothing thrown from the filter");
    }

    /**
     * Mapped for FORWARD dispatches, the filter writes the directives
     * before any forward, a servlet context dispatcher's too, which the
     * request does not see (Tomcat would end it around the filter).
     */
    @Test
    void aForwardWithTheServletContextsDispatcher() throws Exception {
        try (App forwards = new App(SessionProxyFilter.builder().secret(SECRET).build(),
                EnumSet.of(DispatcherType.REQUEST, DispatcherType.FORWARD, DispatcherType.ASYNC, DispatcherType.ERROR))) {
            forwards.routes.put("/forwarding", (req, res) -> {
                req.getSession().setAttribute("a", 1);
                req.getServletContext().getRequestDispatcher("/forwarded").forward(req, res);
            });
            forwards.routes.put("/forwarded", (req, res) -> {
                String late;
                try {
                    req.getSession().setAttribute("b", 2);
                    late = "accepted";
                } catch (IllegalStateException e) {
                    late = "refused";
                }
                res.getWriter().print("view " + req.getSession().getAttribute("a") + " " + late);
            });
            HttpResponse<String> r = get(forwards.url("/forwarding"), SessionProxyTesting.token(SECRET).session(Map.of()).sid("sid-1").mint());
            assertEquals(200, r.statusCode());
            assertEquals("view 1 refused", r.body());
            assertEquals(List.of(Map.of("a", 1)), directives(r).set());
            assertNull(forwards.escaped.poll(), "nothing thrown from the filter");
        }
    }

    /**
     * The async thread may run before the filter returns: a change made
     * there is refused all the same, not sent or refused by timing.
     */
    @Test
    void aChangeAfterStartAsyncIsRefusedWhateverTheTiming() throws Exception {
        app.routes.put("/async-early", (req, res) -> {
            HttpSession s = req.getSession();
            s.setAttribute("a", 1);
            jakarta.servlet.AsyncContext async = req.startAsync();
            java.util.concurrent.CountDownLatch tried = new java.util.concurrent.CountDownLatch(1);
            async.start(() -> {
                String late;
                try {
                    s.setAttribute("b", 2);
                    late = "accepted";
                } catch (IllegalStateException e) {
                    late = "refused";
                }
                tried.countDown();
                try {
                    async.getResponse().getWriter().print(late);
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
                async.complete();
            });
            tried.await(5, TimeUnit.SECONDS); // the async thread changed the session before the filter returned
        });
        HttpResponse<String> r = get("/async-early", Map.of());
        assertEquals("refused", r.body());
        assertEquals(List.of(Map.of("a", 1)), directives(r).set());
    }

    /**
     * A map changed in place, then put back with setAttribute (the servlet
     * idiom), after the headers were written: refused, as any change is.
     * Checked against what the headers carried, not against the map
     * itself, which is the one the session holds and so always "the same";
     * an async thread's change would otherwise be lost without a word,
     * since the filter returned before it.
     */
    @Test
    void aMapChangedInPlaceAndPutBackAfterStartAsyncIsRefused() throws Exception {
        app.routes.put("/async-put-back", (req, res) -> {
            HttpSession s = req.getSession();
            jakarta.servlet.AsyncContext async = req.startAsync();
            app.returned.drainPermits();
            async.start(() -> {
                try {
                    app.returned.tryAcquire(5, TimeUnit.SECONDS); // the filter returned
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                @SuppressWarnings("unchecked")
                Map<String, Object> cart = (Map<String, Object>) s.getAttribute("cart");
                cart.put("n", 2);
                String late;
                try {
                    s.setAttribute("cart", cart);
                    late = "accepted";
                } catch (IllegalStateException e) {
                    late = "refused";
                }
                try {
                    async.getResponse().getWriter().print(late);
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
                async.complete();
            });
        });
        HttpResponse<String> r = get("/async-put-back", Map.of("cart", Map.of("n", 1)));
        assertEquals("refused", r.body());
        assertEquals(List.of(), directives(r).set());
    }
}
