package io.github.sessionproxy.servlet;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PublicKey;
import java.security.spec.X509EncodedKeySpec;
import java.time.Duration;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * KeySet: the public keys of a JWKS URL, cached by {@code kid}.
 *
 * <p>An unknown {@code kid} refetches the set at once (a key rotation), but
 * at most once per refetch interval, so tokens with made-up ids do not
 * become a flood of fetches. A set older than the max age is refetched in
 * the background on the next use: a known {@code kid} never waits for the
 * JWKS, and if that fetch fails the old keys are kept. Until a first fetch
 * succeeds, fetches are retried at most once per refetch interval and
 * {@link KeySetUnavailableException} is thrown; so it is for an unknown
 * {@code kid} while the last fetch failed less than an interval ago (the
 * key may have been published: an outage, not a bad token). One fetch at
 * a time; a request that needs one waits for the one under way.
 */
final class KeySet {
    record Key(String alg, PublicKey key) {}

    /** The largest JWKS read: a key set is a few hundred bytes. */
    private static final int MAX_JWKS_BYTES = 1 << 20;

    // SubjectPublicKeyInfo prefixes: the DER of the algorithm, then the raw key.
    private static final byte[] ED25519_PREFIX = HexFormat.of().parseHex("302a300506032b6570032100");
    private static final byte[] P256_PREFIX = HexFormat.of().parseHex(
            "3059301306072a8648ce3d020106082a8648ce3d030107034200");

    private final URI url;
    private final long interval;
    private final long maxAge;
    private final Duration timeout;
    private final HttpClient client;
    private final Object lock = new Object();

    // Guarded by lock. Times are System.nanoTime(), in ms.
    private Map<String, Key> keys = Map.of();
    private boolean loaded;
    private long fetchedAt;
    private long unknownRefetchAt = Long.MIN_VALUE / 4;
    private Long failedAt;
    private String error = "";
    private CompletableFuture<Void> inflight;
    private int fetches;

    KeySet(URI url, Duration refetchInterval, Duration maxAge, Duration timeout) {
        this.url = url;
        this.interval = refetchInterval.toMillis();
        this.maxAge = maxAge.toMillis();
        this.timeout = timeout;
        this.client = HttpClient.newBuilder().connectTimeout(timeout).followRedirects(HttpClient.Redirect.NORMAL).build();
    }

    private static long now() {
        return System.nanoTime() / 1_000_000;
    }

