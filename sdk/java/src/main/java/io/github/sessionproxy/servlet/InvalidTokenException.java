package io.github.sessionproxy.servlet;

/**
 * InvalidTokenException: the token is not a genuine, current sessionproxy
 * token. {@link #reason()} is one of {@code malformed}, {@code alg},
 * {@code kid}, {@code signature}, {@code expired}, {@code issuer},
 * {@code audience}; the message starts with it. The filter answers 401.
 */
public class InvalidTokenException extends Exception {
    private static final long serialVersionUID = 1L;

    private final String reason;

    public InvalidTokenException(String reason, String detail) {
        super(reason + ": " + detail);
        this.reason = reason;
    }

    /** The reason: malformed, alg, kid, signature, expired, issuer or audience. */
    public String reason() {
        return reason;
    }
}
