package io.github.sessionproxy.servlet;

import jakarta.servlet.ServletContext;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpSession;
import java.util.Collections;
import java.util.Enumeration;
import java.util.List;
import java.util.Map;

/**
 * ProxySession is the {@link HttpSession} that {@link SessionProxyFilter}
 * gives the app: the proxy's session, read from the verified token, whose
 * changes go back to the proxy as {@code X-Session-*} response headers
 * (written before the response commits).
 *
 * <ul>
 *   <li>{@code getAttribute}, {@code setAttribute}, {@code removeAttribute}:
 *       the session's keys; values are JSON ({@code Map<String, ?>},
 *       {@code List}, {@code String}, {@code Number}, {@code Boolean});
 *       {@code setAttribute(k, null)} removes {@code k}; anything else
 *       throws {@code IllegalArgumentException} naming the key and type.
 *       Changes inside a map or list got from {@code getAttribute} are
 *       sent too.
 *   <li>{@code invalidate()}: {@code X-Session-Destroy}; attributes set on
 *       the session {@code request.getSession()} then returns start a new
 *       session.
 *   <li>{@code request.changeSessionId()} or {@link #regenerate()}:
 *       {@code X-Session-Renew}, a new id for the same data.
 *   <li>{@code setMaxInactiveInterval(seconds)}: {@code X-Session-Max-Age}
 *       in milliseconds; zero or less ("never times out") sends the
 *       proxy's longest, 100 years. {@link #setMaxAge(long)} and
 *       {@link #setMaxAgeSession()} set it in ms or as a browser-session
 *       cookie.
 *   <li>{@code getId()}: the token's {@code sid} (a provisional id where
 *       the proxy has given none yet); {@code isNew()}: its {@code new}.
 * </ul>
 *
 * <p>Not thread-safe beyond what a request's own threads need: like the
 * request, it belongs to one request.
 */
public final class ProxySession implements HttpSession {
    private final SessionState state;
    private final boolean successor; // made by getSession() after invalidate()
    private boolean valid = true;
    private ServletContext context;

    ProxySession(SessionState state, boolean successor) {
        this.state = state;
        this.successor = successor;
    }

    /**
     * The request's proxy session, created as {@code request.getSession()}
     * would; throws IllegalStateException when the request did not pass
     * through {@link SessionProxyFilter}.
     */
    public static ProxySession of(HttpServletRequest request) {
        if (request.getSession() instanceof ProxySession s) {
            return s;
        }
        throw new IllegalStateException("sessionproxy: the request's session is not the proxy's: "
                + "is SessionProxyFilter mapped for this path, before the filters that use the session?");
    }

    void context(ServletContext context) {
        this.context = context;
    }

    private void checkValid() {
        if (!valid) {
            throw new IllegalStateException("sessionproxy: the session was invalidated; request.getSession() gives the new one");
        }
    }

    private void checkWritable() {
        checkValid();
        state.checkWritable();
    }

    /**
     * The token's {@code sid}. Where the proxy has given none yet (the koa
     * cookie format, which has no ids; a session renewed or started in
     * this request, whose id the proxy picks when it saves it), a
     * provisional id made here, shaped like the proxy's, that stays the
     * same for the rest of the request: never empty, as Spring Security's
     * session-fixation events require, and never one the proxy will use.
     */
    @Override
    public String getId() {
        state.accessed = true;
        String sid = state.sid();
        if (!successor && !state.renew && sid != null) {
            return sid;
        }
        if (state.provisionalId == null) {
            state.provisionalId = SessionProxyTesting.newSid();
        }
        return state.provisionalId;
    }

    /** Not known to the app: the time the proxy made this request's token ({@code iat}), in ms. */
    @Override
    public long getCreationTime() {
        checkValid();
        return issuedAt();
    }

    /** The time the proxy made this request's token ({@code iat}), in ms. */
    @Override
    public long getLastAccessedTime() {
        checkValid();
        return issuedAt();
    }

    private long issuedAt() {
        return state.claims.get("iat") instanceof Number n ? n.longValue() * 1000 : System.currentTimeMillis();
    }

    @Override
    public ServletContext getServletContext() {
        return context;
    }

    /**
     * Sends {@code X-Session-Max-Age}: {@code seconds} × 1000 ms; zero or
     * less, which the servlet spec reads as "never times out", sends the
     * proxy's longest max age (100 years), since "session" would end it
     * sooner, with the browser.
     */
    @Override
    public void setMaxInactiveInterval(int seconds) {
        checkWritable();
        state.accessed = true;
        state.maxAge = Long.toString(seconds > 0 ? seconds * 1000L : SessionState.LONGEST_MAX_AGE);
        state.maxInactiveInterval = seconds;
    }

    /**
     * What this request set with {@code setMaxInactiveInterval} or
     * {@code setMaxAge} (in seconds, rounded up), else the filter's
     * {@code maxInactiveInterval} option (default 86400, the proxy's
     * default {@code session.maxAge}): the token does not say.
     */
    @Override
    public int getMaxInactiveInterval() {
        return state.maxInactiveInterval;
    }

