// The console's hash router: #/login, #/tenants, #/t/<tenant>/<page>[/<id>][?query].
// Every page is a deep link; the title says where you are.
import { ApiError, clearSession, get, post, session } from "./api.js";
import { loadCapabilities } from "./capabilities.js";
import { h, problem } from "./dom.js";
import { can, canTokens, currentUser, roleIn, setMe } from "./roles.js";
import { auditView } from "./views/audit.js";
import { callDetailView, callsView } from "./views/calls.js";
import { creditsView } from "./views/credits.js";
import { keysView } from "./views/keys.js";
import { loginView } from "./views/login.js";
import { membersView } from "./views/members.js";
import { modelDetailView, modelsView } from "./views/models.js";
import { providerDetailView, providersView } from "./views/providers.js";
import { settingsView } from "./views/settings.js";
import { tenantsView } from "./views/tenants.js";
import { usageView } from "./views/usage.js";

// key -> [nav label, list view, detail view, whether the role may open it]
const PAGES = {
  usage: ["Usage", usageView, null, (t) => can(t, "usage")],
  calls: ["Calls", callsView, callDetailView, (t) => can(t, "calls")],
  keys: ["Keys", keysView, null, (t) => canTokens(t, "read")],
  models: ["Models", modelsView, modelDetailView, (t) => can(t, "models")],
  providers: ["Providers", providersView, providerDetailView, (t) => can(t, "providers")],
  members: ["Members", membersView, null, (t) => can(t, "users")],
  credits: ["Credits", creditsView, null, (t) => can(t, "credits")],
  audit: ["Audit log", auditView, null, (t) => can(t, "audit")],
  settings: ["Settings", settingsView, null, (t) => can(t, "tenants")],
};

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const tenantBox = document.getElementById("tenant");
const account = document.getElementById("account");
let tenantNames = null; // id -> name, loaded once per session
let renderSeq = 0;

export function go(hash) {
  if (location.hash === hash) render();
  else location.hash = hash;
}

/** Change the query of the current page's hash without adding a history entry or re-rendering. */
export function replaceQuery(params) {
  const [path] = location.hash.split("?");
  const query = new URLSearchParams(params).toString();
  history.replaceState(null, "", query ? `${path}?${query}` : path);
}

async function logout() {
  try {
    await post("/auth/logout");
  } catch {
    // the session may already be gone; the local copy is dropped either way
  }
  clearSession();
  tenantNames = null;
  setMe(null);
  go("#/login");
}

export async function reloadTenants() {
  tenantNames = null;
  return loadTenants();
}

async function loadTenants() {
  if (!currentUser()) setMe(await get("/auth/me"));
  if (!tenantNames) {
    const page = await get("/tenants?limit=200");
    tenantNames = new Map(page.items.map((t) => [t.id, t.name]));
  }
  return tenantNames;
}

function chrome(tenantId, page) {
  const me = currentUser();
  account.replaceChildren(
    session() && me ? h("span", { class: "muted who" }, me.email) : "",
    session() ? h("button", { type: "button", class: "link", onclick: logout }, "Log out") : "",
  );
  if (!tenantId) {
    nav.hidden = true;
    nav.replaceChildren();
    tenantBox.replaceChildren();
    return;
  }
  const name = tenantNames?.get(tenantId) ?? tenantId;
  tenantBox.replaceChildren(
    h("span", { class: "tenant" }, h("strong", null, name), " ", h("span", { class: "badge" }, roleIn(tenantId) ?? "no role"), " ", h("a", { href: "#/tenants" }, "Switch tenant")),
  );
  nav.hidden = false;
  nav.replaceChildren(
    h("ul", null, Object.entries(PAGES).filter(([, p]) => p[3](tenantId)).map(([key, [label]]) =>
      h("li", null, h("a", { href: `#/t/${encodeURIComponent(tenantId)}/${key}`, "aria-current": key === page ? "page" : null }, label)),
    )),
  );
}

function parseHash() {
  const [path, query = ""] = location.hash.replace(/^#\/?/, "").split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  return { parts, params: new URLSearchParams(query) };
}

function notFound(root, text) {
  chrome(null);
  document.title = "Not found · Junction";
  root.append(h("h1", null, "Not found"), h("p", null, text || "There is no such page."), h("p", null, h("a", { href: "#/tenants" }, "Back to your tenants")));
}

async function render() {
  const seq = ++renderSeq;
  const { parts, params } = parseHash();
  if (!session() && parts[0] !== "login") return go("#/login");
  if (session() && (parts[0] === "login" || parts.length === 0)) return go("#/tenants");

  // busy until the page's view has drawn what it loads (assistive tech and tests wait on it)
  const root = h("div", { class: "page", "aria-busy": "true" });
  main.replaceChildren(root);
  try {
    if (parts[0] === "login") {
      chrome(null);
      document.title = "Log in · Junction";
      await loginView(root, { onLogin: () => go("#/tenants") });
      return;
    }
    await Promise.all([loadTenants(), loadCapabilities()]);
    if (seq !== renderSeq) return;
    if (parts[0] === "tenants" && parts.length === 1) {
      chrome(null);
      document.title = "Tenants · Junction";
      await tenantsView(root, { tenants: tenantNames, reload: reloadTenants, go });
    } else if (parts[0] === "t" && parts[1] && (!parts[2] || PAGES[parts[2]])) {
      const tenantId = parts[1];
      if (!tenantNames.has(tenantId)) return notFound(root, "This tenant does not exist, or you are not one of its members.");
      const key = parts[2] || firstPage(tenantId);
      if (!parts[2]) return go(`#/t/${encodeURIComponent(tenantId)}/${key}`);
      const [label, list, detail, allowed] = PAGES[key];
      const view = parts[3] ? detail : list;
      if (!view || parts.length > 4) return notFound(root);
      chrome(tenantId, key);
      const tenantName = tenantNames.get(tenantId);
      const setTitle = (sub) => {
        if (seq === renderSeq) document.title = [sub, label, tenantName, "Junction"].filter(Boolean).join(" · ");
      };
      setTitle(null);
      if (!allowed(tenantId)) {
        root.append(h("h1", null, label), problem({ forbidden: true, message: "your role cannot read this page" }));
        return;
      }
      await view(root, { tenantId, tenantName, id: parts[3], params, setTitle, go, replaceQuery, reloadTenants });
    } else {
      notFound(root);
    }
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      setMe(null);
      return go("#/login");
    }
    root.append(problem(error));
  } finally {
    root.removeAttribute("aria-busy");
    // a new page takes focus (for screen readers and keyboards) unless a field claimed it
    if (seq === renderSeq && main.contains(root) && !main.contains(document.activeElement)) {
      if (!root.querySelector("[autofocus]")) main.focus({ preventScroll: true });
    }
  }
}

function firstPage(tenantId) {
  return Object.entries(PAGES).find(([, p]) => p[3](tenantId))?.[0] ?? "usage";
}

window.addEventListener("hashchange", render);
render();
