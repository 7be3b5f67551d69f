package io.github.sessionproxy.servlet;

import jakarta.servlet.DispatcherType;
import jakarta.servlet.Filter;
import jakarta.servlet.FilterChain;
import jakarta.servlet.FilterConfig;
import jakarta.servlet.ServletException;
import jakarta.servlet.ServletRequest;
import jakarta.servlet.ServletResponse;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Predicate;

/**
 * SessionProxyFilter gives a Jakarta Servlet app sessionproxy's session as
 * its own {@link jakarta.servlet.http.HttpSession}: {@code request.getSession()}
 * is a {@link ProxySession} read from the verified {@code X-Session} token,
 * and its changes go back to the proxy as {@code X-Session-*} response
 * headers, written before the response commits.
 *
 * <p>Build it with {@link #builder()} (Spring Boot, embedded Jetty or
 * Tomcat), or declare it in {@code web.xml} with init-params:
 * {@code secret} (or {@code secretEnv}, the name of an environment
 * variable holding it), {@code oldSecrets} (comma-separated),
 * {@code jwksUrl}, {@code audience}, {@code header}, {@code required}
 * ({@code true}/{@code false}), {@code leeway} (seconds) and
 * {@code maxInactiveInterval} (seconds). Map it for the REQUEST, FORWARD,
 * ASYNC and ERROR dispatches: a forward writes the session's headers
 * first, and a later dispatch of a request (its error page, an async
 * dispatch) gets the session as the request left it, read-only.
 *
 * <p>A request without a valid token gets {@code 401} (a JWKS that cannot
 * be fetched, {@code 503}) unless {@code required} says otherwise; then it
 * goes on with an empty, read-only session and the exception in the
 * request attribute {@link #ERROR_ATTRIBUTE}.
 */
public final class SessionProxyFilter implements Filter {
    /** The request attribute holding the InvalidTokenException or KeySetUnavailableException of a request let through. */
    public static final String ERROR_ATTRIBUTE = "io.github.sessionproxy.servlet.error";
    private static final String ACTIVE_ATTRIBUTE = "io.github.sessionproxy.servlet.active";
    /** The request's SessionState, kept for its later dispatches (ERROR, ASYNC), which bring the container's request. */
    private static final String STATE_ATTRIBUTE = "io.github.sessionproxy.servlet.state";
    private static final System.Logger LOG = System.getLogger(SessionProxyFilter.class.getName());

    private Verifier verifier;
    private String header;
    private Predicate<HttpServletRequest> required;
    private int maxInactiveInterval;

    /** For {@code web.xml}: the settings come from the init-params. */
    public SessionProxyFilter() {}

    private SessionProxyFilter(Builder b) {
        configure(b);
    }

    private void configure(Builder b) {
        this.verifier = b.verifier != null ? b.verifier : b.verifierBuilder().build();
        this.header = b.header;
        this.required = b.required;
        this.maxInactiveInterval = b.maxInactiveInterval;
    }

    /** A builder; give a secret or a jwksUrl (or a shared Verifier). */
    public static Builder builder() {
        return new Builder();
    }

    /** Builder configures a {@link SessionProxyFilter}; a setting that cannot work fails in {@link #build()}. */
    public static final class Builder {
        private String secret;
        private List<String> oldSecrets = List.of();
        private String jwksUrl;
        private String audience;
        private String header = "X-Session";
        private Duration leeway = Verifier.DEFAULT_LEEWAY;
        private Predicate<HttpServletRequest> required = r -> true;
        private Verifier verifier;
        private int maxInactiveInterval = 86400;

        private Builder() {}

        /** The proxy's {@code token.secret} (HS256); an empty one is refused. */
        public Builder secret(String secret) {
            this.secret = secret;
            return this;
        }

        /** Secrets the proxy signed with before {@code token.secret} was rotated. */
        public Builder oldSecrets(List<String> oldSecrets) {
            this.oldSecrets = List.copyOf(oldSecrets);
            return this;
        }

        /** Where the proxy's public keys are (EdDSA, ES256): its admin {@code /.well-known/jwks.json}. */
        public Builder jwksUrl(String jwksUrl) {
            this.jwksUrl = jwksUrl;
            return this;
        }

        /** Refuse tokens not made for this audience ({@code token.audience} or the route's). */
        public Builder audience(String audience) {
            this.audience = audience;
            return this;
        }

        /** The token's request header, the proxy's {@code token.header} (default X-Session); the directives are named after it. */
        public Builder header(String header) {
            if (header == null || header.isBlank()) {
                throw new IllegalArgumentException("sessionproxy: header must not be empty");
            }
            this.header = header;
            return this;
        }

        /** Clock skew allowed on {@code exp} (default 5 s). */
        public Builder leeway(Duration leeway) {
            this.leeway = Objects.requireNonNull(leeway);
            return this;
        }

        /** Whether a request without a valid token is refused (401, or 503 for a JWKS outage); default true. */
        public Builder required(boolean required) {
            this.required = r -> required;
            return this;
        }

        /** Per request: true refuses it without a valid token; false lets it through with an empty, read-only session. */
        public Builder required(Predicate<HttpServletRequest> required) {
            this.required = Objects.requireNonNull(required);
            return this;
        }

        /** A Verifier to share (its secret, JWKS and audience are used; the ones here are not). */
        public Builder verifier(Verifier verifier) {
            this.verifier = verifier;
            return this;
        }

        /**
         * What {@code getMaxInactiveInterval()} answers, in seconds, when
         * the request set none (default 86400: the proxy's default
         * {@code session.maxAge}); the token does not carry it.
         */
        public Builder maxInactiveInterval(int seconds) {
            this.maxInactiveInterval = seconds;
            return this;
        }

