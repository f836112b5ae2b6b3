// The usage dashboard's data: hourly rollups (the server's usage CSV: calls,
// errors, tokens and cost per hour, model and key — fast over any range) and
// call records (provider, deployment, latency and TTFT — the newest calls of
// the range, bounded), turned into series per time bucket and group.
import { getAll, getText, tenantPath } from "../api.js";
import { offers } from "../capabilities.js";

export const CALL_SAMPLE = 2000;
export const DIMENSIONS = [["model", "Model"], ["key", "Key"], ["provider", "Provider"], ["deployment", "Deployment"]];
const ROLLUP_DIMENSIONS = new Set(["model", "key"]);
const TOP = 6;

/** RFC 4180 rows (quotes, doubled quotes, CRLF) as arrays of strings. */
export function parseCsv(text) {
  const rows = [];
  let row = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') { cell += '"'; i++; } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ",") { row.push(cell); cell = ""; } else if (ch === "\n" || ch === "\r") {
      if (ch === "\r" && text[i + 1] === "\n") i++;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = "";
    } else cell += ch;
  }
  if (cell || row.length) { row.push(cell); rows.push(row); }
  return rows;
}

// a text cell the server guarded against spreadsheet formulas ("'=x") reads back as "=x"
const unguard = (s) => (/^'[=+\-@\t\r]/.test(s) ? s.slice(1) : s);

function blank(t, dims) {
  return { t, dims, calls: 0, failed: 0, refused: 0, input: 0, output: 0, cost: 0, latency: 0, latencyN: 0, ttft: 0, ttftN: 0 };
}

/** The rollup rows of [since, until) as points. */
export async function rollupPoints(tenantId, since, until) {
  const query = new URLSearchParams({ since: since.toISOString(), until: until.toISOString() });
  const { text } = await getText(`${tenantPath(tenantId, "usage.csv")}?${query}`);
  const [header, ...rows] = parseCsv(text);
  const col = Object.fromEntries((header || []).map((name, i) => [name, i]));
  const num = (r, name) => Number(r[col[name]] || 0);
  return rows.filter((r) => r.length === header.length).map((r) => ({
    ...blank(new Date(r[col.hour]).getTime(), {
      model: unguard(r[col.model]),
      key: unguard(r[col.token_name] || "") || `key ${String(r[col.token_id]).slice(0, 8)}`,
    }),
    calls: num(r, "calls"),
    failed: num(r, "failed_calls"),
    refused: num(r, "refused_calls"),
    input: num(r, "input_tokens"),
    output: num(r, "output_tokens"),
    cost: num(r, "cost_usd"),
  }));
}

/** The newest call records of [since, until) (at most CALL_SAMPLE) as points. */
export async function callPoints(tenantId, since, until, names) {
  const points = [];
  let truncated = false;
  // calls come newest first: stop once a page reaches back before the range
  const { items, truncated: more } = await getAll(tenantPath(tenantId, "calls"), { max: CALL_SAMPLE, stopBefore: since });
  for (const c of items) {
    const t = new Date(c.started_at).getTime();
    if (t < since.getTime() || t >= until.getTime()) continue;
    const p = blank(t, {
      model: c.model,
      key: names.tokenName(c.token_id),
      provider: names.providerName(c.provider_id),
      deployment: c.deployment_id ? `${c.model}: ${names.deploymentName(c.deployment_id)}` : "none (refused)",
    });
    p.calls = 1;
    p.failed = c.status === "failed" ? 1 : 0;
    p.refused = c.status === "refused" ? 1 : 0;
    p.input = c.input_tokens;
    p.output = c.output_tokens;
    p.cost = c.cost_usd;
    if (c.latency_ms != null) { p.latency = c.latency_ms; p.latencyN = 1; }
    if (c.ttft_ms != null) { p.ttft = c.ttft_ms; p.ttftN = 1; }
    points.push(p);
  }
  truncated = more && items.length > 0 && new Date(items[items.length - 1].started_at) >= since;
  return { points, truncated };
}

export const METRICS = [
  { key: "requests", label: "Requests", kind: "bar", value: (p) => p.calls, fmt: "num" },
  { key: "tokens", label: "Tokens", kind: "bar", value: (p) => p.input + p.output, fmt: "num" },
  { key: "cost", label: "Cost", kind: "bar", value: (p) => p.cost, fmt: "usd" },
  { key: "errors", label: "Error rate", kind: "line", ratio: (p) => [p.failed, p.calls], fmt: "pct" },
  { key: "latency", label: "Latency", kind: "line", ratio: (p) => [p.latency, p.latencyN], fmt: "ms", callsOnly: true },
  { key: "ttft", label: "Time to first token", kind: "line", ratio: (p) => [p.ttft, p.ttftN], fmt: "ms", callsOnly: true },
];

/** Which points a metric is drawn from for a breakdown: "rollups" or "calls". */
export function sourceFor(metric, by, haveRollups) {
  return !metric.callsOnly && haveRollups && ROLLUP_DIMENSIONS.has(by) ? "rollups" : "calls";
}

export function bucketStart(t, bucket) {
  const d = new Date(t);
  d.setMinutes(0, 0, 0);
  if (bucket === "day") d.setHours(0);
  return d.getTime();
}

/** Every bucket start of [since, until). */
export function buckets(since, until, bucket) {
  const out = [];
  const step = bucket === "day" ? 24 : 1;
  const d = new Date(bucketStart(since.getTime(), bucket));
  while (d.getTime() < until.getTime()) {
    out.push(d.getTime());
    d.setHours(d.getHours() + step); // local hours: a day bucket stays a calendar day across DST
  }
  return out;
}

/**
 * A metric's series: {labels: bucket starts, groups: [{name, values[], total}]},
 * the TOP groups by volume, the rest summed as "other".
 */
export function series(points, metric, by, since, until, bucket) {
  const starts = buckets(since, until, bucket);
  const index = new Map(starts.map((t, i) => [t, i]));
  const perGroup = new Map();
  for (const p of points) {
    const i = index.get(bucketStart(p.t, bucket));
    if (i === undefined) continue;
    const name = p.dims[by] ?? "—";
    if (!perGroup.has(name)) perGroup.set(name, { name, num: new Array(starts.length).fill(0), den: new Array(starts.length).fill(0), weight: 0 });
    const g = perGroup.get(name);
    if (metric.ratio) {
      const [n, d] = metric.ratio(p);
      g.num[i] += n;
      g.den[i] += d;
      g.weight += d;
    } else {
      g.num[i] += metric.value(p);
      g.weight += metric.value(p);
    }
  }
  let groups = [...perGroup.values()].sort((a, b) => b.weight - a.weight || a.name.localeCompare(b.name));
  if (groups.length > TOP) {
    const rest = groups.slice(TOP - 1);
    const other = { name: `other (${rest.length})`, num: new Array(starts.length).fill(0), den: new Array(starts.length).fill(0), weight: 0 };
    for (const g of rest) g.num.forEach((v, i) => { other.num[i] += v; other.den[i] += g.den[i]; other.weight += g.num[i]; });
    groups = groups.slice(0, TOP - 1).concat(other);
  }
  const out = groups.map((g) => {
    const values = metric.ratio ? g.num.map((n, i) => (g.den[i] ? n / g.den[i] : null)) : g.num;
    const num = g.num.reduce((a, b) => a + b, 0);
    const den = g.den.reduce((a, b) => a + b, 0);
    return { name: g.name, values, total: metric.ratio ? (den ? num / den : null) : num, count: metric.ratio ? den : null };
  });
  return { labels: starts, groups: out };
}

/** Totals over the range: calls, failed, tokens, cost from `points`; latency and TTFT averages too. */
export function totals(points) {
  const t = blank(0, {});
  for (const p of points) for (const k of ["calls", "failed", "refused", "input", "output", "cost", "latency", "latencyN", "ttft", "ttftN"]) t[k] += p[k];
  return t;
}

export const haveRollups = () => offers("GET", "/tenants/{tenant_id}/usage.csv");
