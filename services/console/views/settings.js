// Tenant settings: its name, the tenant-wide budget, the alert webhook with its
// thresholds and deliveries, and deleting the tenant. Each part loads on its own.
import { del, get, patch, post, put, tenantPath } from "../api.js";
import { offers } from "../capabilities.js";
import { action, badge, empty, errorSlot, facts, field, fmt, h, onSubmit, section, table, text } from "../dom.js";
import { can } from "../roles.js";

const PERIODS = [["lifetime", "Lifetime"], ["daily", "Daily"], ["weekly", "Weekly"], ["monthly", "Monthly"]];
const thresholdsOf = (raw) => raw.split(",").map((t) => t.trim()).filter(Boolean).map(Number);

export async function settingsView(root, { tenantId, tenantName, go, reloadTenants }) {
  const canWrite = can(tenantId, "tenants", "write");
  const budgetBox = h("div");
  const alertsBox = h("div");
  const deliveriesBox = h("div");
  root.append(h("h1", null, "Settings"));

  if (canWrite) {
    const errors = errorSlot();
    const form = h("form", { class: "card", "aria-labelledby": "rename" },
      h("h2", { id: "rename" }, "Tenant name"),
      field("Name", { name: "name", value: tenantName, required: true }),
      errors, h("button", { type: "submit" }, "Rename tenant"));
    onSubmit(form, errors, async (data) => {
      await patch(tenantPath(tenantId), { name: text(data, "name") });
      await reloadTenants();
      go(`#/t/${encodeURIComponent(tenantId)}/settings`);
    });
    root.append(form);
  } else {
    root.append(facts([["Tenant", tenantName], ["Id", h("code", null, tenantId)]]));
  }

  root.append(h("h2", null, "Budget"), budgetBox, h("h2", null, "Alerts"), alertsBox, h("h3", null, "Recent alert deliveries"), deliveriesBox);

  if (can(tenantId, "tenants", "delete")) {
    const errors = errorSlot();
    root.append(h("section", { class: "card danger-zone", "aria-labelledby": "delete-tenant" },
      h("h2", { id: "delete-tenant" }, "Delete this tenant"),
      h("p", null, "Deletes every key, provider, model and record of the tenant. This cannot be undone."),
      errors,
      action("Delete tenant", errors, async () => {
        await del(tenantPath(tenantId));
        await reloadTenants();
        go("#/tenants");
      }, { cls: "danger", confirmText: `Delete the tenant “${tenantName}” and everything in it?` })));
  }

  await Promise.all([
    offers("GET", "/tenants/{tenant_id}/budget")
      ? section(budgetBox, () => loadBudget(budgetBox, tenantId, canWrite), "Budget")
      : budgetBox.replaceChildren(h("p", { class: "notice" }, "Budget: not available on this server.")),
    offers("GET", "/tenants/{tenant_id}/alerts/webhook")
      ? section(alertsBox, () => loadWebhook(alertsBox, tenantId, canWrite, () => section(deliveriesBox, () => loadDeliveries(deliveriesBox, tenantId), "Deliveries")), "Alerts")
      : alertsBox.replaceChildren(h("p", { class: "notice" }, "Alerts: not available on this server.")),
    offers("GET", "/tenants/{tenant_id}/alerts/deliveries")
      ? section(deliveriesBox, () => loadDeliveries(deliveriesBox, tenantId), "Deliveries")
      : deliveriesBox.replaceChildren(),
  ]);
}