        Verifier.Builder verifierBuilder() {
            return Verifier.builder().secret(secret).oldSecrets(oldSecrets).jwksUrl(jwksUrl).audience(audience).leeway(leeway);
        }

        public SessionProxyFilter build() {
            return new SessionProxyFilter(this);
        }
    }

    @Override
    public void init(FilterConfig config) throws ServletException {
        if (verifier != null) {
            return; // built with the builder
        }
        Builder b = builder();
        String secret = config.getInitParameter("secret");
        String env = config.getInitParameter("secretEnv");
        if (secret == null && env != null) {
            secret = System.getenv(env);
            if (secret == null) {
                throw new ServletException("sessionproxy: the environment variable " + env + " (init-param secretEnv) is not set");
            }
        }
        b.secret(secret);
        String olds = config.getInitParameter("oldSecrets");
        if (olds != null && !olds.isBlank()) {
            List<String> list = new ArrayList<>();
            for (String s : olds.split(",")) {
                list.add(s.trim());
            }
            b.oldSecrets(list);
        }
        b.jwksUrl(config.getInitParameter("jwksUrl"));
        b.audience(config.getInitParameter("audience"));
        try {
            if (config.getInitParameter("header") != null) {
                b.header(config.getInitParameter("header"));
            }
            String required = config.getInitParameter("required");
            if (required != null) {
                switch (required.trim().toLowerCase(java.util.Locale.ROOT)) {
                    case "true" -> b.required(true);
                    case "false" -> b.required(false);
                    default -> throw new IllegalArgumentException("init-param required must be true or false, not \"" + required + "\"");
                }
            }
            if (config.getInitParameter("leeway") != null) {
                b.leeway(Duration.ofSeconds(Long.parseLong(config.getInitParameter("leeway").trim())));
            }
            if (config.getInitParameter("maxInactiveInterval") != null) {
                b.maxInactiveInterval(Integer.parseInt(config.getInitParameter("maxInactiveInterval").trim()));
            }
            configure(b);
        } catch (IllegalArgumentException e) {
            throw new ServletException("sessionproxy: filter " + config.getFilterName() + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void doFilter(ServletRequest req, ServletResponse res, FilterChain chain) throws IOException, ServletException {
        Object active = req.getAttribute(ACTIVE_ATTRIBUTE);
        if (!(req instanceof HttpServletRequest hreq) || !(res instanceof HttpServletResponse hres) || active != null) {
            // A forward or include inside a request already served. A
            // forward's end may finish the response out of the filter's
            // sight (Tomcat does), so the directives go first, whichever
            // dispatcher it came from (a servlet context's too).
            if (active instanceof SessionResponse served && req.getDispatcherType() == DispatcherType.FORWARD) {
                served.writeDirectives();
            }
            chain.doFilter(req, res);
            return;
        }
        if (verifier == null) {
            throw new ServletException("sessionproxy: SessionProxyFilter has no settings: build it with "
                    + "SessionProxyFilter.builder() or give it init-params");
        }
        // A later dispatch of a request served already (its error page, an
        // async dispatch) has the session as that request left it: its
        // changes are on their way, so it is read-only.
        SessionState state = req.getAttribute(STATE_ATTRIBUTE) instanceof SessionState s ? s : null;
        if (state == null) {
            Map<String, Object> claims = null;
            try {
                claims = verifier.verify(hreq.getHeader(header));
            } catch (InvalidTokenException | KeySetUnavailableException e) {
                boolean outage = e instanceof KeySetUnavailableException;
                if (required.test(hreq)) {
                    // The client is not told why; the log is, as the Go and
                    // Python libraries log it: info for a bad token (a secret
                    // or audience that differs from the proxy's shows here),
                    // error for an outage.
                    LOG.log(outage ? System.Logger.Level.ERROR : System.Logger.Level.INFO, "sessionproxy: "
                            + hreq.getMethod() + " " + hreq.getRequestURI() + " refused with " + (outage ? 503 : 401) + ": " + e.getMessage());
                    refuse(hres, outage);
                    return;
                }
                if (outage) {
                    LOG.log(System.Logger.Level.WARNING, e.getMessage());
                } else {
                    LOG.log(System.Logger.Level.DEBUG, () -> "sessionproxy: refused a token: " + e.getMessage());
                }
                hreq.setAttribute(ERROR_ATTRIBUTE, e);
            }
            state = new SessionState(claims, header, maxInactiveInterval);
            hreq.setAttribute(STATE_ATTRIBUTE, state);
        }
        SessionResponse wres = new SessionResponse(hres, state);
        SessionRequest wreq = new SessionRequest(hreq, state, wres);
        hreq.setAttribute(ACTIVE_ATTRIBUTE, wres);
        try {
            chain.doFilter(wreq, wres);
        } catch (IOException | ServletException | RuntimeException | Error e) {
            try {
                wres.writeDirectives(); // the changes made before the failure, as Flask saves them for an error page
            } catch (RuntimeException inner) {
                e.addSuppressed(inner);
            }
            throw e;
        } finally {
            hreq.removeAttribute(ACTIVE_ATTRIBUTE);
        }
        // An async request's changes must be made before startAsync(): its
        // headers were written then, and a later change throws.
        wres.finish();
    }

    private static void refuse(HttpServletResponse res, boolean outage) throws IOException {
        byte[] body = (outage ? "503 Service Unavailable: the session keys are unavailable\n"
                : "401 Unauthorized: no valid session token\n").getBytes(StandardCharsets.UTF_8);
        res.setStatus(outage ? HttpServletResponse.SC_SERVICE_UNAVAILABLE : HttpServletResponse.SC_UNAUTHORIZED);
        res.setContentType("text/plain; charset=utf-8");
        res.setContentLength(body.length);
        res.getOutputStream().write(body);
    }
}
