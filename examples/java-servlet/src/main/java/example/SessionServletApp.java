package example;

import io.github.sessionproxy.servlet.ProxySession;
import io.github.sessionproxy.servlet.SessionProxyFilter;
import jakarta.servlet.DispatcherType;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import jakarta.servlet.http.HttpSession;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.eclipse.jetty.ee10.servlet.FilterHolder;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;

/**
 * koa-session's "full application example" as a plain Jakarta Servlet app
 * behind sessionproxy: the servlet uses its container's own HttpSession,
 * which sdk/java's SessionProxyFilter backs with the proxy's session, so
 * the app never touches a cookie or a token.
 *
 * <pre>
 * UPSTREAM_SECRET=... java -cp 'target/classes:target/lib/*' example.SessionServletApp --port 8080
 * </pre>
 *
 * /set, /get, /destroy and /renew are koa-session's example; /login renews
 * after a login (request.changeSessionId(), as Spring Security does);
 * /count, /cart/add and /put change one key each (/put?ms= waits first, so
 * that two requests of one session can overlap); /whoami shows what the
 * proxy sent; /remember?days= sets the session's max age. /signin?id= logs
 * user ID in, /logout-others ends that user's other sessions and
 * /logout-all all of them: these need the proxy's session.userKey set to
 * user.id.
 *
 * UPSTREAM_HEADER is the proxy's token.header when it is not X-Session;
 * UPSTREAM_OLD_SECRET the token.secret before a rotation; UPSTREAM_AUDIENCE
 * this app's audience, when the proxy gives it one.
 */
public final class SessionServletApp extends HttpServlet {
    private static final long serialVersionUID = 1L;

    @Override
    protected void doGet(HttpServletRequest req, HttpServletResponse res) throws IOException {
        switch (req.getRequestURI()) {
            case "/set" -> {
                req.getSession().setAttribute("user", Map.of("name", "john doe", "age", 30));
                text(res, "session set");
            }
            case "/get" -> {
                Object user = req.getSession().getAttribute("user");
                if (user == null) {
                    res.setStatus(HttpServletResponse.SC_NO_CONTENT); // no session: empty, as koa answers an unset body
                } else {
                    json(res, user);
                }
            }
            case "/destroy" -> {
                req.getSession().invalidate();
                text(res, "session destroyed");
            }
            case "/renew" -> {
                req.changeSessionId();
                text(res, "session renewed");
            }
            case "/login" -> {
                req.getSession().setAttribute("user", Map.of("name", req.getParameter("name"), "age", 30));
                req.changeSessionId(); // a new id after a login, against session fixation
                text(res, "logged in");
            }
            case "/signin" -> {
                req.getSession().setAttribute("user", Map.of("id", req.getParameter("id")));
                req.changeSessionId();
                text(res, "signed in");
            }
            case "/logout-others" -> {
                ProxySession.of(req).destroyOthers(); // "log out my other devices": this session stays
                text(res, "other devices logged out");
            }
            case "/logout-all" -> {
                ProxySession.of(req).destroyAll(); // "log out everywhere", this device too
                text(res, "logged out everywhere");
            }
            case "/count" -> {
                HttpSession s = req.getSession();
                int views = s.getAttribute("views") instanceof Number n ? n.intValue() + 1 : 1;
                s.setAttribute("views", views);
                json(res, Map.of("views", views));
            }
            case "/cart/add" -> {
                HttpSession s = req.getSession();
                @SuppressWarnings("unchecked")
                List<Object> cart = (List<Object>) s.getAttribute("cart");
                if (cart == null) {
                    cart = new ArrayList<>();
                    s.setAttribute("cart", cart);
                }
                cart.add(req.getParameter("item")); // a nested change is sent too
                json(res, Map.of("cart", cart));
            }
            case "/put" -> {
                String ms = req.getParameter("ms");
                if (ms != null) {
                    try {
                        Thread.sleep(Long.parseLong(ms));
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
                req.getSession().setAttribute(req.getParameter("key"), req.getParameter("value"));
                text(res, "session changed");
            }
            case "/remember" -> {
                req.getSession().setMaxInactiveInterval(Integer.parseInt(req.getParameter("days")) * 86400);
                text(res, "remembered");
            }
            case "/whoami" -> {
                HttpSession s = req.getSession();
                Map<String, Object> session = new LinkedHashMap<>();
                for (String k : Collections.list(s.getAttributeNames())) {
                    session.put(k, s.getAttribute(k));
                }
                Map<String, Object> who = new LinkedHashMap<>();
                who.put("sid", s.getId().isEmpty() ? null : s.getId());
                who.put("new", s.isNew());
                who.put("session", session);
                json(res, who);
            }
            default -> res.sendError(HttpServletResponse.SC_NOT_FOUND);
        }
    }

    private static void text(HttpServletResponse res, String body) throws IOException {
        res.setContentType("text/plain; charset=utf-8");
        res.getWriter().print(body);
    }

    private static void json(HttpServletResponse res, Object body) throws IOException {
        res.setContentType("application/json");
        res.getWriter().print(new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsString(body));
    }

    public static void main(String[] args) throws Exception {
        String host = "127.0.0.1";
        int port = 8080;
        for (int i = 0; i + 1 < args.length; i += 2) {
            switch (args[i]) {
                case "--host" -> host = args[i + 1];
                case "--port" -> port = Integer.parseInt(args[i + 1]);
                default -> throw new IllegalArgumentException("unknown flag " + args[i]);
            }
        }
        SessionProxyFilter filter;
        try {
            String header = System.getenv("UPSTREAM_HEADER");
            String old = System.getenv("UPSTREAM_OLD_SECRET");
            filter = SessionProxyFilter.builder()
                    .secret(System.getenv("UPSTREAM_SECRET")) // unset or empty: refused here
                    .oldSecrets(old == null || old.isEmpty() ? List.of() : List.of(old))
                    .audience(System.getenv("UPSTREAM_AUDIENCE"))
                    .header(header == null || header.isEmpty() ? "X-Session" : header)
                    .build();
        } catch (IllegalArgumentException e) {
            System.err.println("UPSTREAM_SECRET is required: " + e.getMessage());
            System.exit(1);
            return;
        }

        Server server = new Server();
        ServerConnector connector = new ServerConnector(server);
        connector.setHost(host);
        connector.setPort(port);
        server.addConnector(connector);
        ServletContextHandler ctx = new ServletContextHandler();
        ctx.setContextPath("/");
        FilterHolder sessions = new FilterHolder(filter);
        sessions.setAsyncSupported(true);
        ctx.addFilter(sessions, "/*", EnumSet.of(DispatcherType.REQUEST, DispatcherType.FORWARD, DispatcherType.ASYNC, DispatcherType.ERROR));
        ctx.addServlet(new ServletHolder(new SessionServletApp()), "/*");
        server.setHandler(ctx);
        server.setStopAtShutdown(true);
        server.start();
        System.out.println("listening on " + host + ":" + connector.getLocalPort());
        server.join();
    }
}
