package io.github.sessionproxy.servlet;

import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.PublicKey;
import java.security.Signature;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.regex.Pattern;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Verifier checks sessionproxy's X-Session tokens with one configuration:
 * HS256 with the proxy's {@code token.secret}, and/or EdDSA (Ed25519) and
 * ES256 (P-256) with the public keys of a JWKS URL (the proxy's admin
 * {@code /.well-known/jwks.json}), looked up by the token's {@code kid}.
 * Build one per app and share it: it holds the JWKS cache. It is
 * thread-safe.
 *
 * <p>A token is accepted only with the algorithm of a configured key kind
 * (never {@code none}, never HS256 without a secret), a matching
 * signature, an {@code exp} not older than the leeway (default 5 s),
 * {@code iss} "sessionproxy", the configured audience in {@code aud} when
 * one is set, and a {@code sess} object.
 */
public final class Verifier {
    /** The issuer every sessionproxy token names. */
    public static final String ISSUER = "sessionproxy";
    /** The clock skew allowed on {@code exp} by default. */
    public static final Duration DEFAULT_LEEWAY = Duration.ofSeconds(5);

    private static final Pattern B64URL = Pattern.compile("[A-Za-z0-9_-]*");

    private final List<byte[]> secrets;
    private final KeySet keySet;
    private final String audience;
    private final Duration leeway;
    private final Clock clock;

    private Verifier(Builder b) {
        List<byte[]> s = new ArrayList<>();
        if (b.secret != null) {
            s.add(b.secret.getBytes(StandardCharsets.UTF_8));
        }
        for (String old : b.oldSecrets) {
            s.add(old.getBytes(StandardCharsets.UTF_8));
        }
        this.secrets = List.copyOf(s);
        this.keySet = b.jwksUrl == null ? null
                : new KeySet(b.jwksUrl, b.jwksRefetchInterval, b.jwksMaxAge, b.jwksTimeout);
        this.audience = b.audience;
        this.leeway = b.leeway;
        this.clock = b.clock;
    }

    /** A builder; give {@link Builder#secret} or {@link Builder#jwksUrl}, or both. */
    public static Builder builder() {
        return new Builder();
    }

    /** Builder configures a {@link Verifier}; a setting that cannot work fails in {@link #build()}. */
    public static final class Builder {
        private String secret;
        private final List<String> oldSecrets = new ArrayList<>();
        private URI jwksUrl;
        private String audience;
        private Duration leeway = DEFAULT_LEEWAY;
        private Duration jwksRefetchInterval = Duration.ofSeconds(10);
        private Duration jwksMaxAge = Duration.ofMinutes(5);
        private Duration jwksTimeout = Duration.ofSeconds(5);
        private Clock clock = Clock.systemUTC();

        private Builder() {}

        /** The proxy's {@code token.secret} (HS256). An empty secret is refused. */
        public Builder secret(String secret) {
            this.secret = secret;
            return this;
        }

        /**
         * Secrets the proxy signed with before {@code token.secret} was
         * rotated: tokens they verify are accepted too, for
         * {@code token.ttl} after the switch. Needs {@link #secret}.
         */
        public Builder oldSecrets(List<String> oldSecrets) {
            this.oldSecrets.clear();
            this.oldSecrets.addAll(oldSecrets);
            return this;
        }

        /** Where the proxy's public keys are (EdDSA, ES256). */
        public Builder jwksUrl(String jwksUrl) {
            this.jwksUrl = jwksUrl == null || jwksUrl.isEmpty() ? null : URI.create(jwksUrl);
            return this;
        }

        /** Refuse tokens whose {@code aud} does not name this audience; null (default) checks none. */
        public Builder audience(String audience) {
            this.audience = audience == null || audience.isEmpty() ? null : audience;
            return this;
        }

        /** Clock skew allowed on {@code exp} (default 5 s). */
        public Builder leeway(Duration leeway) {
            this.leeway = Objects.requireNonNull(leeway);
            return this;
        }

        /**
         * How often an unknown {@code kid} may refetch the JWKS (default
         * 10 s), how old a fetched set may get before it is refreshed in
         * the background (default 5 min), and how long a fetch may take
         * (default 5 s).
         */
        public Builder jwksTimings(Duration refetchInterval, Duration maxAge, Duration timeout) {
            this.jwksRefetchInterval = Objects.requireNonNull(refetchInterval);
            this.jwksMaxAge = Objects.requireNonNull(maxAge);
            this.jwksTimeout = Objects.requireNonNull(timeout);
            return this;
        }

        /** The clock {@code exp} is checked against (tests set their own). */
        public Builder clock(Clock clock) {
            this.clock = Objects.requireNonNull(clock);
            return this;
        }

        /** Builds the verifier, or throws IllegalArgumentException naming what is wrong. */
        public Verifier build() {
            if (secret != null && secret.isEmpty()) {
                throw new IllegalArgumentException("sessionproxy: the secret is empty; pass token.secret of the proxy");
            }
            if (secret == null && jwksUrl == null) {
                throw new IllegalArgumentException("sessionproxy: give a secret (HS256) or a jwksUrl (EdDSA, ES256)");
            }
            for (int i = 0; i < oldSecrets.size(); i++) {
                if (oldSecrets.get(i) == null || oldSecrets.get(i).isEmpty()) {
                    throw new IllegalArgumentException("sessionproxy: oldSecrets[" + i + "] is empty");
                }
            }
            if (!oldSecrets.isEmpty() && secret == null) {
                throw new IllegalArgumentException("sessionproxy: oldSecrets needs secret, the proxy's current token.secret");
            }
            if (leeway.isNegative()) {
                throw new IllegalArgumentException("sessionproxy: leeway must not be negative");
            }
            if (jwksUrl != null && !("http".equals(jwksUrl.getScheme()) || "https".equals(jwksUrl.getScheme()))) {
                throw new IllegalArgumentException("sessionproxy: jwksUrl must be an http or https URL, not " + jwksUrl);
            }
            return new Verifier(this);
        }
    }