    /** This session's own lifetime in ms from its last save (koa's {@code maxAge}), 1 ms to 100 years. */
    public void setMaxAge(long millis) {
        if (millis < 1 || millis > SessionState.LONGEST_MAX_AGE) {
            throw new IllegalArgumentException("sessionproxy: maxAge must be milliseconds from 1 to 100 years, not " + millis);
        }
        checkWritable();
        state.accessed = true;
        state.maxAge = Long.toString(millis);
        state.maxInactiveInterval = (int) Math.min(Integer.MAX_VALUE, (millis + 999) / 1000);
    }

    /** Makes the cookie a browser-session cookie ({@code X-Session-Max-Age: session}). */
    public void setMaxAgeSession() {
        checkWritable();
        state.accessed = true;
        state.maxAge = "session";
        state.maxInactiveInterval = state.defaultMaxInactiveInterval;
    }

    /** The max age this request set: milliseconds as a string, "session", or null (the proxy's default). */
    public String getMaxAge() {
        return state.maxAge;
    }

    @Override
    public Object getAttribute(String name) {
        checkValid();
        state.accessed = true;
        return state.data.get(name);
    }

    @Override
    public Enumeration<String> getAttributeNames() {
        checkValid();
        state.accessed = true;
        return Collections.enumeration(List.copyOf(state.data.keySet()));
    }

    /**
     * Sets a session key to a JSON value; null removes it. A key starting
     * with "java:_" is refused: the library stores the app's "_" keys
     * under that name. Setting the value the headers carried for the key
     * is no change, and so allowed after the response committed too
     * (Spring stores its {@code @SessionAttributes} again after a
     * {@code @ResponseBody} is written); a map changed in place since is
     * a change.
     */
    @Override
    public void setAttribute(String name, Object value) {
        if (name == null) {
            throw new IllegalArgumentException("sessionproxy: the attribute name is null");
        }
        if (value == null) {
            removeAttribute(name);
            return;
        }
        checkReserved(name);
        Json.check(name, value);
        checkValid();
        if (state.sealed() && state.verified && state.sentAs(name, value)) {
            state.accessed = true;
            state.data.put(name, value);
            return;
        }
        checkWritable();
        state.accessed = true;
        state.data.put(name, value);
    }

    /**
     * Removes a session key. Removing one the session does not have is no
     * change, and so allowed after the response committed too (Spring
     * Security clears its attributes after its redirect).
     */
    @Override
    public void removeAttribute(String name) {
        checkReserved(name);
        checkValid();
        if (!state.data.containsKey(name)) {
            state.accessed = true;
            return;
        }
        checkWritable();
        state.accessed = true;
        state.data.remove(name);
    }

    private static void checkReserved(String name) {
        if (name != null && name.startsWith(SessionState.PRIVATE_PREFIX + "_")) {
            throw new IllegalArgumentException("sessionproxy: session key \"" + name + "\" is reserved: the library stores "
                    + "the app's '_' keys as \"" + SessionState.PRIVATE_PREFIX + "\" + key (set \""
                    + name.substring(SessionState.PRIVATE_PREFIX.length()) + "\" instead)");
        }
    }

    /**
     * Destroys the session ({@code X-Session-Destroy}). A max age or
     * renewal asked for before goes with it. This object is invalid from
     * now on; {@code request.getSession()} gives a new, empty session
     * whose attributes start a new session with a new id.
     */
    @Override
    public void invalidate() {
        checkValid();
        state.destroy();
        state.provisionalId = null;
        valid = false;
        state.current = null;
        state.exists = false;
    }

    /** True when the session did not exist before this request (the token's {@code new}). */
    @Override
    public boolean isNew() {
        checkValid();
        state.accessed = true;
        return successor || state.claimsNew();
    }

    /** Gives the session a new id, keeping its data ({@code X-Session-Renew}); call it after a login. */
    public void regenerate() {
        checkWritable();
        state.accessed = true;
        if (!state.destroyed) {
            state.renew = true;
        }
        state.provisionalId = null; // a new id each time
    }

    /**
     * Ends every other session of this session's user ("log out my other
     * devices"; {@code X-Session-Destroy: others}); this one stays, with
     * its changes. Needs the proxy's {@code session.userKey}, or the proxy
     * answers 502.
     */
    public void destroyOthers() {
        checkWritable();
        state.accessed = true;
        state.destroyOthers = true;
    }

    /**
     * Ends this session as {@link #invalidate()} does, and every other
     * session of its user ("log out everywhere";
     * {@code X-Session-Destroy: all}).
     */
    public void destroyAll() {
        invalidate();
        state.destroyOthers = true;
    }

    /** The token's claims as the proxy sent them (an empty map without a valid token). */
    public Map<String, Object> claims() {
        state.accessed = true;
        return Collections.unmodifiableMap(state.claims);
    }

    /** False for the empty, read-only session of a request let through without a valid token. */
    public boolean isVerified() {
        return state.verified;
    }
}