async function loadBudget(box, tenantId, canWrite) {
  const path = tenantPath(tenantId, "budget");
  let budget = null;
  try {
    budget = await get(path);
  } catch (error) {
    if (error.status !== 404 || error.unavailable) throw error; // 404: no budget set
  }
  const reload = () => section(box, () => loadBudget(box, tenantId, canWrite), "Budget");
  const errors = errorSlot();
  box.replaceChildren(
    budget
      ? facts([
          ["Limit", `${fmt.usd(budget.limit_usd)} ${budget.period}`],
          ["Spent this period", fmt.usd(budget.spent_usd)],
          ["Period started", fmt.date(budget.period_start)],
          ["Resets", budget.resets_at ? fmt.date(budget.resets_at) : "never"],
          ["Time zone", budget.timezone],
        ])
      : empty("No tenant budget: spend is capped only by each key's budget and the credit balance.", canWrite ? "Set one below." : null),
    errors,
  );
  if (!canWrite) return;
  const form = h("form", { class: "card", "aria-labelledby": "set-budget" },
    h("h3", { id: "set-budget" }, budget ? "Change the budget" : "Set a budget"),
    h("div", { class: "grid" },
      field("Limit (USD)", { name: "limit_usd", type: "number", min: 0, step: "0.01", required: true, value: budget?.limit_usd ?? "" }),
      field("Period", { name: "period", value: budget?.period ?? "monthly" }, PERIODS),
      field("Time zone", { name: "timezone", value: budget?.timezone ?? (Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC") })),
    errors,
    h("div", { class: "buttons" },
      h("button", { type: "submit" }, "Save budget"),
      budget ? action("Lift the budget", errors, async () => {
        await del(path);
        await reload();
      }, { cls: "danger", confirmText: "Lift the tenant's budget?" }) : null));
  onSubmit(form, errors, async (data) => {
    await put(path, { limit_usd: Number(data.get("limit_usd")), period: data.get("period"), timezone: text(data, "timezone") || "UTC" });
    await reload();
  });
  box.append(form);
}

function secretNote(secret) {
  return h("section", { class: "secret", "aria-label": "Webhook secret" },
    h("p", { class: "warning" }, h("strong", null, "Copy the signing secret now: "), "it is shown only once."),
    h("div", { class: "copy-row" }, h("label", { for: "webhook-secret", class: "visually-hidden" }, "Webhook secret"),
      h("input", { id: "webhook-secret", readonly: true, value: secret, spellcheck: "false" })));
}

async function loadWebhook(box, tenantId, canWrite, reloadDeliveries, shownSecret) {
  const path = tenantPath(tenantId, "alerts", "webhook");
  let hook = null;
  try {
    hook = await get(path);
  } catch (error) {
    if (error.status !== 404 || error.unavailable) throw error; // 404: none set up
  }
  const reload = (secret) => section(box, () => loadWebhook(box, tenantId, canWrite, reloadDeliveries, secret), "Alerts");
  const errors = errorSlot();
  box.replaceChildren(
    shownSecret ? secretNote(shownSecret) : "",
    hook
      ? facts([["URL", h("code", { class: "wrap" }, hook.url)], ["Thresholds", `${hook.thresholds.join("%, ")}% of a budget`], ["Status", hook.enabled ? badge("enabled", "ok") : badge("disabled", "bad")]])
      : empty("No alert webhook.", canWrite ? "Set one up below to be told when a key or the tenant nears its budget." : null),
    errors,
  );
  if (!canWrite) return;
  const form = h("form", { class: "card", "aria-labelledby": "webhook-form" },
    h("h3", { id: "webhook-form" }, hook ? "Change the webhook" : "Set up a webhook"),
    h("div", { class: "grid" },
      field("Webhook URL", { name: "url", type: "url", required: true, value: hook?.url ?? "" }),
      field("Thresholds (% of budget, comma-separated)", { name: "thresholds", value: (hook?.thresholds ?? [50, 80, 100]).join(", ") }),
      field("Enabled", { name: "enabled", type: "checkbox", checked: hook ? hook.enabled : true })),
    errors,
    h("div", { class: "buttons" },
      h("button", { type: "submit" }, hook ? "Save webhook" : "Create webhook"),
      hook ? action("Send a test event", errors, async () => {
        await post(`${path}/test`);
        await reloadDeliveries();
      }) : null,
      hook ? action("New secret", errors, async () => {
        const fresh = await post(`${path}/secret`);
        await reload(fresh.secret);
      }, { confirmText: "Give the webhook a new secret? The old one stops signing at once." }) : null,
      hook ? action("Delete webhook", errors, async () => {
        await del(path);
        await reload();
      }, { cls: "danger", confirmText: "Delete the webhook? Events not delivered yet are cancelled." }) : null));
  onSubmit(form, errors, async (data) => {
    const body = { url: text(data, "url"), thresholds: thresholdsOf(text(data, "thresholds")), enabled: Boolean(data.get("enabled")) };
    if (hook) {
      await patch(path, body);
      await reload();
    } else {
      const created = await post(path, body);
      await reload(created.secret);
    }
  });
  box.append(form);
}

async function loadDeliveries(box, tenantId) {
  const page = await get(`${tenantPath(tenantId, "alerts", "deliveries")}?limit=20`);
  box.replaceChildren(table("Alert deliveries", [
    { label: "Created", cell: (d) => fmt.date(d.created_at) },
    { label: "Event", cell: (d) => d.type },
    { label: "Status", cell: (d) => badge(d.status, d.status === "delivered" ? "ok" : d.status === "failed" ? "bad" : "") },
    { label: "Attempts", cell: (d) => fmt.num(d.attempts?.length ?? 0), num: true },
    { label: "Last answer", cell: (d) => { const a = d.attempts?.[d.attempts.length - 1]; return a ? a.error || String(a.status_code ?? "—") : "—"; } },
  ], page.items, "No alert has been sent yet.", "Alerts are sent when spend crosses a threshold; “Send a test event” tries the webhook now."));
}
