// The usage dashboard: requests, tokens, cost, error rate, latency and TTFT over a
// chosen range in hour or day buckets, broken down by model, key, provider or
// deployment, all from the server's usage series (its hourly rollups); a chart
// with its tables under it for each metric, and CSV downloads.
import { getText, tenantPath } from "../api.js";
import { offers } from "../capabilities.js";
import { drawChart, pruneCharts } from "../charts.js";
import { action, download, empty, errorSlot, field, fmt, h, problem } from "../dom.js";
import { DIMENSIONS, METRICS, haveSeries, loadSeries, metricSeries, rangeTotals, seriesQuery } from "./usage_data.js";

const RANGES = [["24h", "Last 24 hours", 24], ["7d", "Last 7 days", 24 * 7], ["30d", "Last 30 days", 24 * 30], ["90d", "Last 90 days", 24 * 90], ["custom", "Custom range", 0]];
const MAX_HOUR_BUCKETS = 24 * 14;
const FORMAT = { num: fmt.num, usd: fmt.usd, pct: fmt.pct, ms: fmt.ms };
const HOURLY_CSV = "/tenants/{tenant_id}/usage.csv";
const SERIES_CSV = "/tenants/{tenant_id}/usage/series.csv";

function rangeOf(state) {
  if (state.range === "custom" && state.since && state.until) {
    const since = new Date(`${state.since}T00:00:00`);
    const until = new Date(`${state.until}T00:00:00`);
    until.setDate(until.getDate() + 1); // the "until" day is included
    if (since < until) return [since, until];
  }
  const hours = (RANGES.find((r) => r[0] === state.range) ?? RANGES[0])[2] || 24;
  const until = new Date();
  return [new Date(until.getTime() - hours * 3600_000), until];
}

/** The range, bucket and breakdown to ask the server for, and whether the bucket was widened. */
function plan(state) {
  const [since, until] = rangeOf(state);
  const spanHours = (until - since) / 3600_000;
  const asked = state.bucket || (spanHours <= 48 ? "hour" : "day");
  const bucket = asked === "hour" && spanHours > MAX_HOUR_BUCKETS ? "day" : asked;
  return { since, until, bucket, by: state.by, widened: bucket !== asked };
}

