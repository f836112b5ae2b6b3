// What this control plane serves, read once from its OpenAPI document, so a page
// can leave out what the server does not offer yet instead of failing on it.
import { BASE } from "./api.js";

let known = null; // Set of "METHOD /path/{param}", or null when the document could not be read

export async function loadCapabilities() {
  if (known !== null) return;
  try {
    const res = await fetch(`${BASE}/openapi.json`, { headers: { Accept: "application/json" } });
    if (!res.ok) throw new Error(String(res.status));
    const doc = await res.json();
    known = new Set();
    for (const [path, ops] of Object.entries(doc.paths || {})) {
      for (const method of Object.keys(ops)) {
        known.add(`${method.toUpperCase()} ${path.replace(/^\/api\/v1/, "")}`);
      }
    }
    known.doc = doc;
  } catch {
    known = undefined; // unknown: assume everything is there, and let each request say otherwise
  }
}

/** Whether the server offers `method path` (path as in the document: "/tenants/{tenant_id}/tokens"). */
export function offers(method, path) {
  return known ? known.has(`${method} ${path}`) : true;
}

/** The names of the query parameters of an operation ([] when unknown). */
export function queryParams(method, path) {
  const op = known?.doc?.paths?.[`/api/v1${path}`]?.[method.toLowerCase()];
  return (op?.parameters || []).filter((p) => p.in === "query").map((p) => p.name);
}
