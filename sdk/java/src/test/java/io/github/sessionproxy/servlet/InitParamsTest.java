package io.github.sessionproxy.servlet;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import jakarta.servlet.FilterConfig;
import jakarta.servlet.ServletContext;
import jakarta.servlet.ServletException;
import java.util.Collections;
import java.util.Enumeration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** SessionProxyFilter's web.xml init-params: a setting that cannot work stops the app at start-up. */
class InitParamsTest {
    static FilterConfig config(Map<String, String> params) {
        return new FilterConfig() {
            @Override
            public String getFilterName() {
                return "sessionproxy";
            }

            @Override
            public ServletContext getServletContext() {
                return null;
            }

            @Override
            public String getInitParameter(String name) {
                return params.get(name);
            }

            @Override
            public Enumeration<String> getInitParameterNames() {
                return Collections.enumeration(params.keySet());
            }
        };
    }

    /** A typo in required must not turn the token check off. */
    @Test
    void requiredIsTrueOrFalse() throws Exception {
        for (String v : new String[] {"yes", "ture", "1", ""}) {
            ServletException e = assertThrows(ServletException.class,
                    () -> new SessionProxyFilter().init(config(Map.of("secret", "s3cret", "required", v))), v);
            assertTrue(e.getMessage().contains("required"), e.getMessage());
        }
        for (String v : new String[] {"true", "false", " TRUE ", "False"}) {
            new SessionProxyFilter().init(config(Map.of("secret", "s3cret", "required", v)));
        }
    }
}
