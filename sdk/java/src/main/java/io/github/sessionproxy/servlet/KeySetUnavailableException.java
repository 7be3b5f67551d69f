package io.github.sessionproxy.servlet;

/**
 * KeySetUnavailableException: the JWKS could not be fetched or read, so a
 * token could not be checked. An outage, not a bad token: the filter
 * answers 503, which a load balancer retries.
 */
public class KeySetUnavailableException extends Exception {
    private static final long serialVersionUID = 1L;

    public KeySetUnavailableException(String message) {
        super(message);
    }
}
