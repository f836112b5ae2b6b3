// Call records: the newest first with the server's filters, and one call's detail
// (request id, each upstream attempt, deployment, status, tokens, cost, TTFT).
import { get, tenantPath } from "../api.js";
import { badge, facts, field, fmt, h, section, table } from "../dom.js";
import { lookups } from "./lookups.js";
import { pagedTable } from "./paged.js";


export function callStatus(call) {
  const detail = [call.http_status, call.error_code].filter((x) => x != null).join(" ");
  const kind = call.status === "success" ? "ok" : call.status === "processing" ? "" : call.status === "refused" ? "warn" : "bad";
  return badge(detail ? `${call.status} (${detail})` : call.status, kind);
}

const flags = (c) => [c.usage_estimated ? badge("usage estimated", "warn") : null, c.partial ? badge("partial", "warn") : null];

const FILTERS = ["status", "model", "request_id"];

export async function callsView(root, { tenantId, params, replaceQuery }) {
  const names = await lookups(tenantId);
  const list = h("div");
  const filters = Object.fromEntries(FILTERS.map((name) => [name, params.get(name) || ""]));
  const link = (c) => h("a", { href: `#/t/${encodeURIComponent(tenantId)}/calls/${encodeURIComponent(c.id)}`, "aria-label": `Call ${c.id} at ${fmt.date(c.started_at)}` }, fmt.date(c.started_at));
  const columns = [
    { label: "Started", cell: link },
    { label: "Model", cell: (c) => h("code", null, c.model) },
    { label: "Key", cell: (c) => names.tokenName(c.token_id) },
    { label: "Status", cell: (c) => h("span", null, callStatus(c), flags(c)) },
    { label: "Deployment", cell: (c) => names.deploymentName(c.deployment_id) },
    { label: "Tokens in / out", cell: (c) => `${fmt.num(c.input_tokens)} / ${fmt.num(c.output_tokens)}`, num: true },
    { label: "Cost", cell: (c) => fmt.usd(c.cost_usd), num: true },
    { label: "Latency", cell: (c) => fmt.ms(c.latency_ms), num: true },
    { label: "TTFT", cell: (c) => fmt.ms(c.ttft_ms), num: true },
  ];
  // the server filters (exactly, all together), so "Load more" goes on within the filter
  const load = () => {
    const query = new URLSearchParams(Object.entries(filters).filter(([, v]) => v));
    const path = tenantPath(tenantId, "calls") + (query.size ? `?${query}` : "");
    const calls = pagedTable(list, path, {
      caption: "Calls",
      empty: query.size ? "No call matches these filters." : "No calls yet.",
      next: query.size ? "Clear a filter to see more calls." : "Calls appear here as soon as an app uses one of this tenant's keys.",
      limit: 100,
      columns,
    });
    return section(list, () => calls.reload(), "Calls");
  };
  const onFilter = (name) => (event) => {
    filters[name] = event.target.value.trim();
    replaceQuery(Object.fromEntries(Object.entries(filters).filter(([, v]) => v)));
    load();
  };
  root.append(
    h("h1", null, "Calls"),
    h("form", { class: "filters", role: "search", "aria-label": "Filter calls", onsubmit: (e) => e.preventDefault() },
      field("Status", { name: "status", value: filters.status, onchange: onFilter("status") },
        [["", "Any"], ["success", "success"], ["failed", "failed"], ["cancelled", "cancelled"], ["refused", "refused"], ["processing", "processing"]]),
      field("Model", { name: "model", value: filters.model, onchange: onFilter("model") }),
      field("Request id", { name: "request_id", value: filters.request_id, onchange: onFilter("request_id") })),
    list,
  );
  await load();
}

async function findCall(tenantId, id) {
  try {
    return await get(tenantPath(tenantId, "calls", id));
  } catch (err) {
    if (err.status === 404) return null;
    throw err;
  }
}

export async function callDetailView(root, { tenantId, id, setTitle }) {
  const listUrl = `#/t/${encodeURIComponent(tenantId)}/calls`;
  root.append(h("p", { class: "crumbs" }, h("a", { href: listUrl }, "Calls"), " / "), h("h1", null, "Call detail"));
  const box = h("div");
  root.append(box);
  await section(box, async () => {
    const [call, names] = await Promise.all([findCall(tenantId, id), lookups(tenantId)]);
    if (!call) {
      box.replaceChildren(h("p", { class: "notice" }, `No call ${id} in this tenant (calls are kept for the retention period).`), h("p", null, h("a", { href: listUrl }, "Back to the calls")));
      return;
    }
    setTitle(call.id);
    const dep = names.deployment(call.deployment_id);
    box.replaceChildren(
      facts([
        ["Request id", h("code", { class: "wrap" }, call.request_id ?? call.id)],
        ["Call id", h("code", { class: "wrap" }, call.id)],
        ["Status", h("span", null, callStatus(call), flags(call))],
        ["Model", h("code", null, call.model)],
        ["Key", names.tokenName(call.token_id)],
        ["Operation", `${call.operation}${call.stream ? " (stream)" : ""} · ${call.client_protocol} protocol`],
        ["Deployment", dep ? h("a", { href: `#/t/${encodeURIComponent(tenantId)}/models/${encodeURIComponent(dep.modelId)}` }, names.deploymentName(call.deployment_id)) : names.deploymentName(call.deployment_id)],
        ["Provider", names.providerName(call.provider_id)],
        ["Provider key", call.credential_id ? h("code", null, call.credential_id.slice(0, 8)) : "—"],
        ["Attempts", fmt.num(call.attempts)],
        ["Input tokens", `${fmt.num(call.input_tokens)} (${fmt.num(call.cached_input_tokens)} cached)`],
        ["Output tokens", `${fmt.num(call.output_tokens)} (${fmt.num(call.reasoning_tokens)} reasoning)`],
        ["Cost", fmt.usd(call.cost_usd)],
        ["Latency", fmt.ms(call.latency_ms)],
        ["Time to first token", fmt.ms(call.ttft_ms)],
        ["Started", fmt.date(call.started_at)],
        ["Finished", fmt.date(call.finished_at)],
      ]),
      ...(Array.isArray(call.attempt_log) && call.attempt_log.length
        ? [h("h2", null, "Attempts"), table("Attempts", [
            { label: "#", cell: (a) => fmt.num(a.number), num: true },
            { label: "Deployment", cell: (a) => names.deploymentName(a.deployment_id) },
            { label: "Provider", cell: (a) => names.providerName(a.provider_id) },
            { label: "Outcome", cell: (a) => badge(a.outcome, a.outcome === "answered" ? "ok" : a.outcome === "failed" ? "bad" : "warn") },
            { label: "HTTP status", cell: (a) => a.http_status ?? "no answer" },
            { label: "Error", cell: (a) => a.error_code ?? "—" },
            { label: "Duration", cell: (a) => fmt.ms(a.latency_ms), num: true },
          ], call.attempt_log, "No attempt recorded.")]
        : [h("p", { class: "muted" }, call.attempts === 0 ? "No provider was tried: the gateway refused the call first." : call.attempts > 1 ? `${call.attempts} attempts: failed over ${call.attempts - 1} time(s), the last on the deployment above.` : "One attempt, on the deployment above.")]),
    );
  }, "Call detail");
}
