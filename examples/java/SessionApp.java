// koa-session's "full application example" as a sessionproxy upstream in
// plain Java 17, without a library: verify the HS256 token the proxy sends
// in X-Session, answer with X-Session-* directives.
//
//     UPSTREAM_SECRET=... java SessionApp.java --port 8080
//
// UPSTREAM_AUDIENCE, when the proxy's routes or token.audience give this
// app one, refuses a token made for another upstream.
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.Executors;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

public class SessionApp {
    static byte[] secret;
    static String audience; // null: aud is not checked
    static final long LEEWAY_SECONDS = 5; // clock skew allowed on exp, as the libraries allow

    public static void main(String[] args) throws Exception {
        String s = System.getenv("UPSTREAM_SECRET");
        if (s == null || s.isEmpty()) {
            System.err.println("UPSTREAM_SECRET is required");
            System.exit(1);
        }
        secret = s.getBytes(StandardCharsets.UTF_8);
        String aud = System.getenv("UPSTREAM_AUDIENCE");
        audience = aud == null || aud.isEmpty() ? null : aud;
        int port = args.length == 2 && args[0].equals("--port") ? Integer.parseInt(args[1]) : 8080;
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 0);
        server.setExecutor(Executors.newCachedThreadPool());
        server.createContext("/", SessionApp::handle);
        server.start();
        System.out.println("listening on 127.0.0.1:" + server.getAddress().getPort());
    }

    static void handle(HttpExchange ex) throws java.io.IOException {
        Map<String, String> sess = verify(ex.getRequestHeaders().getFirst("X-Session"));
        var h = ex.getResponseHeaders();
        if (sess == null) {
            reply(ex, 401, "unauthorized");
            return;
        }
        switch (ex.getRequestURI().getPath()) {
            case "/set" -> {
                h.set("X-Session-Set", "{\"user\":{\"name\":\"john doe\",\"age\":30}}");
                reply(ex, 200, "session set");
            }
            case "/get" -> {
                String user = sess.get("user");
                if (user == null || user.equals("null")) {
                    reply(ex, 204, "");
                } else {
                    h.set("Content-Type", "application/json");
                    reply(ex, 200, user);
                }
            }
            case "/destroy" -> {
                h.set("X-Session-Destroy", "true");
                reply(ex, 200, "session destroyed");
            }
            case "/renew" -> {
                h.set("X-Session-Renew", "true");
                reply(ex, 200, "session renewed");
            }
            default -> reply(ex, 404, "not found");
        }
    }

    // verify returns the session's top-level keys (raw JSON values) if the
    // token is the proxy's: HS256, signature right (constant-time compare),
    // not expired (with a few seconds of leeway), issuer "sessionproxy",
    // and for this app's audience when it has one. Anything else is null:
    // a 401.
    static Map<String, String> verify(String token) {
        try {
            String[] p = token.split("\\.", -1);
            var b64 = Base64.getUrlDecoder();
            Map<String, String> header = members(new String(b64.decode(p[0]), StandardCharsets.UTF_8));
            if (p.length != 3 || !"\"HS256\"".equals(header.get("alg"))) return null;
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(secret, "HmacSHA256"));
            byte[] want = mac.doFinal((p[0] + "." + p[1]).getBytes(StandardCharsets.US_ASCII));
            if (!MessageDigest.isEqual(want, b64.decode(p[2]))) return null;
            Map<String, String> claims = members(new String(b64.decode(p[1]), StandardCharsets.UTF_8));
            double exp = Double.parseDouble(claims.get("exp"));
            if (!Double.isFinite(exp) || (exp + LEEWAY_SECONDS) * 1000 <= System.currentTimeMillis()) return null;
            if (!"\"sessionproxy\"".equals(claims.get("iss"))) return null;
            if (audience != null && !forAudience(claims.get("aud"))) return null;
            return members(claims.get("sess"));
        } catch (Exception e) { // no token, bad base64, not JSON, no exp...
            return null;
        }
    }

    // forAudience reports whether aud (raw JSON: a string or a list of
    // strings) names this app's audience.
    static boolean forAudience(String aud) {
        if (aud == null) return false;
        String want = "\"" + audience + "\"";
        if (aud.equals(want)) return true;
        if (!aud.startsWith("[") || !aud.endsWith("]")) return false;
        for (String a : aud.substring(1, aud.length() - 1).split(",")) {
            if (a.trim().equals(want)) return true;
        }
        return false;
    }

    // members returns the top-level members of the JSON object s, each
    // value as its raw JSON text. Enough JSON for flat claims.
    static Map<String, String> members(String s) {
        s = s.trim();
        if (!s.startsWith("{") || !s.endsWith("}")) throw new IllegalArgumentException("not a JSON object");
        Map<String, String> out = new HashMap<>();
        String key = null;
        int depth = 0, value = -1;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '"') { // skip the string; at depth 1 before ':', it is a key
                int j = i + 1;
                while (s.charAt(j) != '"') j += s.charAt(j) == '\\' ? 2 : 1;
                if (depth == 1 && value < 0) key = s.substring(i + 1, j);
                i = j;
            } else if (c == ':' && depth == 1) {
                value = i + 1;
            } else if (c == '{' || c == '[') {
                depth++;
            } else if ((c == ',' && depth == 1) || ((c == '}' || c == ']') && --depth == 0)) {
                if (key != null && value >= 0) out.put(key, s.substring(value, i).trim());
                key = null;
                value = -1;
            }
        }
        return out;
    }

    static void reply(HttpExchange ex, int status, String body) throws java.io.IOException {
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        ex.sendResponseHeaders(status, status == 204 ? -1 : b.length);
        if (status != 204) ex.getResponseBody().write(b);
        ex.close();
    }
}
