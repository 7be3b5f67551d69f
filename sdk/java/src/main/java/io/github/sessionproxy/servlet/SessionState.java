package io.github.sessionproxy.servlet;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * SessionState is one request's session: what the token brought, what the
 * app made of it, and the directives that carry the difference back. The
 * {@link ProxySession} objects the app holds are views of it (a new one
 * after {@code invalidate()}).
 */
final class SessionState {
    /** Where the app's top-level "_" keys are kept: the proxy reserves "_" keys (SPEC §9). */
    static final String PRIVATE_PREFIX = "java:";
    /** The proxy's longest max age: 100 years in ms. */
    static final long LONGEST_MAX_AGE = 100L * 365 * 24 * 3600 * 1000;

    final Map<String, Object> claims;
    final boolean verified;
    final String header;
    final int defaultMaxInactiveInterval;
    private final Map<String, Object> before; // stored form, as the token brought it
    Map<String, Object> data; // the app's view

    boolean destroyed;
    boolean destroyOthers;
    boolean renew;
    String maxAge; // "session" or milliseconds; null: the proxy's default
    int maxInactiveInterval; // seconds, as the app last set or implied it
    boolean accessed; // read or changed: the response varies on the cookie

    private volatile boolean sealed;
    private Map<String, Object> sent; // the data as the directives left it

    String provisionalId; // getId() where the proxy has given no id yet

    ProxySession current; // the view getSession() returns; null after invalidate()
    boolean exists; // getSession(false) returns current

    SessionState(Map<String, Object> claims, String header, int defaultMaxInactiveInterval) {
        this.claims = claims == null ? Map.of() : claims;
        this.verified = claims != null;
        this.header = header;
        this.defaultMaxInactiveInterval = defaultMaxInactiveInterval;
        this.maxInactiveInterval = defaultMaxInactiveInterval;
        @SuppressWarnings("unchecked")
        Map<String, Object> sess = this.claims.get("sess") instanceof Map<?, ?> m ? (Map<String, Object>) m : Map.of();
        this.data = fromStored(Json.copyObject(sess));
        this.before = toStored(fromStored(Json.copyObject(sess)));
        this.exists = verified && !Boolean.TRUE.equals(this.claims.get("new"));
        this.current = new ProxySession(this, false);
    }

    String sid() {
        return claims.get("sid") instanceof String s ? s : null;
    }

    boolean claimsNew() {
        return !verified || Boolean.TRUE.equals(claims.get("new"));
    }

    boolean sealed() {
        return sealed;
    }

    void checkWritable() {
        if (!verified) {
            throw new IllegalStateException("sessionproxy: this request has no session (no valid "
                    + header + " token); it cannot be changed");
        }
        if (sealed) {
            throw new IllegalStateException("sessionproxy: the response is committed, so the session's headers are "
                    + "written; this change would be lost. Change the session before writing the body");
        }
    }

    static Map<String, Object> fromStored(Map<String, Object> stored) {
        Map<String, Object> out = new LinkedHashMap<>();
        for (Map.Entry<String, Object> e : stored.entrySet()) {
            String k = e.getKey();
            if (k.startsWith(PRIVATE_PREFIX + "_")) {
                out.put(k.substring(PRIVATE_PREFIX.length()), e.getValue());
            } else if (!k.startsWith("_")) {
                out.put(k, e.getValue());
            }
        }
        return out;
    }

    static Map<String, Object> toStored(Map<String, Object> data) {
        Map<String, Object> out = new LinkedHashMap<>();
        for (Map.Entry<String, Object> e : data.entrySet()) {
            String k = e.getKey();
            out.put(k.startsWith("_") ? PRIVATE_PREFIX + k : k, e.getValue());
        }
        return out;
    }

    /**
     * The members to send, checked to be JSON (IllegalArgumentException
     * names the key). Only what is sent: a value the session arrived with
     * and the app left alone is whatever the proxy holds, a number past
     * the double range included.
     */
    private static Map<String, Object> checked(Map<String, Object> members) {
        for (Map.Entry<String, Object> e : members.entrySet()) {
            String k = e.getKey();
            Json.check(k.startsWith(PRIVATE_PREFIX + "_") ? k.substring(PRIVATE_PREFIX.length()) : k, e.getValue());
        }
        return members;
    }

    /** The response headers carrying this request's changes; empty when nothing changed. */
    List<String[]> directives() {
        List<String[]> out = new ArrayList<>();
        if (!verified) {
            return out;
        }
        Map<String, Object> after = toStored(data);
        if (destroyed) {
            out.add(new String[] {header + "-Destroy", destroyOthers ? "all" : "true"});
            @SuppressWarnings("unchecked")
            Map<String, Object> fresh = checked((Map<String, Object>) Json.stripNulls(after));
            if (!fresh.isEmpty()) {
                out.add(new String[] {header + "-Set", Json.write(fresh)});
            }
        } else {
            if (destroyOthers) {
                out.add(new String[] {header + "-Destroy", "others"});
            }
            Map<String, Object> patch = checked(Json.diff(before, after));
            if (!patch.isEmpty()) {
                out.add(new String[] {header + "-Set", Json.write(patch)});
            }
            if (renew) { // a destroyed session's successor gets a new id anyway
                out.add(new String[] {header + "-Renew", "true"});
            }
        }
        if (maxAge != null) {
            out.add(new String[] {header + "-Max-Age", maxAge});
        }
        return out;
    }

    /** Returns the directives and refuses any later change: the headers are on their way. */
    List<String[]> seal() {
        if (sealed) {
            return List.of();
        }
        sealed = true;
        List<String[]> d = directives();
        if (verified) {
            sent = Json.copyObject(data);
        }
        return d;
    }

    /**
     * Whether the directives carried value for name: setting it after the
     * seal is no change. Compared with their copy, not with the data, as
     * the app may have changed in place the very map it puts back.
     */
    boolean sentAs(String name, Object value) {
        return sent != null && Json.same(sent.get(name), value);
    }

    /** True when the data differs from what the directives carried (a nested change made later). */
    boolean changedSinceSealed() {
        if (sent == null) {
            return false;
        }
        try {
            return !Json.same(data, sent);
        } catch (RuntimeException e) {
            return true;
        }
    }

    void destroy() {
        checkWritable();
        accessed = true;
        data = new LinkedHashMap<>();
        destroyed = true;
        maxAge = null;
        maxInactiveInterval = defaultMaxInactiveInterval;
        renew = false;
    }
}
