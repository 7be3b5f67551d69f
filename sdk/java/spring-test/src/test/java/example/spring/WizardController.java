package example.spring;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.springframework.stereotype.Controller;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.ModelAttribute;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.ResponseBody;
import org.springframework.web.bind.annotation.SessionAttributes;

/** A form wizard keeping its state with @SessionAttributes, answering with a body that may be larger than the response buffer. */
@Controller
@SessionAttributes("wizard")
public class WizardController {
    @ModelAttribute("wizard")
    Map<String, Object> wizard() {
        return new LinkedHashMap<>();
    }

    @GetMapping("/cart/wizard")
    @ResponseBody
    List<Object> step(@ModelAttribute("wizard") Map<String, Object> wizard, @RequestParam String step, @RequestParam int rows) {
        wizard.put(step, true);
        List<Object> out = new ArrayList<>();
        for (int i = 0; i < rows; i++) {
            out.add(Map.of("row", i, "text", "a row of the wizard's answer"));
        }
        return out; // written, and so committed when large, before Spring stores the wizard in the session again
    }
}
