package example.spring;

import io.github.sessionproxy.servlet.SessionProxyFilter;
import jakarta.servlet.DispatcherType;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import jakarta.servlet.http.HttpSession;
import java.security.Principal;
import java.util.Map;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.web.servlet.FilterRegistrationBean;
import org.springframework.boot.web.servlet.ServletRegistrationBean;
import org.springframework.context.annotation.Bean;
import org.springframework.core.Ordered;
import org.springframework.security.config.ObjectPostProcessor;
import org.springframework.security.config.annotation.web.builders.HttpSecurity;
import org.springframework.security.core.userdetails.User;
import org.springframework.security.core.userdetails.UserDetailsService;
import org.springframework.security.provisioning.InMemoryUserDetailsManager;
import org.springframework.security.web.SecurityFilterChain;
import org.springframework.security.web.authentication.UsernamePasswordAuthenticationFilter;
import org.springframework.security.web.csrf.CookieCsrfTokenRepository;
import org.springframework.security.web.savedrequest.CookieRequestCache;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.servlet.ModelAndView;

/** A Spring Boot app as the README registers the filter, with Spring Security's form login and CSRF as the README sets them. */
@SpringBootApplication
@RestController
public class SpringApp {
    static final String SECRET = "spring-test-secret-0123456789abcdef";

    @Bean
    FilterRegistrationBean<SessionProxyFilter> sessionProxy() {
        var reg = new FilterRegistrationBean<>(SessionProxyFilter.builder().secret(SECRET).build());
        reg.setOrder(Ordered.HIGHEST_PRECEDENCE + 50);
        reg.setDispatcherTypes(DispatcherType.REQUEST, DispatcherType.FORWARD, DispatcherType.ASYNC, DispatcherType.ERROR);
        return reg;
    }

    /**
     * A plain servlet beside Spring MVC that forwards with the servlet
     * context's dispatcher, as servlet code written before Spring does.
     */
    @Bean
    ServletRegistrationBean<HttpServlet> plainServlet() {
        return new ServletRegistrationBean<>(new HttpServlet() {
            private static final long serialVersionUID = 1L;

            @Override
            protected void doGet(HttpServletRequest req, HttpServletResponse res) throws ServletException, java.io.IOException {
                req.getSession().setAttribute("forwarded", "by the servlet context");
                getServletContext().getRequestDispatcher("/cart/view").forward(req, res);
            }
        }, "/cart/plain");
    }

    @Bean
    SecurityFilterChain security(HttpSecurity http) throws Exception {
        return http
            .authorizeHttpRequests(a -> a.requestMatchers("/cart/**").permitAll().anyRequest().authenticated())
            .formLogin(f -> f.withObjectPostProcessor(new ObjectPostProcessor<UsernamePasswordAuthenticationFilter>() {
                @Override
                public <O extends UsernamePasswordAuthenticationFilter> O postProcess(O filter) {
                    // To the form again, without keeping the exception (not JSON) in the session.
                    filter.setAuthenticationFailureHandler((request, response, e) -> response.sendRedirect(request.getContextPath() + "/login?error"));
                    return filter;
                }
            }))
            .securityContext(c -> c.securityContextRepository(new JsonSessionSecurityContextRepository()))
            .requestCache(c -> c.requestCache(new CookieRequestCache()))
            .csrf(c -> c.csrfTokenRepository(new CookieCsrfTokenRepository()))
            .build();
    }

    @Bean
    UserDetailsService users() {
        return new InMemoryUserDetailsManager(User.withUsername("ann").password("{noop}pw").roles("USER").build());
    }

    @GetMapping("/me")
    String me(Principal user) {
        return user.getName();
    }

    @GetMapping("/boom")
    String boom() {
        throw new IllegalStateException("boom");
    }

    @GetMapping("/cart/forward")
    ModelAndView forward(HttpSession session) {
        session.setAttribute("forwarded", true);
        return new ModelAndView("forward:/cart/view");
    }

    @GetMapping("/cart/view")
    void view(HttpSession session, HttpServletResponse response) throws java.io.IOException {
        response.getWriter().print("forwarded " + session.getAttribute("forwarded")); // as a JSP writes, no Content-Length
    }

    /** A body written whole, then its length: Tomcat counts the response complete, and so committed, there. */
    @GetMapping("/cart/length")
    void length(HttpSession session, HttpServletResponse response) throws java.io.IOException {
        session.setAttribute("length", true);
        byte[] body = "written, then measured".getBytes(java.nio.charset.StandardCharsets.UTF_8);
        response.getOutputStream().write(body);
        response.setContentLength(body.length);
    }

    @GetMapping("/cart/add")
    Object add(HttpSession session, @RequestParam String item) {
        Object cart = session.getAttribute("cart");
        session.setAttribute("cart", cart == null ? java.util.List.of(item) : java.util.List.of(cart, item));
        return Map.of("cart", session.getAttribute("cart"));
    }
}
