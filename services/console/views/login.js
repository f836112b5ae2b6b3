// Log in with email and password; the session token goes to sessionStorage.
import { post, setSession } from "../api.js";
import { errorSlot, field, h, onSubmit } from "../dom.js";

export async function loginView(root, { onLogin }) {
  const errors = errorSlot();
  const form = h(
    "form",
    { class: "card narrow", "aria-labelledby": "login-title" },
    h("h1", { id: "login-title" }, "Log in"),
    h("p", { class: "muted" }, "Use the email and password of your console account. On a fresh local install, ", h("code", null, "make run"), " prints the first admin's."),
    field("Email", { name: "email", type: "email", autocomplete: "username", required: true, autofocus: true }),
    field("Password", { name: "password", type: "password", autocomplete: "current-password", required: true }),
    errors,
    h("button", { type: "submit" }, "Log in"),
  );
  onSubmit(form, errors, async (data) => {
    const created = await post("/auth/login", { email: String(data.get("email")).trim(), password: data.get("password") });
    setSession(created.token);
    onLogin();
  });
  root.append(form);
  form.querySelector("input").focus();
}
