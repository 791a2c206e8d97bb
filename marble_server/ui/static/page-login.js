// The login form: a token checked against GET /auth/me and kept for the browser session.

import { login } from "./api.js";
import { el } from "./dom.js";

export function loginPage(main, view) {
  const input = el("input", {
    id: "token-input",
    type: "password",
    autocomplete: "off",
    placeholder: "marble_...",
    required: true,
  });
  const message = el("p", { id: "login-error", className: "error" });
  const form = el(
    "form",
    {
      id: "login-form",
      onsubmit: async (event) => {
        event.preventDefault();
        message.textContent = "";
        try {
          await login(input.value.trim());
          // The brains page follows a login; view.go draws it once whether or not the
          // address changes.
          view.go("brains");
        } catch (error) {
          message.textContent = `Login refused: ${error.message}`;
        }
      },
    },
    el("h2", { text: "Log in" }),
    el("p", { text: "Paste an API token (marble token create NAME --scopes ...). It is kept only for this browser session." }),
    el("label", { for: "token-input", text: "Token" }),
    input,
    el("button", { id: "login-button", type: "submit", text: "Log in" }),
    message,
  );
  main.append(form);
}
