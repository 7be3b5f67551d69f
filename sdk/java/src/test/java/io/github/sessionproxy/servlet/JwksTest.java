package io.github.sessionproxy.servlet;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.Signature;
import java.security.interfaces.ECPublicKey;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * EdDSA and ES256 tokens verified with keys from a real local JWKS
 * server, through the filter in Jetty: a rotated key is fetched, a made-up
 * kid is refused without a flood of fetches, and a JWKS outage is 503.
 */
class JwksTest {
    private static final Base64.Encoder B64 = Base64.getUrlEncoder().withoutPadding();

    /** A key pair the test signs with, and its JWK. */
    record SigningKey(String alg, String kid, KeyPair pair) {
        static SigningKey generate(String alg, String kid) throws Exception {
            KeyPairGenerator g;
            if (alg.equals("EdDSA")) {
                g = KeyPairGenerator.getInstance("Ed25519");
            } else {
                g = KeyPairGenerator.getInstance("EC");
                g.initialize(new ECGenParameterSpec("secp256r1"));
            }
            return new SigningKey(alg, kid, g.generateKeyPair());
        }

        Map<String, Object> jwk() {
            Map<String, Object> j = new LinkedHashMap<>();
            byte[] spki = pair.getPublic().getEncoded();
            if (alg.equals("EdDSA")) {
                j.put("kty", "OKP");
                j.put("crv", "Ed25519");
                j.put("x", B64.encodeToString(Arrays.copyOfRange(spki, spki.length - 32, spki.length)));
            } else {
                ECPublicKey k = (ECPublicKey) pair.getPublic();
                j.put("kty", "EC");
                j.put("crv", "P-256");
                j.put("x", B64.encodeToString(fixed(k.getW().getAffineX().toByteArray())));
                j.put("y", B64.encodeToString(fixed(k.getW().getAffineY().toByteArray())));
            }
            j.put("use", "sig");
            j.put("alg", alg);
            j.put("kid", kid);
            return j;
        }

        private static byte[] fixed(byte[] b) {
            byte[] out = new byte[32];
            int n = Math.min(32, b.length);
            System.arraycopy(b, b.length - n, out, 32 - n, n);
            return out;
        }

        String sign(Map<String, Object> sess) throws Exception {
            long now = System.currentTimeMillis() / 1000;
            Map<String, Object> claims = new LinkedHashMap<>();
            claims.put("sid", "s-" + kid);
            claims.put("sess", sess);
            claims.put("new", false);
            claims.put("iss", "sessionproxy");
            claims.put("iat", now);
            claims.put("exp", now + 60);
            String head = B64.encodeToString(Json.write(Map.of("alg", alg, "typ", "JWT", "kid", kid)).getBytes(StandardCharsets.UTF_8));
            String body = B64.encodeToString(Json.write(claims).getBytes(StandardCharsets.UTF_8));
            Signature s = Signature.getInstance(alg.equals("EdDSA") ? "Ed25519" : "SHA256withECDSAinP1363Format");
            s.initSign(pair.getPrivate());
            s.update((head + "." + body).getBytes(StandardCharsets.US_ASCII));
            return head + "." + body + "." + B64.encodeToString(s.sign());
        }
    }

    static String jwks(SigningKey... keys) {
        List<Object> list = new ArrayList<>();
        for (SigningKey k : keys) {
            list.add(k.jwk());
        }
        return Json.write(Map.of("keys", list));
    }

    static HttpResponse<String> get(FilterTest.App app, String token) throws Exception {
        return FilterTest.CLIENT.send(HttpRequest.newBuilder(URI.create(app.url("/user"))).header("X-Session", token).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void edDsaAndEs256KeysFromAJwksUrl() throws Exception {
        SigningKey ed = SigningKey.generate("EdDSA", "ed-1");
        SigningKey ec = SigningKey.generate("ES256", "ec-1");
        SigningKey rotated = SigningKey.generate("EdDSA", "ed-2");
        try (JwksServer jwks = new JwksServer(jwks(ed, ec));
                FilterTest.App app = new FilterTest.App(SessionProxyFilter.builder().jwksUrl(jwks.url()).build())) {
            app.routes.put("/user", (req, res) -> res.getWriter().print(req.getSession().getAttribute("user") + " " + req.getSession().getId()));
            assertEquals("ann s-ed-1", get(app, ed.sign(Map.of("user", "ann"))).body());
            assertEquals("bob s-ec-1", get(app, ec.sign(Map.of("user", "bob"))).body());
            assertEquals(1, jwks.hits.get(), "the keys are cached");

            // HS256 is not accepted without a secret, whatever its signature.
            assertEquals(401, get(app, SessionProxyTesting.mintToken("any", Map.of("user", "eve"))).statusCode());
            // A signature by a key the JWKS does not publish under that kid.
            SigningKey impostor = new SigningKey("EdDSA", "ed-1", SigningKey.generate("EdDSA", "x").pair());
            assertEquals(401, get(app, impostor.sign(Map.of("user", "eve"))).statusCode());

            // A key the proxy started signing with after the set was fetched.
            jwks.doc.set(jwks(ed, ec, rotated));
            assertEquals("cy s-ed-2", get(app, rotated.sign(Map.of("user", "cy"))).body());
            int hits = jwks.hits.get();
            // Made-up kids refetch at most once per interval.
            for (int i = 0; i < 5; i++) {
                assertEquals(401, get(app, SigningKey.generate("EdDSA", "made-up-" + i).sign(Map.of())).statusCode());
            }
            assertEquals(hits, jwks.hits.get(), "an unknown kid soon after a fetch fetches nothing");
        }
    }

    @Test
    void aJwksOutageIs503NotA401() throws Exception {
        SigningKey ed = SigningKey.generate("EdDSA", "ed-1");
        try (JwksServer jwks = new JwksServer(jwks(ed));
                FilterTest.App app = new FilterTest.App(SessionProxyFilter.builder().jwksUrl(jwks.url()).build())) {
            app.routes.put("/user", (req, res) -> res.getWriter().print("ok"));
            jwks.status.set(500);
            HttpResponse<String> r = get(app, ed.sign(Map.of()));
            assertEquals(503, r.statusCode());
            assertEquals("503 Service Unavailable: the session keys are unavailable\n", r.body());
        }
    }

    @Test
    void aRefetchAfterTheIntervalFindsARotatedKey() throws Exception {
        SigningKey ed = SigningKey.generate("EdDSA", "ed-1");
        SigningKey ec = SigningKey.generate("ES256", "ec-2");
        try (JwksServer jwks = new JwksServer(jwks(ed))) {
            Verifier v = Verifier.builder().jwksUrl(jwks.url())
                    .jwksTimings(Duration.ofMillis(200), Duration.ofMinutes(5), Duration.ofSeconds(5)).build();
            v.verify(ed.sign(Map.of()));
            jwks.doc.set(jwks(ed, ec));
            Thread.sleep(250);
            assertEquals("s-ec-2", v.verify(ec.sign(Map.of())).get("sid"));
        }
    }
}