const bucketLabel = (t, bucket) => {
  const d = new Date(t);
  return bucket === "day"
    ? d.toLocaleDateString(undefined, { month: "short", day: "numeric" })
    : d.toLocaleString(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
};

export async function usageView(root, { tenantId, tenantName, params, replaceQuery }) {
  const state = {
    range: RANGES.some(([k]) => k === params.get("range")) ? params.get("range") : "24h",
    since: params.get("since") || "",
    until: params.get("until") || "",
    bucket: ["hour", "day"].includes(params.get("bucket")) ? params.get("bucket") : "",
    by: DIMENSIONS.some(([k]) => k === params.get("by")) ? params.get("by") : "model",
  };
  const board = h("div", { class: "board" });
  const errors = errorSlot();
  let drawSeq = 0;

  const controls = h("form", { class: "filters", "aria-label": "Usage range and breakdown", onsubmit: (e) => { e.preventDefault(); refresh(); } },
    field("Range", { name: "range", value: state.range }, RANGES.map(([k, label]) => [k, label])),
    field("From", { name: "since", type: "date", value: state.since }),
    field("To", { name: "until", type: "date", value: state.until }),
    field("Bucket", { name: "bucket", value: state.bucket || "auto" }, [["auto", "Automatic"], ["hour", "Hour"], ["day", "Day"]]),
    field("Breakdown", { name: "by", value: state.by }, DIMENSIONS),
    h("button", { type: "submit", class: "secondary" }, "Refresh"),
  );
  const customOnly = () => {
    const custom = controls.elements.range.value === "custom";
    for (const name of ["since", "until"]) controls.elements[name].closest(".field").hidden = !custom;
  };
  controls.addEventListener("change", (event) => {
    customOnly();
    if (event.target.name !== "since" && event.target.name !== "until") refresh();
  });
  customOnly();

  const downloads = [];
  if (offers("GET", HOURLY_CSV)) {
    downloads.push(action("Download hourly usage CSV", errors, async () => {
      const { since, until } = plan(state);
      const { text, filename } = await getText(`${tenantPath(tenantId, "usage.csv")}?${new URLSearchParams({ since: since.toISOString(), until: until.toISOString() })}`);
      download(filename || `usage-${tenantName}.csv`, text);
    }));
  }
  if (offers("GET", SERIES_CSV)) {
    downloads.push(action("Download this view as CSV", errors, async () => {
      const { text, filename } = await getText(`${tenantPath(tenantId, "usage", "series.csv")}?${seriesQuery(plan(state))}`);
      download(filename || `usage-series-${tenantName}.csv`, text);
    }));
  }
  root.append(h("h1", null, "Usage"), controls, h("div", { class: "toolbar" }, downloads), errors, board);
  if (!haveSeries()) {
    board.replaceChildren(h("p", { class: "notice" }, "Usage series: not available on this server."));
    return;
  }
  await refresh();

  async function refresh() {
    const data = new FormData(controls);
    Object.assign(state, { range: data.get("range"), since: data.get("since"), until: data.get("until"), bucket: data.get("bucket"), by: data.get("by") });
    if (state.bucket === "auto") state.bucket = "";
    replaceQuery(Object.fromEntries(Object.entries(state).filter(([k, v]) => v && !(state.range !== "custom" && (k === "since" || k === "until")))));
    errors.clear();
    const seq = ++drawSeq;
    board.setAttribute("aria-busy", "true");
    try {
      await draw(seq);
    } catch (error) {
      if (error?.status === 401) throw error;
      if (seq === drawSeq) board.replaceChildren(problem(error, "Usage"));
    } finally {
      if (seq === drawSeq) board.removeAttribute("aria-busy");
    }
  }

  async function draw(seq) {
    const asked = plan(state);
    const data = await loadSeries(tenantId, asked);
    if (seq !== drawSeq) return; // a newer choice is being drawn
    const notes = asked.widened ? [h("p", { class: "muted" }, "Ranges over 14 days are shown by day.")] : [];
    const sum = rangeTotals(data);
    pruneCharts();
    if (!sum.requests) {
      board.replaceChildren(...notes,
        empty("No calls in this period.", h("span", null, "Create a key on the ", h("a", { href: `#/t/${encodeURIComponent(tenantId)}/keys` }, "Keys"), " page and call the gateway with it; usage shows here within a minute.")));
      return;
    }
    const tiles = h("div", { class: "tiles" }, [
      ["Requests", fmt.num(sum.requests)],
      ["Tokens", fmt.num(sum.tokens)],
      ["Cost", fmt.usd(sum.cost)],
      ["Error rate", fmt.pct(sum.errorRate)],
      ["Avg latency", fmt.ms(sum.latency)],
      ["Avg TTFT", fmt.ms(sum.ttft)],
    ].map(([label, value]) => h("div", { class: "tile" }, h("span", { class: "muted" }, label), h("strong", null, value))));
    const byLabel = DIMENSIONS.find(([k]) => k === asked.by)[1].toLowerCase();
    const sections = METRICS.map((metric) => chartSection(metric, metricSeries(data, metric, asked.by), byLabel, data.bucket));
    board.replaceChildren(tiles, ...notes,
      h("p", { class: "muted small" }, `From the server's hourly rollups; latency and TTFT are means over the calls that reported them. ${data.bucket === "day" ? `Days begin at midnight, ${data.tz}.` : "Hours are shown in your time zone."}`),
      ...sections.map((s) => s.node));
    for (const s of sections) await s.draw().catch((error) => s.node.querySelector(".chart").replaceChildren(problem(error)));
  }

  function chartSection(metric, data, byLabel, bucket) {
    const format = FORMAT[metric.fmt];
    const title = `${metric.label} by ${byLabel}`;
    const id = `chart-${metric.key}`;
    const canvas = h("canvas", { role: "img", "aria-label": `${title}, per ${bucket}; the figures are in the table below` });
    const node = h("section", { class: "card chart-card", "aria-labelledby": id },
      h("h2", { id }, title),
      h("div", { class: "chart" }, canvas),
      totalsTable(metric, data, title, byLabel, format),
      bucketTable(data, title, bucket, format),
    );
    return { node, draw: () => drawChart(canvas, { kind: metric.kind, labels: data.labels.map((t) => bucketLabel(t, bucket)), groups: data.groups, format }) };
  }
}

function totalsTable(metric, data, title, byLabel, format) {
  const rows = data.groups.filter((g) => g.total != null);
  const name = `${title}: totals`;
  return h("div", { class: "table-wrap", role: "region", "aria-label": name, tabindex: "0" }, h("table", null,
    h("caption", { class: "visually-hidden" }, name),
    h("thead", null, h("tr", null, h("th", { scope: "col" }, byLabel[0].toUpperCase() + byLabel.slice(1)),
      h("th", { scope: "col", class: "num" }, metric.ratio ? "Over the range" : "Total"),
      metric.ratio ? h("th", { scope: "col", class: "num" }, metric.key === "errors" ? "Calls" : "Measured calls") : null)),
    h("tbody", null, rows.length ? rows.map((g) => h("tr", null, h("td", { "data-label": byLabel }, g.name), h("td", { class: "num" }, format(g.total)),
      metric.ratio ? h("td", { class: "num" }, fmt.num(g.count)) : null))
      : h("tr", null, h("td", { colspan: 3 }, "No measurement in this range.")))));
}

function bucketTable(data, title, bucket, format) {
  const used = data.labels.map((_, i) => data.groups.some((g) => g.values[i])).map((any, i) => (any ? i : -1)).filter((i) => i >= 0);
  return h("details", { class: "buckets" },
    h("summary", null, `${title} per ${bucket} (${used.length} with data)`),
    h("div", { class: "table-wrap", role: "region", "aria-label": `${title} per ${bucket}`, tabindex: "0" }, h("table", null,
      h("caption", { class: "visually-hidden" }, `${title} per ${bucket}`),
      h("thead", null, h("tr", null, h("th", { scope: "col" }, bucket === "day" ? "Day" : "Hour"), data.groups.map((g) => h("th", { scope: "col", class: "num" }, g.name)))),
      h("tbody", null, used.map((i) => h("tr", null, h("td", null, bucketLabel(data.labels[i], bucket)),
        data.groups.map((g) => h("td", { class: "num" }, g.values[i] == null ? "—" : format(g.values[i])))))))));
}
