// Models: the list with pricing and failover order, and creating one with a first
// deployment. One model's page (pricing, the routing editor) is in model.js.
import { get, post, tenantPath } from "../api.js";
import { badge, empty, errorSlot, field, fmt, h, onSubmit, optionalNumber, section, table, text } from "../dom.js";
import { can } from "../roles.js";

export { modelDetailView } from "./model.js";

export const price = (p) => (p.free ? "free" : `${fmt.usd(p.input_per_mtok)} in · ${fmt.usd(p.output_per_mtok)} out · ${fmt.usd(p.cached_input_per_mtok)} cached`);

/** Deployments in the order the engine tries them: by priority, a group of equal ones shared by weight. */
export function failoverOrder(deployments) {
  return [...deployments].sort((a, b) => a.priority - b.priority || b.weight - a.weight || a.created_at.localeCompare(b.created_at));
}

export function pricingFields(pricing) {
  return [
    field("Input $ / M tokens", { name: "input_per_mtok", type: "number", min: 0, step: "any", value: pricing?.input_per_mtok ?? "" }),
    field("Output $ / M tokens", { name: "output_per_mtok", type: "number", min: 0, step: "any", value: pricing?.output_per_mtok ?? "" }),
    field("Cached input $ / M tokens", { name: "cached_input_per_mtok", type: "number", min: 0, step: "any", value: pricing?.cached_input_per_mtok ?? "" }),
    field("Free (no price needed)", { name: "free", type: "checkbox", checked: pricing?.free }),
  ];
}

export function pricingBody(data) {
  const pricing = {};
  for (const name of ["input_per_mtok", "output_per_mtok", "cached_input_per_mtok"]) {
    const value = optionalNumber(data, name);
    if (value !== undefined) pricing[name] = value;
  }
  if (data.get("free")) pricing.free = true;
  return pricing;
}

function deploymentList(deployments, providerNames) {
  if (!deployments.length) return badge("no deployment", "bad");
  return h("ol", { class: "order" }, failoverOrder(deployments).map((d) =>
    h("li", null,
      `${providerNames.get(d.provider_id) ?? d.provider_id} → `, h("code", null, d.upstream_model),
      h("span", { class: "muted" }, ` priority ${d.priority}, weight ${d.weight}`),
      d.enabled ? "" : badge("disabled", "bad")),
  ));
}

export async function modelsView(root, { tenantId }) {
  const list = h("div");
  const warnings = h("div");
  const canWrite = can(tenantId, "models", "write");
  let providers = [];
  try {
    providers = (await get(`${tenantPath(tenantId, "providers")}?limit=200`)).items;
  } catch {
    providers = []; // names only: ids are shown instead
  }
  const providerNames = new Map(providers.map((p) => [p.id, p.name]));

  const refresh = async () => {
    const models = (await get(`${tenantPath(tenantId, "ai-models")}?limit=200`)).items;
    const rows = await Promise.all(models.map(async (m) => ({
      ...m,
      deployments: (await get(`${tenantPath(tenantId, "ai-models", m.id, "deployments")}?limit=200`)).items,
    })));
    list.replaceChildren(
      table("Models", [
        { label: "Name", cell: (m) => h("a", { href: `#/t/${encodeURIComponent(tenantId)}/models/${encodeURIComponent(m.id)}` }, m.name) },
        { label: "Price per million tokens", cell: (m) => price(m.pricing) },
        { label: "Failover order", cell: (m) => deploymentList(m.deployments, providerNames) },
      ], rows, "No models yet.", canWrite ? "Create one below: clients call a model by its public name." : null),
    );
  };

  root.append(h("h1", null, "Models"), warnings, list);
  if (canWrite) {
    const errors = errorSlot();
    const form = h(
      "form",
      { class: "card", "aria-labelledby": "create-model" },
      h("h2", { id: "create-model" }, "Create a model"),
      providers.length ? "" : empty("Add a provider first: a model needs one to serve it.", h("a", { href: `#/t/${encodeURIComponent(tenantId)}/providers` }, "Go to Providers")),
      h("div", { class: "grid" },
        field("Public name", { name: "name", required: true, placeholder: "gpt-4o" }),
        field("Provider", { name: "provider_id", required: true }, providers.map((p) => [p.id, `${p.name} (${p.type})`])),
        field("Upstream model", { name: "upstream_model", required: true, placeholder: "gpt-4o-2024-08-06" }),
        pricingFields(null)),
      errors,
      h("button", { type: "submit", disabled: !providers.length }, "Create model"),
    );
    onSubmit(form, errors, async (data) => {
      const model = await post(tenantPath(tenantId, "ai-models"), { name: text(data, "name"), pricing: pricingBody(data) });
      warnings.replaceChildren(...(model.warnings || []).map((w) => h("p", { class: "warning" }, w)));
      try {
        await post(tenantPath(tenantId, "ai-models", model.id, "deployments"), {
          provider_id: data.get("provider_id"),
          upstream_model: text(data, "upstream_model"),
        });
      } catch (error) {
        await refresh();
        error.message = `The model was created, but its deployment was refused: ${error.message}`;
        throw error;
      }
      form.reset();
      await refresh();
    });
    root.append(form);
  }
  await section(list, refresh, "Models");
}
