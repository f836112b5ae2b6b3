// Tokens: list, create (the raw value is shown once), revoke.
import { post, tenantPath } from "../api.js";
import { errorSlot, field, fmt, h, onSubmit, optionalNumber } from "../dom.js";
import { pagedTable } from "./paged.js";

function limits(token) {
  const parts = [];
  if (token.rpm != null) parts.push(`${fmt.num(token.rpm)} rpm`);
  if (token.tpm != null) parts.push(`${fmt.num(token.tpm)} tpm`);
  if (token.budget_usd != null) parts.push(`${fmt.usd(token.budget_usd)} budget`);
  return parts.length ? parts.join(" · ") : "none";
}

function secretBox(created) {
  const input = h("input", { id: "new-token", type: "text", readonly: true, value: created.token, spellcheck: "false", autocomplete: "off" });
  const status = h("span", { role: "status", class: "muted" });
  const copy = async () => {
    input.select();
    try {
      await navigator.clipboard.writeText(created.token);
      status.textContent = "Copied.";
    } catch {
      // clipboard access can be refused (no HTTPS, no permission): the value stays selected
      status.textContent = "Press Ctrl+C (⌘C) to copy the selected token.";
    }
  };
  return h(
    "section",
    { class: "secret", "aria-labelledby": "secret-title" },
    h("h2", { id: "secret-title" }, `Token “${created.name}” created`),
    h("p", { class: "warning" }, h("strong", null, "Copy this token now. "), "It is shown only once and cannot be displayed again; if you lose it, revoke it and create a new one."),
    h("div", { class: "copy-row" }, h("label", { for: "new-token", class: "visually-hidden" }, "New token"), input, h("button", { type: "button", onclick: copy }, "Copy")),
    status,
  );
}

export async function tokensView(root, { tenantId }) {
  const path = tenantPath(tenantId, "tokens");
  const listErrors = errorSlot();
  const list = h("div");
  const created = h("div");
  const errors = errorSlot();

  const refresh = () =>
    pagedTable(list, path, {
      caption: "Tokens",
      empty: "No tokens yet.",
      columns: [
        { label: "Name", cell: (t) => t.name },
        { label: "Prefix", cell: (t) => h("code", null, `${t.prefix}…`) },
        { label: "Models", cell: (t) => (t.models ? t.models.join(", ") : "all") },
        { label: "Limits", cell: limits },
        { label: "Expires", cell: (t) => (t.expires_at ? fmt.date(t.expires_at) : "never") },
        { label: "Status", cell: (t) => (t.revoked_at ? h("span", { class: "badge bad" }, `revoked ${fmt.date(t.revoked_at)}`) : h("span", { class: "badge ok" }, "active")) },
        { label: "Actions", cell: (t) => (t.revoked_at ? "" : h("button", { type: "button", class: "danger", "aria-label": `Revoke ${t.name}`, onclick: () => revoke(t) }, "Revoke")) },
      ],
    });

  const revoke = async (token) => {
    if (!window.confirm(`Revoke the token “${token.name}”? Apps using it will stop working. This cannot be undone.`)) return;
    listErrors.clear();
    try {
      await post(tenantPath(tenantId, "tokens", token.id, "revoke"));
      await refresh();
    } catch (error) {
      listErrors.show(error);
    }
  };

  const form = h(
    "form",
    { class: "card", "aria-labelledby": "create-token" },
    h("h2", { id: "create-token" }, "Create a token"),
    h(
      "div",
      { class: "grid" },
      field("Name", { name: "name", required: true, placeholder: "my-app", pattern: "[A-Za-z0-9][A-Za-z0-9._\\-]*" }),
      field("Models (comma-separated, empty = all)", { name: "models", placeholder: "gpt-4o, claude" }),
      field("Requests per minute", { name: "rpm", type: "number", min: 1, step: 1 }),
      field("Tokens per minute", { name: "tpm", type: "number", min: 1, step: 1 }),
      field("Budget (USD)", { name: "budget_usd", type: "number", min: 0, step: "0.01" }),
    ),
    errors,
    h("button", { type: "submit" }, "Create token"),
  );
  onSubmit(form, errors, async (data) => {
    const body = { name: String(data.get("name")).trim() };
    const models = String(data.get("models")).split(",").map((m) => m.trim()).filter(Boolean);
    if (models.length) body.models = models;
    for (const name of ["rpm", "tpm", "budget_usd"]) {
      const value = optionalNumber(data, name);
      if (value !== undefined) body[name] = value;
    }
    const token = await post(path, body);
    form.reset();
    created.replaceChildren(secretBox(token));
    await refresh();
    created.querySelector("input").focus();
  });

  root.append(h("h1", null, "Tokens"), created, listErrors, list, form);
  await refresh();
}
