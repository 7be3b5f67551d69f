package example.spring;

import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import jakarta.servlet.http.HttpSession;
import java.util.List;
import java.util.Map;
import org.springframework.security.authentication.AnonymousAuthenticationToken;
import org.springframework.security.authentication.UsernamePasswordAuthenticationToken;
import org.springframework.security.core.Authentication;
import org.springframework.security.core.GrantedAuthority;
import org.springframework.security.core.authority.SimpleGrantedAuthority;
import org.springframework.security.core.context.SecurityContext;
import org.springframework.security.core.context.SecurityContextHolder;
import org.springframework.security.web.context.HttpRequestResponseHolder;
import org.springframework.security.web.context.SecurityContextRepository;

/** The sketch in sdk/java/README.md: the security context kept in the session as JSON. */
final class JsonSessionSecurityContextRepository implements SecurityContextRepository {
    @Override
    public SecurityContext loadContext(HttpRequestResponseHolder holder) {
        SecurityContext context = SecurityContextHolder.createEmptyContext();
        HttpSession session = holder.getRequest().getSession(false);
        if (session != null && session.getAttribute("auth") instanceof Map<?, ?> auth) {
            List<SimpleGrantedAuthority> roles = ((List<?>) auth.get("roles")).stream()
                .map(r -> new SimpleGrantedAuthority((String) r)).toList();
            context.setAuthentication(UsernamePasswordAuthenticationToken.authenticated(auth.get("name"), null, roles));
        }
        return context;
    }

    @Override
    public void saveContext(SecurityContext context, HttpServletRequest request, HttpServletResponse response) {
        Authentication a = context.getAuthentication();
        if (a == null || !a.isAuthenticated() || a instanceof AnonymousAuthenticationToken) {
            HttpSession session = request.getSession(false);
            if (session != null) {
                session.removeAttribute("auth");
            }
            return;
        }
        request.getSession().setAttribute("auth", Map.of("name", a.getName(),
            "roles", a.getAuthorities().stream().map(GrantedAuthority::getAuthority).toList()));
    }

    @Override
    public boolean containsContext(HttpServletRequest request) {
        HttpSession session = request.getSession(false);
        return session != null && session.getAttribute("auth") != null;
    }
}
