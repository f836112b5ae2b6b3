// Providers: list with their credentials (last four characters only), add one with a key.
import { get, post, tenantPath } from "../api.js";
import { errorSlot, field, h, onSubmit, table } from "../dom.js";

const TYPES = ["openai", "openai-compatible", "anthropic", "gemini"];

async function withCredentials(tenantId) {
  const page = await get(`${tenantPath(tenantId, "providers")}?limit=200`);
  return Promise.all(
    page.items.map(async (p) => {
      const creds = await get(`${tenantPath(tenantId, "providers", p.id, "credentials")}?limit=200`);
      return { ...p, credentials: creds.items };
    }),
  );
}

function credentialList(credentials) {
  if (!credentials.length) return h("span", { class: "badge bad" }, "no key");
  return h("ul", { class: "plain" }, credentials.map((c) =>
    h("li", null, `${c.name} `, h("code", null, `••••${c.last4}`), c.status === "disabled" ? h("span", { class: "badge bad" }, "disabled") : ""),
  ));
}

export async function providersView(root, { tenantId }) {
  const list = h("div");
  const errors = errorSlot();

  const refresh = async () => {
    const providers = await withCredentials(tenantId);
    list.replaceChildren(
      table("Providers", [
        { label: "Name", cell: (p) => p.name },
        { label: "Type", cell: (p) => p.type },
        { label: "Base URL", cell: (p) => h("code", null, p.base_url) },
        { label: "Credentials", cell: (p) => credentialList(p.credentials) },
      ], providers, "No providers yet."),
    );
  };

  const form = h(
    "form",
    { class: "card", "aria-labelledby": "add-provider", autocomplete: "off" },
    h("h2", { id: "add-provider" }, "Add a provider"),
    h(
      "div",
      { class: "grid" },
      field("Name", { name: "name", required: true, placeholder: "openai" }),
      field("Type", { name: "type", required: true }, TYPES.map((t) => [t, t])),
      field("Base URL", { name: "base_url", type: "url", required: true, placeholder: "https://api.openai.com/v1" }),
      field("Key name", { name: "key_name", required: true, value: "default" }),
      field("API key", { name: "key", type: "password", required: true, autocomplete: "new-password" }),
    ),
    h("p", { class: "muted" }, "The key is stored encrypted and never shown again; only its last four characters are."),
    errors,
    h("button", { type: "submit" }, "Add provider"),
  );
  onSubmit(form, errors, async (data) => {
    const provider = await post(tenantPath(tenantId, "providers"), {
      name: String(data.get("name")).trim(),
      type: data.get("type"),
      base_url: String(data.get("base_url")).trim(),
    });
    const key = String(data.get("key"));
    form.elements.key.value = ""; // the key leaves the page as soon as it is sent
    try {
      await post(tenantPath(tenantId, "providers", provider.id, "credentials"), { name: String(data.get("key_name")).trim(), key });
    } catch (error) {
      await refresh();
      throw new Error(`The provider was added, but its key was refused: ${error.message}`);
    }
    form.reset();
    await refresh();
  });

  root.append(h("h1", null, "Providers"), list, form);
  await refresh();
}
