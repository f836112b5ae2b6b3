// Charts drawn by the vendored Chart.js (vendor/README.md), loaded on first use
// and coloured from the page's theme; each chart is redrawn when the theme changes.

let loading = null;
const live = new Set();

/** The Chart constructor, loading vendor/chart.umd.min.js once. */
export function loadChartJs() {
  if (window.Chart) return Promise.resolve(window.Chart);
  loading ??= new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = "/vendor/chart.umd.min.js";
    script.onload = () => resolve(window.Chart);
    script.onerror = () => {
      loading = null;
      reject(new Error("The charting library could not be loaded; the tables below hold the same figures."));
    };
    document.head.append(script);
  });
  return loading;
}

const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

/** Series colours, distinguishable in both themes (Okabe–Ito, colour-blind safe). */
const PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#999999"];

function config({ kind, labels, groups, format }) {
  const fg = css("--fg") || "#1f2430";
  const grid = css("--line") || "#dfe3ea";
  const stacked = kind === "bar";
  return {
    type: kind,
    data: {
      labels,
      datasets: groups.map((g, i) => ({
        label: g.name,
        data: g.values,
        backgroundColor: PALETTE[i % PALETTE.length],
        borderColor: PALETTE[i % PALETTE.length],
        borderWidth: kind === "line" ? 2 : 0,
        pointRadius: kind === "line" ? 2 : 0,
        spanGaps: true,
      })),
    },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      interaction: { mode: "index", intersect: false },
      color: fg,
      scales: {
        x: { stacked, ticks: { color: fg, maxRotation: 0, autoSkip: true, maxTicksLimit: 8 }, grid: { color: grid } },
        y: { stacked, beginAtZero: true, ticks: { color: fg, callback: (v) => format(v) }, grid: { color: grid } },
      },
      plugins: {
        legend: { labels: { color: fg, boxWidth: 12 } },
        tooltip: { callbacks: { label: (ctx) => `${ctx.dataset.label}: ${format(ctx.parsed.y)}` } },
      },
    },
  };
}

/** Draw a chart in `canvas`; returns it (destroyed with the page or on the next draw). */
export async function drawChart(canvas, spec) {
  const Chart = await loadChartJs();
  const chart = new Chart(canvas, config(spec));
  const entry = { chart, canvas, spec };
  live.add(entry);
  return chart;
}

// charts whose canvas left the page are dropped; the others take the new theme's colours
document.addEventListener("themechange", () => {
  for (const entry of [...live]) {
    if (!entry.canvas.isConnected) {
      entry.chart.destroy();
      live.delete(entry);
      continue;
    }
    const next = config(entry.spec);
    entry.chart.options = next.options;
    entry.chart.update();
  }
});

/** Destroy every chart no longer on the page. */
export function pruneCharts() {
  for (const entry of [...live]) {
    if (!entry.canvas.isConnected) {
      entry.chart.destroy();
      live.delete(entry);
    }
  }
}
