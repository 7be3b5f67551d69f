package io.github.sessionproxy.servlet;

import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletRequestWrapper;
import jakarta.servlet.http.HttpSession;

/** The request as the app sees it: its session is the proxy's. */
final class SessionRequest extends HttpServletRequestWrapper {
    private final SessionState state;

    SessionRequest(HttpServletRequest request, SessionState state) {
        super(request);
        this.state = state;
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
