// The audit log: every write in the tenant, newest first, filtered by the server
// (action or its family, object type, actor, date range); "Load more" pages on
// within the filters. A filter an older server does not list is applied to the
// entries loaded so far.
import { getAll, tenantPath } from "../api.js";
import { queryParams } from "../capabilities.js";
import { field, fmt, h, section } from "../dom.js";
import { can } from "../roles.js";
import { pagedTable } from "./paged.js";

const AUDIT = "/tenants/{tenant_id}/audit";
const OBJECT_TYPES = ["token", "provider", "credential", "model", "deployment", "user", "tenant", "credits", "budget", "webhook"];
// filter name in the page's URL -> the server's query parameter
const SERVER_NAMES = { action: "action", object: "object_type", user: "user_id", since: "since", until: "until" };

function details(entry) {
  const pairs = Object.entries(entry.details || {});
  if (!pairs.length) return "—";
  return h("ul", { class: "plain details" }, pairs.map(([k, v]) => h("li", null, h("span", { class: "muted" }, `${k}: `), typeof v === "object" ? JSON.stringify(v) : String(v))));
}

/** A local calendar day ("2026-03-01") as the instant it begins, `days` later. */
function dayStart(day, days = 0) {
  const d = new Date(`${day}T00:00:00`);
  d.setDate(d.getDate() + days);
  return d;
}

export async function auditView(root, { tenantId, params, replaceQuery }) {
  let members = [];
  if (can(tenantId, "users")) {
    try {
      members = (await getAll(tenantPath(tenantId, "members"))).items;
    } catch {
      members = []; // user ids stand in for emails, and the actor is typed as an id
    }
  }
  const emails = new Map(members.map((m) => [m.user_id, m.email]));
  const who = (id) => (id ? emails.get(id) ?? `user ${id.slice(0, 8)}` : "system");
  const filters = Object.fromEntries(Object.keys(SERVER_NAMES).map((name) => [name, params.get(name) || ""]));
  const serverSide = new Set(queryParams("GET", AUDIT));
  const byServer = (name) => serverSide.has(SERVER_NAMES[name]);

  const serverValue = {
    action: (v) => v,
    object: (v) => v,
    user: (v) => v,
    since: (v) => dayStart(v).toISOString(),
    until: (v) => dayStart(v, 1).toISOString(), // the "to" day is included
  };
  const serverQuery = () => {
    const q = new URLSearchParams();
    for (const [name, value] of Object.entries(filters)) if (value && byServer(name)) q.set(SERVER_NAMES[name], serverValue[name](value));
    return q.toString();
  };
  const local = {
    action: (e, v) => e.action === v || e.action.startsWith(`${v}.`),
    object: (e, v) => e.object_type === v,
    user: (e, v) => e.user_id === v,
    since: (e, v) => new Date(e.at) >= dayStart(v),
    until: (e, v) => new Date(e.at) < dayStart(v, 1),
  };
  const matches = (e) => Object.entries(filters).every(([name, v]) => !v || byServer(name) || local[name](e, v));
  const filtered = () => Object.values(filters).some(Boolean);

  const list = h("div");
  let audit = null;
  const build = () => {
    const query = serverQuery();
    // each load draws into its own box: a slower earlier load lands in a detached one
    const box = h("div");
    list.replaceChildren(box);
    audit = pagedTable(box, tenantPath(tenantId, "audit") + (query ? `?${query}` : ""), {
      caption: "Audit log",
      empty: filtered() ? "No audit entry matches these filters." : "No audit entries yet.",
      next: filtered() ? "Clear a filter to see more entries." : "Every change made in this tenant (keys, providers, models, members, credits) is recorded here.",
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
  const reload = () => section(list, () => build().reload(), "Audit log");

  let timer = null;
  const onFilter = (name, { typed = false } = {}) => (event) => {
    filters[name] = event.target.value.trim();
    replaceQuery(Object.fromEntries(Object.entries(filters).filter(([, v]) => v)));
    clearTimeout(timer);
    // typing waits for a pause; a pick from a list or a date applies at once
    timer = setTimeout(() => (serverSide.size ? reload() : audit.refilter()), typed ? 300 : 0);
  };
  const actor = members.length
    ? field("Who", { name: "user", value: filters.user, onchange: onFilter("user") },
      [["", "Anyone"], ...members.map((m) => [m.user_id, m.email])])
    : field("Who (user id)", { name: "user", value: filters.user, oninput: onFilter("user", { typed: true }), placeholder: "user id" });
  const form = h("form", { class: "filters", role: "search", "aria-label": "Filter the audit log", onsubmit: (e) => e.preventDefault() },
    field("Action", { name: "action", value: filters.action, oninput: onFilter("action", { typed: true }), placeholder: "token or token.create", hint: "One action, or a family: “token” is every token.* action." }),
    field("Object type", { name: "object", value: filters.object, oninput: onFilter("object", { typed: true }), list: "audit-object-types", placeholder: "token" }),
    h("datalist", { id: "audit-object-types" }, OBJECT_TYPES.map((t) => h("option", { value: t }))),
    actor,
    field("From", { name: "since", type: "date", value: filters.since, onchange: onFilter("since") }),
    field("To", { name: "until", type: "date", value: filters.until, onchange: onFilter("until") }),
    h("button", {
      type: "button",
      class: "secondary",
      onclick: () => {
        for (const name of Object.keys(filters)) {
          filters[name] = "";
          form.elements[name].value = "";
        }
        replaceQuery({});
        reload();
      },
    }, "Clear filters"),
  );
  root.append(h("h1", null, "Audit log"), form, list);
  await reload();
}
