package example.spring;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.springframework.test.web.servlet.request.MockMvcRequestBuilders.get;

import io.github.sessionproxy.servlet.SessionProxyFilter;
import io.github.sessionproxy.servlet.SessionProxyTesting.SessionJar;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.http.ResponseEntity;
import org.springframework.test.web.servlet.MockMvc;
import org.springframework.test.web.servlet.MvcResult;
import org.springframework.test.web.servlet.setup.MockMvcBuilders;
import org.springframework.web.client.RestClient;
import org.springframework.web.context.WebApplicationContext;

/** SessionProxyTesting as the README's Testing section has a Spring app use it. */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = "server.address=127.0.0.1")
class SpringTestingTest {
    @LocalServerPort
    int port;

    @Autowired
    WebApplicationContext context;

    /** Spring Framework 7's HttpHeaders is no Map: the jar takes its asMultiValueMap(). */
    @Test
    void aJarAcrossRestClientCalls() {
        SessionJar jar = new SessionJar(SpringApp.SECRET);
        RestClient client = RestClient.create("http://127.0.0.1:" + port);
        for (String item : List.of("book", "pen")) {
            ResponseEntity<String> r = client.get().uri("/cart/add?item=" + item).header("X-Session", jar.token()).retrieve().toEntity(String.class);
            jar.apply(r.getHeaders().asMultiValueMap());
        }
        assertEquals(List.of(List.of("book"), "pen"), jar.data().get("cart")); // SpringApp nests the cart it had
    }

    @Test
    void aJarAcrossMockMvcCalls() throws Exception {
        SessionJar jar = new SessionJar(SpringApp.SECRET);
        MockMvc mvc = MockMvcBuilders.webAppContextSetup(context).addFilters(SessionProxyFilter.builder().secret(SpringApp.SECRET).build()).build();
        for (String item : List.of("book", "pen")) {
            MvcResult r = mvc.perform(get("/cart/add").param("item", item).header("X-Session", jar.token())).andReturn();
            jar.apply(r.getResponse());
        }
        assertEquals(List.of(List.of("book"), "pen"), jar.data().get("cart")); // SpringApp nests the cart it had
    }
}
