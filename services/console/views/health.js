// Provider health: each deployment's and key's breaker as the engines last
// reported it (state, consecutive failures, last error, when it lets a probe
// through) and a one-badge summary for the providers list.
import { get, tenantPath } from "../api.js";
import { badge, fmt, h, table } from "../dom.js";
import { can } from "../roles.js";

export const HEALTH = "/tenants/{tenant_id}/providers/{provider_id}/health";
const STATE = { closed: ["closed", "ok"], open: ["open", "bad"], half_open: ["half open", "warn"], invalid: ["invalid key", "bad"] };

export function breakerBadge(breaker) {
  const [label, kind] = STATE[breaker?.state] ?? [breaker?.state ?? "unknown", ""];
  return badge(label, kind);
}

const engines = (x) => (x.breaker.engines?.length ? x.breaker.engines.map((e) => `${e.engine_id}: ${STATE[e.state]?.[0] ?? e.state}`).join(", ") : "—");

const BREAKER_CELLS = [
  { label: "Breaker", cell: (x) => breakerBadge(x.breaker) },
  { label: "Failures", cell: (x) => fmt.num(x.breaker.failures), num: true },
  { label: "Last error", cell: (x) => (x.breaker.last_error ? h("code", null, x.breaker.last_error) : "—") },
  { label: "Open until", cell: (x) => fmt.date(x.breaker.open_until) },
  { label: "Changed", cell: (x) => fmt.date(x.breaker.changed_at) },
  { label: "Engines", cell: engines },
];

/** One badge for a provider's health: healthy, or what is open or refused. */
export function healthSummary(health) {
  const breakers = [...health.deployments.filter((d) => d.enabled), ...health.credentials.filter((c) => c.status === "active")].map((x) => x.breaker.state);
  const open = breakers.filter((s) => s === "open").length;
  const half = breakers.filter((s) => s === "half_open").length;
  const refused = health.credentials.filter((c) => c.invalid).length;
  const parts = [];
  if (open) parts.push(badge(`${open} open`, "bad"));
  if (half) parts.push(badge(`${half} half open`, "warn"));
  if (refused) parts.push(badge(`${refused} key${refused === 1 ? "" : "s"} refused`, "bad"));
  return parts.length ? h("span", null, parts) : badge("healthy", "ok");
}

/** The provider's health into `box`: breakers of its deployments and keys, with their recent failures. */
export async function loadHealth(box, tenantId, providerId) {
  const health = await get(`${tenantPath(tenantId, "providers", providerId)}/health`);
  const calls = `#/t/${encodeURIComponent(tenantId)}/calls?status=failed`;
  box.replaceChildren(
    h("p", null, "Now: ", healthSummary(health)),
    h("p", { class: "muted" }, "Each breaker shows the failures in a row that last changed it and the last error's code, as the engines reported them; an open breaker lets a probe through at “Open until”.",
      can(tenantId, "calls") ? [" ", h("a", { href: calls }, "See the failed calls")] : null),
    h("h3", null, "Deployments"),
    table("Deployment health", [
      { label: "Model", cell: (d) => h("span", null, h("code", null, d.model), " → ", h("code", null, d.upstream_model), d.enabled ? null : badge("disabled", "bad")) },
      ...BREAKER_CELLS,
    ], health.deployments, "No deployment uses this provider yet."),
    h("h3", null, "Keys"),
    table("Key health", [
      { label: "Key", cell: (c) => h("span", null, `${c.name} `, h("code", null, `••••${c.last4}`), c.invalid ? badge("refused by provider", "bad") : null) },
      ...BREAKER_CELLS,
    ], health.credentials, "No key reported yet."),
  );
}
