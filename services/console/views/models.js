// Models: list with pricing and deployments, create one with a first deployment.
import { get, post, tenantPath } from "../api.js";
import { errorSlot, field, fmt, h, onSubmit, optionalNumber, table } from "../dom.js";

function deploymentList(deployments, providerNames) {
  if (!deployments.length) return h("span", { class: "badge bad" }, "none");
  return h("ul", { class: "plain" }, deployments.map((d) =>
    h("li", null,
      `${providerNames.get(d.provider_id) ?? d.provider_id} → `, h("code", null, d.upstream_model),
      h("span", { class: "muted" }, ` priority ${d.priority}, weight ${d.weight}`),
      d.enabled ? "" : h("span", { class: "badge bad" }, "disabled")),
  ));
}

const price = (p) => `${fmt.usd(p.input_per_mtok)} in · ${fmt.usd(p.output_per_mtok)} out · ${fmt.usd(p.cached_input_per_mtok)} cached`;

export async function modelsView(root, { tenantId }) {
  const list = h("div");
  const errors = errorSlot();
  const providers = (await get(`${tenantPath(tenantId, "providers")}?limit=200`)).items;
  const providerNames = new Map(providers.map((p) => [p.id, p.name]));

  const refresh = async () => {
    const models = (await get(`${tenantPath(tenantId, "ai-models")}?limit=200`)).items;
    const rows = await Promise.all(models.map(async (m) => ({
      ...m,
      deployments: (await get(`${tenantPath(tenantId, "ai-models", m.id, "deployments")}?limit=200`)).items,
    })));
    list.replaceChildren(
      table("Models", [
        { label: "Name", cell: (m) => h("code", null, m.name) },
        { label: "Price per million tokens", cell: (m) => price(m.pricing) },
        { label: "Deployments", cell: (m) => deploymentList(m.deployments, providerNames) },
      ], rows, "No models yet."),
    );
  };

  const form = h(
    "form",
    { class: "card", "aria-labelledby": "create-model" },
    h("h2", { id: "create-model" }, "Create a model"),
    providers.length ? "" : h("p", { class: "warning" }, "Add a provider first: a model needs one to serve it."),
    h(
      "div",
      { class: "grid" },
      field("Public name", { name: "name", required: true, placeholder: "gpt-4o" }),
      field("Provider", { name: "provider_id", required: true }, providers.map((p) => [p.id, `${p.name} (${p.type})`])),
      field("Upstream model", { name: "upstream_model", required: true, placeholder: "gpt-4o-2024-08-06" }),
      field("Input $ / M tokens", { name: "input_per_mtok", type: "number", min: 0, step: "any" }),
      field("Output $ / M tokens", { name: "output_per_mtok", type: "number", min: 0, step: "any" }),
      field("Cached input $ / M tokens", { name: "cached_input_per_mtok", type: "number", min: 0, step: "any" }),
    ),
    errors,
    h("button", { type: "submit", disabled: !providers.length }, "Create model"),
  );
  onSubmit(form, errors, async (data) => {
    const pricing = {};
    for (const name of ["input_per_mtok", "output_per_mtok", "cached_input_per_mtok"]) {
      const value = optionalNumber(data, name);
      if (value !== undefined) pricing[name] = value;
    }
    const model = await post(tenantPath(tenantId, "ai-models"), { name: String(data.get("name")).trim(), pricing });
    try {
      await post(tenantPath(tenantId, "ai-models", model.id, "deployments"), {
        provider_id: data.get("provider_id"),
        upstream_model: String(data.get("upstream_model")).trim(),
      });
    } catch (error) {
      await refresh();
      throw new Error(`The model was created, but its deployment was refused: ${error.message}`);
    }
    form.reset();
    await refresh();
  });

  root.append(h("h1", null, "Models"), list, form);
  await refresh();
}
