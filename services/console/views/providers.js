// Providers: the list (each provider's keys shown masked, when the role may read them,
// and its health in one badge) and adding one with its first key. One provider's page is in provider.js.
import { get, post, tenantPath } from "../api.js";
import { badge, empty, errorSlot, field, h, onSubmit, problem, section, text } from "../dom.js";
import { offers } from "../capabilities.js";
import { can } from "../roles.js";
import { HEALTH, healthSummary } from "./health.js";
import { headersFrom, TYPES } from "./provider.js";

export { providerDetailView } from "./provider.js";

function healthCell(result) {
  if (!result) return "—";
  if (result.error) return result.error.forbidden ? h("span", { class: "muted" }, "hidden for your role") : problem(result.error);
  return healthSummary(result.health);
}

function credentialsCell(result) {
  if (result.error) return result.error.forbidden ? h("span", { class: "muted" }, "hidden for your role") : problem(result.error);
  if (!result.items.length) return badge("no key", "bad");
  return h("ul", { class: "plain" }, result.items.map((c) =>
    h("li", null, `${c.name} `, h("code", null, `••••${c.last4}`), c.status === "disabled" ? badge("disabled", "bad") : null)));
}

export async function providersView(root, { tenantId }) {
  const list = h("div");
  const readKeys = can(tenantId, "credentials");
  const canWrite = can(tenantId, "providers", "write");
  const withHealth = offers("GET", HEALTH);

  const refresh = async () => {
    const providers = (await get(`${tenantPath(tenantId, "providers")}?limit=200`)).items;
    // each provider's keys are a read of their own: one refused read never empties the list
    const keys = await Promise.all(providers.map((p) =>
      readKeys
        ? get(`${tenantPath(tenantId, "providers", p.id, "credentials")}?limit=200`).then((page) => ({ items: page.items }), (error) => ({ error }))
        : { error: { forbidden: true } }));
    const health = await Promise.all(providers.map((p) =>
      withHealth
        ? get(tenantPath(tenantId, "providers", p.id, "health")).then((body) => ({ health: body }), (error) => ({ error }))
        : null));
    if (!providers.length) {
      list.replaceChildren(empty("No providers yet.", canWrite ? "Add one below: a provider is where models run (OpenAI, Anthropic, Gemini or any OpenAI-compatible server)." : "An admin of this tenant adds them."));
      return;
    }
    list.replaceChildren(h("div", { class: "table-wrap", role: "region", "aria-label": "Providers", tabindex: "0" }, h("table", null,
      h("caption", { class: "visually-hidden" }, "Providers"),
      h("thead", null, h("tr", null, ["Name", "Type", "Base URL", "Keys", "Health"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", null, providers.map((p, i) => h("tr", null,
        h("td", { "data-label": "Name" }, h("a", { href: `#/t/${encodeURIComponent(tenantId)}/providers/${encodeURIComponent(p.id)}` }, p.name)),
        h("td", { "data-label": "Type" }, p.type),
        h("td", { "data-label": "Base URL" }, h("code", { class: "wrap" }, p.base_url)),
        h("td", { "data-label": "Keys" }, credentialsCell(keys[i])),
        h("td", { "data-label": "Health" }, healthCell(health[i])),
      ))),
    )));
  };

  root.append(h("h1", null, "Providers"), list);
  if (canWrite) root.append(addForm(tenantId, readKeys && can(tenantId, "credentials", "write"), refresh));
  await section(list, refresh, "Providers");
}

function addForm(tenantId, withKey, refresh) {
  const errors = errorSlot();
  const form = h(
    "form",
    { class: "card", "aria-labelledby": "add-provider", autocomplete: "off" },
    h("h2", { id: "add-provider" }, "Add a provider"),
    h("div", { class: "grid" },
      field("Name", { name: "name", required: true, placeholder: "openai" }),
      field("Type", { name: "type", required: true }, TYPES.map((t) => [t, t])),
      field("Base URL", { name: "base_url", type: "url", required: true, placeholder: "https://api.openai.com/v1" }),
      withKey ? field("Key name", { name: "key_name", required: true, value: "default" }) : null,
      withKey ? field("API key", { name: "key", type: "password", required: true, autocomplete: "new-password" }) : null,
    ),
    h("div", { class: "field" },
      h("label", { for: "f-headers-new" }, "Extra headers (optional)"),
      h("textarea", { id: "f-headers-new", name: "headers", rows: 2, placeholder: "X-Org: acme", "aria-describedby": "f-headers-new-hint" }),
      h("small", { id: "f-headers-new-hint", class: "muted" }, "One “Name: value” per line, sent with every request to this provider.")),
    withKey ? h("p", { class: "muted" }, "The key is stored encrypted and never shown again; only its last four characters are.") : h("p", { class: "muted" }, "Your role cannot add keys: an owner or admin adds them on the provider's page."),
    errors,
    h("button", { type: "submit" }, "Add provider"),
  );
  onSubmit(form, errors, async (data) => {
    const body = { name: text(data, "name"), type: data.get("type"), base_url: text(data, "base_url") };
    const headers = headersFrom(text(data, "headers"));
    if (Object.keys(headers).length) body.headers = headers;
    const provider = await post(tenantPath(tenantId, "providers"), body);
    if (withKey) {
      const key = String(data.get("key"));
      form.elements.key.value = ""; // the key leaves the page as soon as it is sent
      try {
        await post(tenantPath(tenantId, "providers", provider.id, "credentials"), { name: text(data, "key_name"), key });
      } catch (error) {
        await refresh();
        error.message = `The provider was added, but its key was refused: ${error.message}`;
        throw error;
      }
    }
    form.reset();
    await refresh();
  });
  return form;
}
