// One provider: edit, delete, its keys (add, rename, weight, disable, rotate, delete)
// and its health (breaker state of each deployment and key, recent failures: health.js).
import { del, get, patch, post, put, tenantPath } from "../api.js";
import { offers } from "../capabilities.js";
import { action, badge, errorSlot, facts, field, fmt, h, onSubmit, panel, section, table, text } from "../dom.js";
import { can } from "../roles.js";
import { HEALTH, loadHealth } from "./health.js";

export const TYPES = ["openai", "openai-compatible", "azure-openai", "anthropic", "gemini"];

/** "Name: value" lines as a headers object. */
export function headersFrom(raw) {
  const headers = {};
  for (const line of raw.split("\n")) {
    const at = line.indexOf(":");
    if (at > 0) headers[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return headers;
}

export async function providerDetailView(root, { tenantId, id, setTitle, go }) {
  const path = tenantPath(tenantId, "providers", id);
  const provider = await get(path);
  setTitle(provider.name);
  const canWrite = can(tenantId, "providers", "write");
  const errors = errorSlot();
  const keysBox = h("div");
  const healthBox = h("div");
  const listUrl = `#/t/${encodeURIComponent(tenantId)}/providers`;

  root.append(
    h("p", { class: "crumbs" }, h("a", { href: listUrl }, "Providers"), " / "),
    h("h1", null, `Provider ${provider.name}`),
    facts([
      ["Type", provider.type],
      ["Base URL", h("code", { class: "wrap" }, provider.base_url)],
      ["Extra headers", provider.header_names?.length ? provider.header_names.map((n) => `${n}: ${provider.headers?.[n] ?? "••••"}`).join(", ") : "none"],
      ["Added", fmt.date(provider.created_at)],
    ]),
    errors,
  );

  let credentials = [];
  const loadKeys = async () => {
    credentials = (await get(`${path}/credentials?limit=200`)).items;
    keysBox.replaceChildren(credentialTable(tenantId, id, credentials, loadKeys));
  };

  if (canWrite) {
    const editErrors = errorSlot();
    const keyFields = h("div");
    const form = h("form", { "aria-label": "Edit provider", autocomplete: "off" },
      h("div", { class: "grid" },
        field("Name", { name: "name", value: provider.name, required: true }),
        field("Type", { name: "type", value: provider.type }, TYPES.map((t) => [t, t])),
        field("Base URL", { name: "base_url", type: "url", value: provider.base_url, required: true, hint: "A new base URL needs each key entered again." }),
      ),
      keyFields,
      h("div", { class: "field" },
        h("label", { for: "f-headers-edit" }, "Replace extra headers"),
        h("textarea", { id: "f-headers-edit", name: "headers", rows: 2, placeholder: "Left empty: kept as they are", "aria-describedby": "f-headers-edit-hint" }),
        h("small", { id: "f-headers-edit-hint", class: "muted" }, "One “Name: value” per line; replaces every header.")),
      editErrors,
      h("button", { type: "submit" }, "Save provider"),
    );
    form.elements.base_url.addEventListener("input", () => {
      const changed = form.elements.base_url.value.trim() !== provider.base_url;
      keyFields.replaceChildren(changed ? h("fieldset", null, h("legend", null, "Keys for the new base URL"),
        credentials.map((c) => field(`Key “${c.name}”`, { name: `key:${c.name}`, type: "password", autocomplete: "new-password", required: true }))) : "");
    });
    onSubmit(form, editErrors, async (data) => {
      const body = {};
      for (const name of ["name", "type", "base_url"]) if (text(data, name) !== provider[name]) body[name] = text(data, name);
      if (text(data, "headers")) body.headers = headersFrom(text(data, "headers"));
      const keys = {};
      for (const [name, value] of data.entries()) if (name.startsWith("key:") && value) keys[name.slice(4)] = value;
      if (Object.keys(keys).length) body.keys = keys;
      await patch(path, body);
      go(`${listUrl}/${encodeURIComponent(id)}`);
    });
    root.append(h("div", { class: "toolbar" },
      action("Delete provider", errors, async () => {
        await del(path);
        go(listUrl);
      }, { cls: "danger", confirmText: `Delete the provider “${provider.name}” with its keys and deployments? Models served only by it stop working.` })),
      panel("Edit provider", form));
  }

  root.append(h("h2", null, "Keys"), keysBox);
  if (can(tenantId, "credentials", "write")) root.append(addKeyForm(path, loadKeys));
  root.append(h("h2", null, "Health"), healthBox);
  await Promise.all([
    section(keysBox, loadKeys, "Keys"),
    offers("GET", HEALTH)
      ? section(healthBox, () => loadHealth(healthBox, tenantId, id), "Provider health")
      : healthBox.replaceChildren(h("p", { class: "notice" }, "Provider health: not available on this server.")),
  ]);
}

function credentialTable(tenantId, providerId, credentials, reload) {
  const canWrite = can(tenantId, "credentials", "write");
  const errors = errorSlot();
  const base = tenantPath(tenantId, "providers", providerId, "credentials");
  const manage = (c) => {
    const rotateErrors = errorSlot();
    const rotate = h("form", { class: "inline", autocomplete: "off", "aria-label": `Rotate key ${c.name}` },
      h("label", { for: `rotate-${c.id}`, class: "visually-hidden" }, `New key for ${c.name}`),
      h("input", { id: `rotate-${c.id}`, name: "key", type: "password", required: true, placeholder: "New key", autocomplete: "new-password" }),
      h("button", { type: "submit", class: "secondary small" }, "Rotate"), rotateErrors);
    onSubmit(rotate, rotateErrors, async (data) => {
      const key = String(data.get("key"));
      rotate.elements.key.value = "";
      await put(`${base}/${encodeURIComponent(c.id)}/key`, { key });
      await reload();
    });
    const renameErrors = errorSlot();
    const rename = h("form", { class: "inline", autocomplete: "off", "aria-label": `Rename key ${c.name}` },
      h("label", { for: `rename-${c.id}`, class: "visually-hidden" }, `New name for ${c.name}`),
      h("input", { id: `rename-${c.id}`, name: "name", required: true, value: c.name, spellcheck: "false" }),
      h("button", { type: "submit", class: "secondary small" }, "Rename"), renameErrors);
    onSubmit(rename, renameErrors, async (data) => {
      await patch(`${base}/${encodeURIComponent(c.id)}`, { name: text(data, "name") });
      await reload();
    });
    const weight = h("input", { type: "number", min: 1, step: 1, value: c.weight, class: "short", "aria-label": `Weight of ${c.name}` });
    return h("div", { class: "stack" },
      h("div", { class: "inline" },
        action(c.status === "active" ? "Disable" : "Enable", errors, async () => {
          await patch(`${base}/${encodeURIComponent(c.id)}`, { status: c.status === "active" ? "disabled" : "active" });
          await reload();
        }, { aria: `${c.status === "active" ? "Disable" : "Enable"} key ${c.name}` }),
        weight,
        action("Set weight", errors, async () => {
          await patch(`${base}/${encodeURIComponent(c.id)}`, { weight: Number(weight.value) });
          await reload();
        }, { aria: `Set weight of ${c.name}` }),
        action("Delete", errors, async () => {
          await del(`${base}/${encodeURIComponent(c.id)}`);
          await reload();
        }, { cls: "danger", aria: `Delete key ${c.name}`, confirmText: `Delete the key “${c.name}”?` })),
      rename, rotate);
  };
  return h("div", null, errors, table("Keys", [
    { label: "Name", cell: (c) => c.name },
    { label: "Key", cell: (c) => h("code", null, `••••${c.last4}`) },
    { label: "Status", cell: (c) => (c.status === "active" ? badge("active", "ok") : badge("disabled", "bad")) },
    { label: "Weight", cell: (c) => fmt.num(c.weight), num: true },
    { label: "Added", cell: (c) => fmt.date(c.created_at) },
    ...(canWrite ? [{ label: "Manage", cell: manage }] : []),
  ], credentials, "This provider has no key yet.", canWrite ? "Add one below: calls cannot reach the provider without it." : null));
}

function addKeyForm(path, reload) {
  const errors = errorSlot();
  const form = h("form", { class: "card", "aria-labelledby": "add-key", autocomplete: "off" },
    h("h2", { id: "add-key" }, "Add a key"),
    h("div", { class: "grid" },
      field("Key name", { name: "name", required: true, placeholder: "backup" }),
      field("API key", { name: "key", type: "password", required: true, autocomplete: "new-password" }),
      field("Weight", { name: "weight", type: "number", min: 1, step: 1, value: 1 })),
    errors,
    h("button", { type: "submit" }, "Add key"));
  onSubmit(form, errors, async (data) => {
    const key = String(data.get("key"));
    form.elements.key.value = "";
    await post(`${path}/credentials`, { name: text(data, "name"), key, weight: Number(data.get("weight") || 1) });
    form.reset();
    await reload();
  });
  return form;
}
