// The audit log: every write in the tenant, newest first, with filters (by the
// server where it offers them, else over the entries loaded so far).
import { getAll, tenantPath } from "../api.js";
import { queryParams } from "../capabilities.js";
import { field, fmt, h, section } from "../dom.js";
import { can } from "../roles.js";
import { pagedTable } from "./paged.js";

const AUDIT = "/tenants/{tenant_id}/audit";

function details(entry) {
  const pairs = Object.entries(entry.details || {});
  if (!pairs.length) return "—";
  return h("ul", { class: "plain details" }, pairs.map(([k, v]) => h("li", null, h("span", { class: "muted" }, `${k}: `), typeof v === "object" ? JSON.stringify(v) : String(v))));
}

export async function auditView(root, { tenantId, params, replaceQuery }) {
  let emails = new Map();
  if (can(tenantId, "users")) {
    try {
      emails = new Map((await getAll(tenantPath(tenantId, "members"))).items.map((m) => [m.user_id, m.email]));
    } catch {
      emails = new Map(); // user ids stand in for emails
    }
  }
  const who = (id) => (id ? emails.get(id) ?? `user ${id.slice(0, 8)}` : "system");
  const filters = { action: params.get("action") || "", object: params.get("object") || "", user: params.get("user") || "" };
  const serverSide = new Set(queryParams("GET", AUDIT));
  const serverQuery = () => {
    const q = new URLSearchParams();
    if (serverSide.has("action") && filters.action) q.set("action", filters.action);
    if (serverSide.has("object_type") && filters.object) q.set("object_type", filters.object);
    return q.toString();
  };
  const list = h("div");
  const matches = (e) =>
    (!filters.action || e.action.includes(filters.action)) &&
    (!filters.object || e.object_type.includes(filters.object)) &&
    (!filters.user || who(e.user_id).includes(filters.user));
  let audit = null;
  const build = () => {
    const query = serverQuery();
    audit = pagedTable(list, tenantPath(tenantId, "audit") + (query ? `?${query}` : ""), {
      caption: "Audit log",
      empty: "No audit entries yet.",
      next: "Every change made in this tenant (keys, providers, models, members, credits) is recorded here.",
      limit: 100,
      filter: matches,
      columns: [
        { label: "When", cell: (e) => fmt.date(e.at) },
        { label: "Who", cell: (e) => who(e.user_id) },
        { label: "Action", cell: (e) => h("code", null, e.action) },
        { label: "Object", cell: (e) => `${e.object_type}${e.object_id ? ` ${e.object_id.slice(0, 8)}` : ""}` },
        { label: "Details", cell: details },
      ],
    });
    return audit;
  };
  let timer = null;
  const onFilter = (name) => (event) => {
    filters[name] = event.target.value.trim();
    replaceQuery(Object.fromEntries(Object.entries(filters).filter(([, v]) => v)));
    clearTimeout(timer);
    timer = setTimeout(() => (serverSide.size ? section(list, () => build().reload(), "Audit log") : audit.refilter()), 250);
  };
  root.append(
    h("h1", null, "Audit log"),
    h("form", { class: "filters", role: "search", "aria-label": "Filter the audit log", onsubmit: (e) => e.preventDefault() },
      field("Action contains", { name: "action", value: filters.action, oninput: onFilter("action"), placeholder: "token.create" }),
      field("Object type contains", { name: "object", value: filters.object, oninput: onFilter("object"), placeholder: "token" }),
      field("User contains", { name: "user", value: filters.user, oninput: onFilter("user"), placeholder: "email" })),
    list,
  );
  await section(list, () => build().reload(), "Audit log");
}
