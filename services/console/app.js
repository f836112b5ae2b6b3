// The console's hash router: #/login, #/tenants, #/t/<tenant>/<page>.
import { ApiError, clearSession, get, post, session } from "./api.js";
import { h } from "./dom.js";
import { loginView } from "./views/login.js";
import { modelsView } from "./views/models.js";
import { providersView } from "./views/providers.js";
import { tenantsView } from "./views/tenants.js";
import { tokensView } from "./views/tokens.js";
import { usageView } from "./views/usage.js";

const PAGES = {
  tokens: ["Tokens", tokensView],
  providers: ["Providers", providersView],
  models: ["Models", modelsView],
  usage: ["Usage", usageView],
};

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const account = document.getElementById("account");
let tenantNames = null; // id -> name, loaded once per session

export function go(hash) {
  if (location.hash === hash) render();
  else location.hash = hash;
}

async function logout() {
  try {
    await post("/auth/logout");
  } catch {
    // the session may already be gone; the local copy is dropped either way
  }
  clearSession();
  tenantNames = null;
  go("#/login");
}

async function loadTenants() {
  if (!tenantNames) {
    const page = await get("/tenants?limit=200");
    tenantNames = new Map(page.items.map((t) => [t.id, t.name]));
  }
  return tenantNames;
}

function chrome(tenantId, page) {
  account.replaceChildren(session() ? h("button", { type: "button", class: "link", onclick: logout }, "Log out") : "");
  if (!tenantId) {
    nav.replaceChildren();
    return;
  }
  const name = tenantNames?.get(tenantId) ?? tenantId;
  nav.replaceChildren(
    h("span", { class: "tenant" }, h("span", { class: "muted" }, "Tenant "), h("strong", null, name), " ", h("a", { href: "#/tenants" }, "switch")),
    h("ul", null, Object.entries(PAGES).map(([key, [label]]) =>
      h("li", null, h("a", { href: `#/t/${encodeURIComponent(tenantId)}/${key}`, "aria-current": key === page ? "page" : null }, label)),
    )),
  );
}

async function render() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  if (!session() && parts[0] !== "login") return go("#/login");
  if (session() && (parts[0] === "login" || parts.length === 0)) return go("#/tenants");

  const root = h("div");
  main.replaceChildren(root);
  try {
    if (parts[0] === "login") {
      chrome(null);
      document.title = "Log in · Junction";
      await loginView(root, { onLogin: () => go("#/tenants") });
    } else if (parts[0] === "tenants") {
      await loadTenants();
      chrome(null);
      document.title = "Tenants · Junction";
      await tenantsView(root, { tenants: tenantNames });
    } else if (parts[0] === "t" && parts[1] && PAGES[parts[2] || "tokens"]) {
      const tenantId = parts[1];
      const page = parts[2] || "tokens";
      await loadTenants();
      chrome(tenantId, page);
      const [title, view] = PAGES[page];
      document.title = `${title} · ${tenantNames.get(tenantId) ?? tenantId} · Junction`;
      await view(root, { tenantId });
    } else {
      chrome(null);
      root.append(h("h1", null, "Not found"), h("p", null, h("a", { href: "#/tenants" }, "Back to your tenants")));
    }
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return go("#/login");
    root.append(h("p", { role: "alert", class: "error" }, error.message || String(error)));
  }
  if (main.contains(root)) {
    const heading = root.querySelector("h1");
    if (heading && !root.querySelector("[autofocus]")) main.focus({ preventScroll: true });
  }
}

window.addEventListener("hashchange", render);
render();
