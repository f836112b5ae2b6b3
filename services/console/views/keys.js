// API keys (tokens): create with models, limits, budget and period, expiry (the raw
// value is shown once); edit; revoke; regenerate where the server offers it.
import { get, patch, post, tenantPath } from "../api.js";
import { offers } from "../capabilities.js";
import { action, badge, errorSlot, field, fmt, h, onSubmit, optionalNumber, section, text } from "../dom.js";
import { can, canTokens } from "../roles.js";
import { pagedTable } from "./paged.js";

const PERIODS = [["lifetime", "Lifetime"], ["daily", "Daily"], ["weekly", "Weekly"], ["monthly", "Monthly"]];
const REGENERATE = "/tenants/{tenant_id}/tokens/{token_id}/regenerate";

function limits(token) {
  const parts = [];
  if (token.rpm != null) parts.push(`${fmt.num(token.rpm)} rpm`);
  if (token.tpm != null) parts.push(`${fmt.num(token.tpm)} tpm`);
  return parts.length ? parts.join(" · ") : "none";
}

function budget(token) {
  if (token.budget_usd == null) return h("span", null, "none", token.spent_usd ? h("span", { class: "muted" }, ` (${fmt.usd(token.spent_usd)} spent)`) : null);
  const period = token.budget_period && token.budget_period !== "lifetime" ? ` ${token.budget_period}` : "";
  return h("span", null, `${fmt.usd(token.spent_usd)} of ${fmt.usd(token.budget_usd)}${period}`,
    token.resets_at ? h("span", { class: "muted" }, ` · resets ${fmt.date(token.resets_at)}`) : null);
}

function status(token) {
  if (token.revoked_at) return badge(`revoked ${fmt.date(token.revoked_at)}`, "bad");
  if (token.expires_at && new Date(token.expires_at) < new Date()) return badge("expired", "bad");
  return badge("active", "ok");
}

function secretBox(created, verb) {
  const input = h("input", { id: "new-token", type: "text", readonly: true, value: created.token, spellcheck: "false", autocomplete: "off" });
  const said = h("span", { role: "status", class: "muted" });
  const copy = async () => {
    input.select();
    try {
      await navigator.clipboard.writeText(created.token);
      said.textContent = "Copied.";
    } catch {
      // clipboard access can be refused (no HTTPS, no permission): the value stays selected
      said.textContent = "Press Ctrl+C (⌘C) to copy the selected key.";
    }
  };
  return h(
    "section",
    { class: "secret", "aria-labelledby": "secret-title" },
    h("h2", { id: "secret-title" }, `Key “${created.name}” ${verb}`),
    h("p", { class: "warning" }, h("strong", null, "Copy this key now. "), "It is shown only once and cannot be displayed again; if you lose it, revoke it and create a new one."),
    h("div", { class: "copy-row" }, h("label", { for: "new-token", class: "visually-hidden" }, "New key"), input, h("button", { type: "button", onclick: copy }, "Copy")),
    said,
  );
}

const toLocalInput = (iso) => {
  if (!iso) return "";
  const d = new Date(iso);
  return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
};

function limitFields(token, modelNames) {
  const tz = token?.budget_timezone || Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  return [
    field("Models (comma-separated, empty = all)", {
      name: "models",
      value: token?.models?.join(", ") ?? "",
      placeholder: modelNames.slice(0, 2).join(", ") || "gpt-4o, claude",
      hint: modelNames.length ? `This tenant's models: ${modelNames.join(", ")}` : null,
    }),
    field("Requests per minute", { name: "rpm", type: "number", min: 1, step: 1, value: token?.rpm ?? "" }),
    field("Tokens per minute", { name: "tpm", type: "number", min: 1, step: 1, value: token?.tpm ?? "" }),
    field("Budget (USD)", { name: "budget_usd", type: "number", min: 0, step: "0.01", value: token?.budget_usd ?? "" }),
    field("Budget period", { name: "budget_period", value: token?.budget_period ?? "lifetime" }, PERIODS),
    field("Budget time zone", { name: "budget_timezone", value: tz, hint: "Where a day, week or month begins (IANA name)." }),
    field("Expires", { name: "expires_at", type: "datetime-local", value: toLocalInput(token?.expires_at), hint: "Empty: never." }),
  ];
}

function limitsBody(data, { clearing }) {
  const body = {};
  const models = text(data, "models").split(",").map((m) => m.trim()).filter(Boolean);
  if (models.length) body.models = models;
  else if (clearing) body.models = null;
  for (const name of ["rpm", "tpm", "budget_usd"]) {
    const value = optionalNumber(data, name);
    if (value !== undefined) body[name] = value;
    else if (clearing) body[name] = null;
  }
  body.budget_period = data.get("budget_period");
  body.budget_timezone = text(data, "budget_timezone") || "UTC";
  const expires = text(data, "expires_at");
  if (expires) body.expires_at = new Date(expires).toISOString();
  else if (clearing) body.expires_at = null;
  return body;
}

