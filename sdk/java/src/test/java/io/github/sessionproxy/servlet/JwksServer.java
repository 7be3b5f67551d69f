package io.github.sessionproxy.servlet;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/** A JWKS served over HTTP on 127.0.0.1, as the proxy's admin listener serves it; the document can be changed or failed. */
final class JwksServer implements AutoCloseable {
    final AtomicReference<String> doc = new AtomicReference<>();
    final AtomicInteger status = new AtomicInteger(200);
    final AtomicInteger hits = new AtomicInteger();
    private final HttpServer server;

    JwksServer(String doc) throws IOException {
        this.doc.set(doc);
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/.well-known/jwks.json", ex -> {
            hits.incrementAndGet();
            byte[] b = this.doc.get().getBytes(StandardCharsets.UTF_8);
            ex.getResponseHeaders().set("Content-Type", "application/jwk-set+json");
            ex.sendResponseHeaders(status.get(), b.length);
            try (OutputStream out = ex.getResponseBody()) {
                out.write(b);
            }
        });
        server.start();
    }

    String url() {
        return "http://127.0.0.1:" + server.getAddress().getPort() + "/.well-known/jwks.json";
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
