// One model: rename, pricing, delete, and the routing editor — its deployments in
// failover order (lowest priority first; equal priorities share calls by weight),
// moved up and down, weighted, enabled or disabled, added and removed.
import { del, get, patch, post, tenantPath } from "../api.js";
import { action, badge, errorSlot, facts, field, fmt, h, onSubmit, panel, section, text } from "../dom.js";
import { can } from "../roles.js";
import { failoverOrder, price, pricingBody, pricingFields } from "./models.js";

/**
 * New priorities after moving `order[from]` to `to`: neighbours that shared a
 * priority keep sharing one, the moved deployment gets a group of its own.
 */
export function reprioritised(order, from, to) {
  const moved = order[from];
  const next = order.filter((_, i) => i !== from);
  next.splice(to, 0, moved);
  const out = new Map();
  let group = -1;
  let last = null;
  for (const d of next) {
    const key = d === moved ? `moved:${d.id}` : `p:${d.priority}`;
    if (key !== last) group += 1;
    last = key;
    out.set(d.id, group);
  }
  return out;
}

export async function modelDetailView(root, { tenantId, id, setTitle, go }) {
  const path = tenantPath(tenantId, "ai-models", id);
  const model = await get(path);
  setTitle(model.name);
  const canWrite = can(tenantId, "models", "write");
  const listUrl = `#/t/${encodeURIComponent(tenantId)}/models`;
  const errors = errorSlot();
  const routing = h("div");
  let providers = [];
  try {
    providers = (await get(`${tenantPath(tenantId, "providers")}?limit=200`)).items;
  } catch {
    providers = [];
  }
  const providerNames = new Map(providers.map((p) => [p.id, p.name]));

  root.append(
    h("p", { class: "crumbs" }, h("a", { href: listUrl }, "Models"), " / "),
    h("h1", null, `Model ${model.name}`),
    facts([["Price per million tokens", price(model.pricing)], ["Added", fmt.date(model.created_at)]]),
    ...(model.warnings || []).map((w) => h("p", { class: "warning" }, w)),
    errors,
  );

  if (canWrite) {
    const editErrors = errorSlot();
    const form = h("form", { "aria-label": "Edit model" },
      h("div", { class: "grid" }, field("Public name", { name: "name", value: model.name, required: true }), pricingFields(model.pricing)),
      editErrors,
      h("button", { type: "submit" }, "Save model"));
    onSubmit(form, editErrors, async (data) => {
      const body = { pricing: pricingBody(data) };
      if (text(data, "name") !== model.name) body.name = text(data, "name");
      await patch(path, body);
      go(`${listUrl}/${encodeURIComponent(id)}`);
    });
    root.append(
      h("div", { class: "toolbar" }, action("Delete model", errors, async () => {
        await del(path);
        go(listUrl);
      }, { cls: "danger", confirmText: `Delete the model “${model.name}” and its deployments? Calls to it will be refused.` })),
      panel("Edit name and pricing", form),
    );
  }

  const reload = async () => {
    const deployments = (await get(`${path}/deployments?limit=200`)).items;
    routing.replaceChildren(routingEditor(tenantId, path, failoverOrder(deployments), providerNames, canWrite, reload));
  };
  root.append(h("h2", null, "Routing"), h("p", { class: "muted" },
    "Calls go to the first enabled deployment; when it fails they fail over down the list. Deployments on the same priority share calls by weight."), routing);
  if (canWrite) root.append(addDeploymentForm(path, providers, reload));
  await section(routing, reload, "Deployments");
}

