// The usage dashboard's data: the server's usage series (GET …/usage/series),
// read from the hourly rollups (and, for the hours not rolled up yet, the call
// records) — requests, errors, tokens, cost, mean latency and TTFT per hour or
// day bucket and per model, key, provider or deployment — turned into one
// chart series per metric, the busiest groups apart and the rest as "other".
import { get, tenantPath } from "../api.js";
import { offers } from "../capabilities.js";

export const SERIES = "/tenants/{tenant_id}/usage/series";
export const DIMENSIONS = [["model", "Model"], ["key", "Key"], ["provider", "Provider"], ["deployment", "Deployment"]];
// the console says "key", the server "token"
const SERVER_BY = { model: "model", key: "token", provider: "provider", deployment: "deployment" };
const TOP = 6;

export const METRICS = [
  { key: "requests", label: "Requests", kind: "bar", value: (f) => f.requests, fmt: "num" },
  { key: "tokens", label: "Tokens", kind: "bar", value: (f) => f.input_tokens + f.output_tokens, fmt: "num" },
  { key: "cost", label: "Cost", kind: "bar", value: (f) => f.cost_usd, fmt: "usd" },
  { key: "errors", label: "Error rate", kind: "line", ratio: (f) => [f.failed, f.requests], fmt: "pct" },
  { key: "latency", label: "Latency", kind: "line", ratio: (f) => mean(f.latency_ms_mean, f.latency_count), fmt: "ms" },
  { key: "ttft", label: "Time to first token", kind: "line", ratio: (f) => mean(f.ttft_ms_mean, f.ttft_count), fmt: "ms" },
];

// a mean and its count back to (sum, count), so means of groups and buckets combine
const mean = (value, count) => [value == null ? 0 : value * count, count];

export const haveSeries = () => offers("GET", SERIES);

/** The browser's IANA time zone (where a day bucket begins), UTC when it cannot tell. */
export function browserZone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  } catch {
    return "UTC";
  }
}

/** The query of a series request (also that of its CSV download). */
export function seriesQuery({ since, until, bucket, by }) {
  return new URLSearchParams({ since: since.toISOString(), until: until.toISOString(), bucket, by: SERVER_BY[by], tz: browserZone() });
}

/** The server's series of [since, until) per `bucket` and `by`. */
export async function loadSeries(tenantId, range) {
  return get(`${tenantPath(tenantId, "usage", "series")}?${seriesQuery(range)}`);
}

/** What a group is called on the page: its name while the object exists, else a short id. */
export function groupName(group, by) {
  if (by === "model") return group.key || "—";
  if (!group.key) return by === "deployment" || by === "provider" ? "none (refused)" : "none";
  return group.name ?? `${by === "key" ? "key" : by} ${group.key.slice(0, 8)} (deleted)`;
}

/**
 * A metric's chart data: {labels: bucket starts (ms), groups: [{name, values[], total, count}]},
 * the TOP groups by volume, the rest summed as "other".
 */
export function metricSeries(data, metric, by) {
  const starts = data.buckets.map((b) => new Date(b).getTime());
  const index = new Map(starts.map((t, i) => [t, i]));
  const zeros = () => new Array(starts.length).fill(0);
  let groups = data.groups.map((g) => {
    const num = zeros();
    const den = zeros();
    for (const p of g.points) {
      const i = index.get(new Date(p.bucket).getTime());
      if (i === undefined) continue;
      const [n, d] = metric.ratio ? metric.ratio(p) : [metric.value(p), 0];
      num[i] += n;
      den[i] += d;
    }
    const [wn, wd] = metric.ratio ? metric.ratio(g.total) : [metric.value(g.total), 0];
    return { name: groupName(g, by), num, den, weight: metric.ratio ? wd : wn };
  });
  groups.sort((a, b) => b.weight - a.weight || a.name.localeCompare(b.name));
  if (groups.length > TOP) {
    const rest = groups.slice(TOP - 1);
    const other = { name: `other (${rest.length})`, num: zeros(), den: zeros(), weight: 0 };
    for (const g of rest) {
      g.num.forEach((v, i) => { other.num[i] += v; other.den[i] += g.den[i]; });
      other.weight += g.weight;
    }
    groups = groups.slice(0, TOP - 1).concat(other);
  }
  const out = groups.map((g) => {
    const num = g.num.reduce((a, b) => a + b, 0);
    const den = g.den.reduce((a, b) => a + b, 0);
    if (!metric.ratio) return { name: g.name, values: g.num, total: num, count: null };
    return { name: g.name, values: g.num.map((n, i) => (g.den[i] ? n / g.den[i] : null)), total: den ? num / den : null, count: den };
  });
  return { labels: starts, groups: out };
}

/** The range's totals over every group: requests, tokens, cost, error rate, mean latency and TTFT. */
export function rangeTotals(data) {
  const t = { requests: 0, failed: 0, tokens: 0, cost: 0, latency: 0, latencyN: 0, ttft: 0, ttftN: 0 };
  for (const { total: f } of data.groups) {
    t.requests += f.requests;
    t.failed += f.failed;
    t.tokens += f.input_tokens + f.output_tokens;
    t.cost += f.cost_usd;
    const [ls, ln] = mean(f.latency_ms_mean, f.latency_count);
    const [ts, tn] = mean(f.ttft_ms_mean, f.ttft_count);
    t.latency += ls;
    t.latencyN += ln;
    t.ttft += ts;
    t.ttftN += tn;
  }
  return {
    requests: t.requests,
    tokens: t.tokens,
    cost: t.cost,
    errorRate: t.requests ? t.failed / t.requests : null,
    latency: t.latencyN ? t.latency / t.latencyN : null,
    ttft: t.ttftN ? t.ttft / t.ttftN : null,
  };
}
