// Usage: per-model totals for the last 24 hours or 7 days, and the recent calls.
import { get, tenantPath } from "../api.js";
import { errorSlot, fmt, h, table } from "../dom.js";
import { pagedTable } from "./paged.js";

const RANGES = [["24h", "Last 24 hours", 24], ["7d", "Last 7 days", 24 * 7]];

function status(call) {
  const ok = call.status === "success";
  const detail = [call.http_status, call.error_code].filter((x) => x != null).join(" ");
  return h("span", { class: `badge ${ok ? "ok" : call.status === "processing" ? "" : "bad"}` }, detail ? `${call.status} (${detail})` : call.status);
}

export async function usageView(root, { tenantId }) {
  const totals = h("div");
  const calls = h("div");
  const errors = errorSlot();
  let range = RANGES[0];

  const buttons = RANGES.map((r) =>
    h("button", { type: "button", class: "secondary", "aria-pressed": String(r === range), onclick: () => { range = r; refresh(); } }, r[1]),
  );

  const loadTotals = async () => {
    const since = new Date(Date.now() - range[2] * 3600 * 1000).toISOString();
    const usage = await get(`${tenantPath(tenantId, "usage")}?${new URLSearchParams({ since })}`);
    const sum = usage.models.reduce((acc, m) => ({ calls: acc.calls + m.calls, cost: acc.cost + m.cost_usd }), { calls: 0, cost: 0 });
    totals.replaceChildren(
      h("p", { class: "summary" }, `${fmt.num(sum.calls)} calls · ${fmt.usd(sum.cost)}`),
      table(`Usage per model, ${range[1].toLowerCase()}`, [
        { label: "Model", cell: (m) => h("code", null, m.model) },
        { label: "Calls", cell: (m) => fmt.num(m.calls), num: true },
        { label: "Input tokens", cell: (m) => fmt.num(m.input_tokens), num: true },
        { label: "Output tokens", cell: (m) => fmt.num(m.output_tokens), num: true },
        { label: "Cost", cell: (m) => fmt.usd(m.cost_usd), num: true },
      ], usage.models, "No calls in this period."),
    );
  };

  const loadCalls = () =>
    pagedTable(calls, tenantPath(tenantId, "calls"), {
      caption: "Recent calls",
      empty: "No calls yet.",
      columns: [
        { label: "Started", cell: (c) => fmt.date(c.started_at) },
        { label: "Model", cell: (c) => h("code", null, c.model) },
        { label: "Operation", cell: (c) => `${c.operation}${c.stream ? " (stream)" : ""}` },
        { label: "Status", cell: status },
        { label: "Tokens in / out", cell: (c) => `${fmt.num(c.input_tokens)} / ${fmt.num(c.output_tokens)}`, num: true },
        { label: "Cost", cell: (c) => fmt.usd(c.cost_usd), num: true },
        { label: "Latency", cell: (c) => fmt.ms(c.latency_ms), num: true },
      ],
    });

  const refresh = async () => {
    buttons.forEach((b, i) => b.setAttribute("aria-pressed", String(RANGES[i] === range)));
    errors.clear();
    try {
      await Promise.all([loadTotals(), loadCalls()]);
    } catch (error) {
      errors.show(error);
    }
  };

  root.append(
    h("h1", null, "Usage"),
    h("div", { class: "toolbar", role: "group", "aria-label": "Period" }, buttons, h("button", { type: "button", class: "link", onclick: () => refresh() }, "Refresh")),
    errors,
    h("h2", null, "Per model"),
    totals,
    h("h2", null, "Recent calls"),
    calls,
  );
  await Promise.all([loadTotals(), loadCalls()]);
}