function routingEditor(tenantId, path, order, providerNames, canWrite, reload) {
  const errors = errorSlot();
  if (!order.length) {
    return h("div", { class: "empty" }, h("p", null, "This model has no deployment: calls to it are refused."), canWrite ? h("p", null, "Add one below.") : null);
  }
  const move = async (from, to) => {
    const next = reprioritised(order, from, to);
    const changed = order.filter((d) => next.get(d.id) !== d.priority);
    for (const d of changed) await patch(`${path}/deployments/${encodeURIComponent(d.id)}`, { priority: next.get(d.id) });
    await reload();
    document.getElementById(`dep-${order[from].id}`)?.querySelector("button")?.focus();
  };
  const groupOf = (d) => order.filter((x) => x.priority === d.priority).length > 1;
  const box = h("div", null, errors, h("ol", { class: "routing", "aria-label": "Failover order" }, order.map((d, i) => {
    const label = `${providerNames.get(d.provider_id) ?? d.provider_id} → ${d.upstream_model}`;
    const weight = h("input", { type: "number", min: 1, step: 1, value: d.weight, class: "short", "aria-label": `Weight of ${label}` });
    const priority = h("input", { type: "number", step: 1, value: d.priority, class: "short", "aria-label": `Priority of ${label}` });
    return h("li", { id: `dep-${d.id}`, class: d.enabled ? "" : "off" },
      h("div", { class: "dep-head" },
        h("span", { class: "rank", "aria-hidden": "true" }, String(i + 1)),
        h("span", null, h("strong", null, providerNames.get(d.provider_id) ?? d.provider_id), " → ", h("code", null, d.upstream_model)),
        d.enabled ? badge("enabled", "ok") : badge("disabled", "bad"),
        groupOf(d) ? badge(`shared by weight (${d.weight})`) : null,
        h("span", { class: "muted" }, ` priority ${d.priority} · weight ${d.weight}`)),
      canWrite ? h("div", { class: "inline" },
        action("Move up", errors, () => move(i, i - 1), { aria: `Move ${label} up` }),
        action("Move down", errors, () => move(i, i + 1), { aria: `Move ${label} down` }),
        action(d.enabled ? "Disable" : "Enable", errors, async () => {
          await patch(`${path}/deployments/${encodeURIComponent(d.id)}`, { enabled: !d.enabled });
          await reload();
        }, { aria: `${d.enabled ? "Disable" : "Enable"} ${label}` }),
        priority, weight,
        action("Set priority and weight", errors, async () => {
          await patch(`${path}/deployments/${encodeURIComponent(d.id)}`, { priority: Number(priority.value), weight: Number(weight.value) });
          await reload();
        }, { aria: `Set priority and weight of ${label}` }),
        action("Remove", errors, async () => {
          await del(`${path}/deployments/${encodeURIComponent(d.id)}`);
          await reload();
        }, { cls: "danger", aria: `Remove ${label}`, confirmText: `Remove the deployment ${label}?` }),
      ) : null);
  })));
  // the first cannot move up, the last cannot move down
  const items = box.querySelectorAll("ol.routing > li");
  items[0]?.querySelectorAll("button")[0]?.setAttribute("disabled", "");
  items[items.length - 1]?.querySelectorAll("button")[1]?.setAttribute("disabled", "");
  return box;
}

function addDeploymentForm(path, providers, reload) {
  const errors = errorSlot();
  const form = h("form", { class: "card", "aria-labelledby": "add-deployment" },
    h("h2", { id: "add-deployment" }, "Add a deployment"),
    providers.length ? null : h("p", { class: "notice" }, "Add a provider first: a deployment runs on one."),
    h("div", { class: "grid" },
      field("Provider", { name: "provider_id", required: true }, providers.map((p) => [p.id, `${p.name} (${p.type})`])),
      field("Upstream model", { name: "upstream_model", required: true }),
      field("Priority", { name: "priority", type: "number", step: 1, value: 0, hint: "Lower is tried first." }),
      field("Weight", { name: "weight", type: "number", min: 1, step: 1, value: 1 }),
      field("Enabled", { name: "enabled", type: "checkbox", checked: true })),
    errors,
    h("button", { type: "submit", disabled: !providers.length }, "Add deployment"));
  onSubmit(form, errors, async (data) => {
    await post(`${path}/deployments`, {
      provider_id: data.get("provider_id"),
      upstream_model: text(data, "upstream_model"),
      priority: Number(data.get("priority") || 0),
      weight: Number(data.get("weight") || 1),
      enabled: Boolean(data.get("enabled")),
    });
    form.reset();
    await reload();
  });
  return form;
}