export async function keysView(root, { tenantId }) {
  const path = tenantPath(tenantId, "tokens");
  const canWrite = canTokens(tenantId, "write");
  const canEdit = can(tenantId, "tokens", "write");
  const canRegenerate = canWrite && offers("POST", REGENERATE);
  const listErrors = errorSlot();
  const list = h("div");
  const created = h("div");
  const editor = h("div");
  let modelNames = [];

  const edit = (token) => {
    const errors = errorSlot();
    const form = h(
      "form",
      { class: "card", "aria-labelledby": "edit-key" },
      h("h2", { id: "edit-key", tabindex: "-1" }, `Edit key “${token.name}”`),
      h("div", { class: "grid" }, limitFields(token, modelNames)),
      errors,
      h("div", { class: "buttons" },
        h("button", { type: "submit" }, "Save key"),
        h("button", { type: "button", class: "secondary", onclick: () => editor.replaceChildren() }, "Cancel")),
    );
    onSubmit(form, errors, async (data) => {
      await patch(tenantPath(tenantId, "tokens", token.id), limitsBody(data, { clearing: true }));
      editor.replaceChildren();
      await keys.reload();
    });
    editor.replaceChildren(form);
    form.querySelector("h2").focus();
  };

  const actions = (t) => {
    if (t.revoked_at || !canWrite) return "";
    return h("div", { class: "inline" },
      canEdit ? h("button", { type: "button", class: "secondary small", "aria-label": `Edit ${t.name}`, onclick: () => edit(t) }, "Edit") : null,
      canRegenerate ? action("Regenerate", listErrors, async () => {
        const fresh = await post(tenantPath(tenantId, "tokens", t.id, "regenerate"));
        created.replaceChildren(secretBox(fresh, "regenerated"));
        await keys.reload();
        created.querySelector("input").focus();
      }, { aria: `Regenerate ${t.name}`, confirmText: `Regenerate “${t.name}”? The current value stops working.` }) : null,
      action("Revoke", listErrors, async () => {
        await post(tenantPath(tenantId, "tokens", t.id, "revoke"));
        await keys.reload();
      }, { cls: "danger", aria: `Revoke ${t.name}`, confirmText: `Revoke the key “${t.name}”? Apps using it will stop working. This cannot be undone.` }),
    );
  };

  const keys = pagedTable(list, path, {
    caption: "Keys",
    empty: "No keys yet.",
    next: canWrite ? "Create one below, then call the gateway with it as an OpenAI or Anthropic API key." : "Ask an admin of this tenant for a key.",
    columns: [
      { label: "Name", cell: (t) => t.name },
      { label: "Prefix", cell: (t) => h("code", null, `${t.prefix}…`) },
      { label: "Models", cell: (t) => (t.models ? t.models.join(", ") : "all") },
      { label: "Limits", cell: limits },
      { label: "Budget", cell: budget },
      { label: "Expires", cell: (t) => (t.expires_at ? fmt.date(t.expires_at) : "never") },
      { label: "Last used", cell: (t) => fmt.date(t.last_used_at) },
      { label: "Status", cell: status },
      ...(canWrite ? [{ label: "Actions", cell: actions }] : []),
    ],
  });

  root.append(h("h1", null, "Keys"), created, editor, listErrors, list);
  if (can(tenantId, "models")) {
    try {
      modelNames = (await get(`${tenantPath(tenantId, "ai-models")}?limit=200`)).items.map((m) => m.name);
    } catch {
      modelNames = []; // only a hint: the form works without it
    }
  }

  if (canWrite) {
    const errors = errorSlot();
    const form = h(
      "form",
      { class: "card", "aria-labelledby": "create-key" },
      h("h2", { id: "create-key" }, "Create a key"),
      h("div", { class: "grid" },
        field("Name", { name: "name", required: true, placeholder: "my-app", pattern: "[A-Za-z0-9][A-Za-z0-9._\\-]*" }),
        limitFields(null, modelNames)),
      canRegenerate ? null : h("p", { class: "muted" }, "To replace a key's value, create a new key and revoke the old one."),
      errors,
      h("button", { type: "submit" }, "Create key"),
    );
    onSubmit(form, errors, async (data) => {
      const token = await post(path, { name: text(data, "name"), ...limitsBody(data, { clearing: false }) });
      form.reset();
      created.replaceChildren(secretBox(token, "created"));
      await keys.reload();
      created.querySelector("input").focus();
    });
    root.append(form);
  }
  await section(list, () => keys.reload(), "Keys");
}