    /** The key with this kid, or null when the set (fetched again if need be) has none. */
    Key get(String kid) throws KeySetUnavailableException {
        CompletableFuture<Void> wait = null;
        long asked = now();
        synchronized (lock) {
            long now = now();
            if (!loaded) {
                wait = fetches == 0 || now - fetchedAt >= interval ? start(now) : inflight;
            } else if (now - fetchedAt >= maxAge) {
                start(now); // in the background: the keys held verify meanwhile
                if (!keys.containsKey(kid)) {
                    wait = inflight;
                }
            } else if (!keys.containsKey(kid)) {
                boolean failedLately = failedAt != null && now - failedAt < interval;
                if (inflight != null) {
                    wait = inflight; // the fetch under way may bring it
                } else if (now - unknownRefetchAt >= interval && !failedLately) {
                    unknownRefetchAt = now;
                    wait = start(now);
                }
            }
        }
        if (wait != null) {
            try {
                wait.get(timeout.toMillis() + 1000, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new KeySetUnavailableException("sessionproxy: interrupted while fetching the JWKS " + url);
            } catch (Exception e) {
                // the fetch's own failure is recorded below
            }
        }
        synchronized (lock) {
            if (!loaded) {
                throw new KeySetUnavailableException("sessionproxy: the JWKS " + url + " is unavailable: " + error);
            }
            Key key = keys.get(kid);
            if (key == null && failedAt != null && (failedAt >= asked || now() - failedAt < interval)) {
                throw new KeySetUnavailableException("sessionproxy: the JWKS " + url + " is unavailable, and kid "
                        + kid + " is not among the keys held: " + error);
            }
            return key;
        }
    }

    /** Starts a fetch unless one is under way; lock is held. */
    private CompletableFuture<Void> start(long now) {
        if (inflight == null) {
            CompletableFuture<Void> done = new CompletableFuture<>();
            inflight = done;
            fetchedAt = now;
            fetches++;
            Thread t = new Thread(() -> refresh(done), "sessionproxy-jwks");
            t.setDaemon(true);
            t.start();
        }
        return inflight;
    }

    private void refresh(CompletableFuture<Void> done) {
        Map<String, Key> parsed = new HashMap<>();
        try {
            Object doc = Json.parse(fetch());
            if (!(doc instanceof Map<?, ?> m) || !(m.get("keys") instanceof List<?> list)) {
                throw new IOException("\"keys\" is not a list");
            }
            for (Object jwk : list) {
                if (jwk instanceof Map<?, ?> j) {
                    Key key = parse(j);
                    if (key != null) {
                        parsed.put((String) j.get("kid"), key);
                    }
                }
            }
        } catch (Exception e) { // any failure: keep the keys we have
            synchronized (lock) {
                error = e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
                failedAt = now();
                if (loaded) { // an old set's refresh: try again after the interval, not maxAge
                    fetchedAt = Math.min(fetchedAt, failedAt - maxAge + interval);
                } else { // no keys yet: the interval counts from this failure
                    fetchedAt = failedAt;
                }
                inflight = null;
            }
            done.complete(null);
            return;
        }
        synchronized (lock) {
            keys = Map.copyOf(parsed);
            loaded = true;
            failedAt = null;
            inflight = null;
        }
        done.complete(null);
    }

    private byte[] fetch() throws IOException, InterruptedException {
        HttpRequest req = HttpRequest.newBuilder(url).timeout(timeout).header("Accept", "application/json").GET().build();
        HttpResponse<InputStream> resp = client.send(req, HttpResponse.BodyHandlers.ofInputStream());
        try (InputStream in = resp.body()) {
            if (resp.statusCode() / 100 != 2) {
                throw new IOException("status " + resp.statusCode());
            }
            byte[] body = in.readNBytes(MAX_JWKS_BYTES + 1);
            if (body.length > MAX_JWKS_BYTES) {
                throw new IOException("the JWKS is larger than " + MAX_JWKS_BYTES + " bytes");
            }
            return body;
        }
    }

    /** The usable signing key a JWK describes, or null. */
    private static Key parse(Map<?, ?> jwk) {
        if (!(jwk.get("kid") instanceof String) || !"sig".equals(orDefault(jwk, "use", "sig"))) {
            return null;
        }
        try {
            if ("OKP".equals(jwk.get("kty")) && "Ed25519".equals(jwk.get("crv")) && "EdDSA".equals(orDefault(jwk, "alg", "EdDSA"))) {
                byte[] x = raw(jwk.get("x"), 32);
                return new Key("EdDSA", KeyFactory.getInstance("Ed25519").generatePublic(new X509EncodedKeySpec(concat(ED25519_PREFIX, x))));
            }
            if ("EC".equals(jwk.get("kty")) && "P-256".equals(jwk.get("crv")) && "ES256".equals(orDefault(jwk, "alg", "ES256"))) {
                byte[] point = concat(new byte[] {4}, concat(raw(jwk.get("x"), 32), raw(jwk.get("y"), 32)));
                return new Key("ES256", KeyFactory.getInstance("EC").generatePublic(new X509EncodedKeySpec(concat(P256_PREFIX, point))));
            }
        } catch (GeneralSecurityException | IllegalArgumentException e) {
            return null;
        }
        return null;
    }

    private static Object orDefault(Map<?, ?> m, String k, Object d) {
        return m.containsKey(k) ? m.get(k) : d;
    }

    private static byte[] raw(Object v, int len) {
        if (!(v instanceof String s)) {
            throw new IllegalArgumentException("not a base64url string");
        }
        byte[] b = Verifier.b64(s);
        if (b.length != len) {
            throw new IllegalArgumentException("want " + len + " bytes");
        }
        return b;
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] out = new byte[a.length + b.length];
        System.arraycopy(a, 0, out, 0, a.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    /** How many times the set was fetched, for tests. */
    int fetches() {
        synchronized (lock) {
            return fetches;
        }
    }
}
