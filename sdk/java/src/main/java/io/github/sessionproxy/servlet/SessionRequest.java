package io.github.sessionproxy.servlet;

import jakarta.servlet.AsyncContext;
import jakarta.servlet.RequestDispatcher;
import jakarta.servlet.ServletException;
import jakarta.servlet.ServletRequest;
import jakarta.servlet.ServletResponse;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletRequestWrapper;
import jakarta.servlet.http.HttpSession;
import java.io.IOException;

/** The request as the app sees it: its session is the proxy's. */
final class SessionRequest extends HttpServletRequestWrapper {
    private final SessionState state;
    private final SessionResponse response;

    SessionRequest(HttpServletRequest request, SessionState state, SessionResponse response) {
        super(request);
        this.state = state;
        this.response = response;
    }

    /**
     * The container's dispatcher, whose forward writes the directives
     * first: a container may end a forwarded response around the filter's
     * wrappers (Tomcat does), leaving no moment to write them after it. A
     * change in the forward's target (a view) throws, as after a commit.
     */
    @Override
    public RequestDispatcher getRequestDispatcher(String path) {
        RequestDispatcher d = super.getRequestDispatcher(path);
        if (d == null) {
            return null;
        }
        return new RequestDispatcher() {
            @Override
            public void forward(ServletRequest req, ServletResponse res) throws ServletException, IOException {
                response.writeDirectives();
                d.forward(req, res);
            }

            @Override
            public void include(ServletRequest req, ServletResponse res) throws ServletException, IOException {
                d.include(req, res);
            }
        };
    }

    /**
     * Starts async processing and writes the directives: the async
     * thread may run before the filter returns, and its changes are
     * refused all the same rather than sent or lost by timing.
     */
    @Override
    public AsyncContext startAsync() {
        AsyncContext async = super.startAsync();
        response.writeDirectives();
        return async;
    }

    @Override
    public AsyncContext startAsync(ServletRequest req, ServletResponse res) {
        AsyncContext async = super.startAsync(req, res);
        response.writeDirectives();
        return async;
    }

    @Override
    public HttpSession getSession(boolean create) {
        ProxySession s = state.current;
        if (s == null && create) {
            s = new ProxySession(state, true); // after invalidate(): a new session
            state.current = s;
        }
        if (s == null) {
            return null;
        }
        if (!state.exists) {
            if (!create) {
                return null; // a new session exists once the app asks for one
            }
            state.exists = true;
        }
        s.context(getServletContext());
        return s;
    }

    @Override
    public HttpSession getSession() {
        return getSession(true);
    }

    /**
     * Renews the session's id ({@code X-Session-Renew}). The new id is the
     * proxy's to pick when it saves the session; what is returned is the
     * provisional id {@code getId()} gives for the rest of the request.
     */
    @Override
    public String changeSessionId() {
        HttpSession s = getSession(false);
        if (s == null) {
            throw new IllegalStateException("sessionproxy: changeSessionId() without a session");
        }
        ((ProxySession) s).regenerate();
        return s.getId();
    }

    /** The {@code sid} of the session the browser's cookie brought; null for a new one. */
    @Override
    public String getRequestedSessionId() {
        return state.claimsNew() ? null : state.sid();
    }

    @Override
    public boolean isRequestedSessionIdValid() {
        return getRequestedSessionId() != null && !state.destroyed;
    }

    @Override
    public boolean isRequestedSessionIdFromCookie() {
        return getRequestedSessionId() != null;
    }

    @Override
    public boolean isRequestedSessionIdFromURL() {
        return false;
    }
}
