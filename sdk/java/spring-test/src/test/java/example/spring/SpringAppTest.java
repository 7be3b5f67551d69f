package example.spring;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sessionproxy.servlet.SessionProxyTesting;
import io.github.sessionproxy.servlet.SessionProxyTesting.Directives;
import io.github.sessionproxy.servlet.SessionProxyTesting.SessionJar;
import java.net.CookieManager;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;

/**
 * sdk/java in Spring Boot over real HTTP: Spring Security's form login
 * keeps the user in the proxy's session as JSON, renews the session id
 * through request.changeSessionId() (its session-fixation protection),
 * and logout destroys the session; the CSRF token is a cookie's, and a
 * form without it is refused.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = "server.address=127.0.0.1")
class SpringAppTest {
    @LocalServerPort
    int port;

    // The browser's cookies other than the proxy's: XSRF-TOKEN, REDIRECT_URI.
    final HttpClient client = HttpClient.newBuilder().cookieHandler(new CookieManager()).build();

    /** The CSRF token of the login page's form, as a browser would post it. */
    String csrf(SessionJar jar) throws Exception {
        Matcher m = Pattern.compile("name=\"_csrf\" type=\"hidden\" value=\"([^\"]+)\"").matcher(send(jar, "GET", "/login", null).body());
        assertTrue(m.find(), "the login form has a CSRF token");
        return m.group(1);
    }

    HttpResponse<String> send(SessionJar jar, String method, String path, String form) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).header("X-Session", jar.token());
        if (form != null) {
            b.header("Content-Type", "application/x-www-form-urlencoded").method(method, HttpRequest.BodyPublishers.ofString(form));
        } else {
            b.method(method, HttpRequest.BodyPublishers.noBody());
        }
        HttpResponse<String> r = client.send(b.build(), HttpResponse.BodyHandlers.ofString());
        jar.apply(r.headers().map());
        return r;
    }

    @Test
    void formLoginKeepsTheUserInTheProxysSession() throws Exception {
        SessionJar jar = new SessionJar(SpringApp.SECRET);
        assertEquals(302, send(jar, "GET", "/me", null).statusCode(), "not logged in: to the login page");

        send(jar, "GET", "/cart/add?item=book", null);
        String visitor = jar.sid();
        send(jar, "POST", "/login", "username=ann&password=pw"); // no CSRF token: 403, whose error page sends to /login
        assertEquals(null, jar.data().get("auth"), "no CSRF token, no login");
        HttpResponse<String> login = send(jar, "POST", "/login", "username=ann&password=pw&_csrf=" + csrf(jar));
        assertEquals(302, login.statusCode());
        assertNotEquals(visitor, jar.sid(), "a new session id after the login");
        Map<?, ?> auth = (Map<?, ?>) jar.data().get("auth");
        assertEquals("ann", auth.get("name"), "the user, as JSON in the proxy's session");
        assertTrue(((List<?>) auth.get("roles")).contains("ROLE_USER"), auth.toString());
        assertEquals(List.of("book"), jar.data().get("cart"), "the visitor's data is kept");

        HttpResponse<String> me = send(jar, "GET", "/me", null);
        assertEquals(200, me.statusCode());
        assertEquals("ann", me.body());

        assertEquals(403, send(jar, "POST", "/logout", "").statusCode(), "no CSRF token");
        assertEquals(200, send(jar, "GET", "/me", null).statusCode(), "still logged in");
        Directives logout = SessionProxyTesting.readDirectives(send(jar, "POST", "/logout", "_csrf=" + csrf(jar)).headers().map());
        assertTrue(logout.destroy(), "logout destroys the session");
        assertEquals(302, send(jar, "GET", "/me", null).statusCode());
    }

    /** A wrong password goes back to the login form; Spring Security's exception is not put in the session, where it would throw. */
    @Test
    void aWrongPasswordShowsTheLoginFormAgain() throws Exception {
        SessionJar jar = new SessionJar(SpringApp.SECRET);
        send(jar, "GET", "/cart/add?item=book", null); // a session with data, as a visitor's
        HttpResponse<String> r = send(jar, "POST", "/login", "username=ann&password=wrong&_csrf=" + csrf(jar));
        assertEquals(302, r.statusCode(), r.body());
        assertTrue(r.headers().firstValue("Location").orElse("").endsWith("/login?error"), r.headers().map().toString());
        assertTrue(send(jar, "GET", "/login?error", null).body().contains("Invalid credentials"));
        assertEquals(Map.of("cart", List.of("book")), jar.data());
    }

    /**
     * Spring Security checks the error page's dispatch as well: with the
     * filter registered for it, the user is still logged in there and
     * sees the error, not the login page.
     */
    @Test
    void aLoggedInUserSeesTheErrorPage() throws Exception {
        SessionJar jar = new SessionJar(SpringApp.SECRET);
        assertEquals(302, send(jar, "POST", "/login", "username=ann&password=pw&_csrf=" + csrf(jar)).statusCode());
        HttpResponse<String> r = send(jar, "GET", "/boom", null);
        assertEquals(500, r.statusCode(), r.headers().map().toString());
        assertTrue(r.body().contains("Internal Server Error"), r.body());
        assertEquals(200, send(jar, "GET", "/me", null).statusCode(), "still logged in");
    }

    /** Tomcat ends a forwarded response around the filter: the change made before the forward still arrives. */
    @Test
    void aForwardKeepsTheChangeMadeBeforeIt() throws Exception {
        SessionJar jar = new SessionJar(SpringApp.SECRET);
        HttpResponse<String> r = send(jar, "GET", "/cart/forward", null);
        assertEquals(200, r.statusCode());
        assertEquals("forwarded true", r.body());
        assertEquals(true, jar.data().get("forwarded"));
    }

    /** A plain servlet's forward with its servlet context's dispatcher, which the filter sees only as a FORWARD dispatch. */
    @Test
    void aForwardWithTheServletContextsDispatcher() throws Exception {
        SessionJar jar = new SessionJar(SpringApp.SECRET);
        HttpResponse<String> r = send(jar, "GET", "/cart/plain", null);
        assertEquals(200, r.statusCode(), r.headers().map().toString());
        assertEquals("forwarded by the servlet context", r.body());
        assertEquals("by the servlet context", jar.data().get("forwarded"));
    }

    /** A Content-Length set once the body is written completes the response on Tomcat: the change made before it arrives. */
    @Test
    void aContentLengthSetAfterTheBody() throws Exception {
        SessionJar jar = new SessionJar(SpringApp.SECRET);
        HttpResponse<String> r = send(jar, "GET", "/cart/length", null);
        assertEquals(200, r.statusCode(), r.body());
        assertEquals("written, then measured", r.body());
        assertEquals(true, jar.data().get("length"));
    }

    /** Spring stores @SessionAttributes again after a @ResponseBody is written: unchanged, that is no error, after a commit too. */
    @Test
    void sessionAttributesWithALargeBody() throws Exception {
        SessionJar jar = new SessionJar(SpringApp.SECRET);
        for (String step : new String[] {"one&rows=1", "two&rows=3000"}) { // the first store must precede the commit
            HttpResponse<String> r = send(jar, "GET", "/cart/wizard?step=" + step, null);
            assertEquals(200, r.statusCode());
            assertTrue(r.body().endsWith("}]"), () -> "the body ends as written: " + r.body().substring(Math.max(0, r.body().length() - 200)));
        }
        assertEquals(Map.of("one", true, "two", true), jar.data().get("wizard"));
    }

    @Test
    void withoutAToken401() throws Exception {
        HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/me")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(401, r.statusCode());
    }
}