    /**
     * Returns the token's claims (a JSON object as Java maps, lists and
     * values), or throws {@link InvalidTokenException} naming the reason,
     * or {@link KeySetUnavailableException} when the JWKS it needs cannot
     * be had.
     */
    public Map<String, Object> verify(String token) throws InvalidTokenException, KeySetUnavailableException {
        if (token == null || token.isEmpty()) {
            throw new InvalidTokenException("malformed", "no token");
        }
        String[] parts = token.split("\\.", -1);
        if (parts.length != 3) {
            throw new InvalidTokenException("malformed", "not three dot-separated parts");
        }
        Object header;
        byte[] payload;
        byte[] sig;
        try {
            header = Json.parse(b64(parts[0]));
            payload = b64(parts[1]);
            sig = b64(parts[2]);
        } catch (Exception e) { // bad base64, not JSON, nested too deep
            throw new InvalidTokenException("malformed", "a part is not base64url JSON");
        }
        if (!(header instanceof Map<?, ?> h)) {
            throw new InvalidTokenException("malformed", "the header is not a JSON object");
        }
        Object alg = h.get("alg");
        byte[] signed = (parts[0] + "." + parts[1]).getBytes(StandardCharsets.US_ASCII);
        if ("HS256".equals(alg) && !secrets.isEmpty()) {
            boolean ok = false;
            for (byte[] secret : secrets) {
                ok |= MessageDigest.isEqual(hs256(secret, signed), sig);
            }
            if (!ok) {
                throw new InvalidTokenException("signature", "the signature does not match");
            }
        } else if (("EdDSA".equals(alg) || "ES256".equals(alg)) && keySet != null) {
            if (!(h.get("kid") instanceof String kid) || kid.isEmpty()) {
                throw new InvalidTokenException("kid", "no kid in the header");
            }
            KeySet.Key key = keySet.get(kid);
            if (key == null) {
                throw new InvalidTokenException("kid", "no key with this kid in the JWKS");
            }
            if (!key.alg().equals(alg)) {
                throw new InvalidTokenException("alg", "the key " + kid + " is not an " + alg + " key");
            }
            if (!verifyAsymmetric(key, signed, sig)) {
                throw new InvalidTokenException("signature", "the signature does not match");
            }
        } else {
            throw new InvalidTokenException("alg", "algorithm " + (alg instanceof String ? alg : String.valueOf(alg)) + " is not allowed");
        }

        Object parsed;
        try {
            parsed = Json.parse(payload);
        } catch (Exception e) {
            throw new InvalidTokenException("malformed", "the payload is not JSON");
        }
        if (!(parsed instanceof Map<?, ?>)) {
            throw new InvalidTokenException("malformed", "the payload is not a JSON object");
        }
        @SuppressWarnings("unchecked")
        Map<String, Object> claims = (Map<String, Object>) parsed;
        if (!(claims.get("exp") instanceof Number exp) || !Double.isFinite(exp.doubleValue())) {
            throw new InvalidTokenException("malformed", "exp is missing or not a number");
        }
        double now = clock.millis() / 1000.0;
        if (exp.doubleValue() + leeway.toMillis() / 1000.0 < now) {
            throw new InvalidTokenException("expired", "the token has expired");
        }
        if (!ISSUER.equals(claims.get("iss"))) {
            throw new InvalidTokenException("issuer", "the issuer is not " + ISSUER);
        }
        if (audience != null && !hasAudience(claims.get("aud"), audience)) {
            throw new InvalidTokenException("audience", "the token is not for audience " + audience);
        }
        if (!(claims.get("sess") instanceof Map<?, ?>)) {
            throw new InvalidTokenException("malformed", "sess is missing or not a JSON object");
        }
        return claims;
    }

    static byte[] b64(String part) {
        if (!B64URL.matcher(part).matches() || part.length() % 4 == 1) {
            throw new IllegalArgumentException("not base64url");
        }
        return Base64.getUrlDecoder().decode(part);
    }

    static byte[] hs256(byte[] secret, byte[] signed) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(secret, "HmacSHA256"));
            return mac.doFinal(signed);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is part of every JDK", e);
        }
    }

    private static boolean verifyAsymmetric(KeySet.Key key, byte[] signed, byte[] sig) {
        try {
            Signature s;
            if (key.alg().equals("EdDSA")) {
                s = Signature.getInstance("Ed25519");
            } else {
                if (sig.length != 64) { // r || s, 32 bytes each
                    return false;
                }
                s = Signature.getInstance("SHA256withECDSAinP1363Format");
            }
            PublicKey pk = key.key();
            s.initVerify(pk);
            s.update(signed);
            return s.verify(sig);
        } catch (GeneralSecurityException | IllegalArgumentException e) {
            return false;
        }
    }

    private static boolean hasAudience(Object aud, String want) {
        if (aud instanceof String s) {
            return s.equals(want);
        }
        if (aud instanceof List<?> l) {
            return l.contains(want);
        }
        return false;
    }
}
