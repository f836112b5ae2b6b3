// The admin API client: one fetch wrapper, the session token in sessionStorage
// (gone when the tab closes), errors turned into ApiError with the server's message.

const SESSION_KEY = "junction.session";
export const BASE = "/api/v1";

export class ApiError extends Error {
  constructor(status, code, message, field) {
    super(field && !message.startsWith(`${field}:`) ? `${field}: ${message}` : message);
    this.status = status;
    this.code = code;
    this.field = field;
  }

  /** The role does not allow this (the server said so). */
  get forbidden() {
    return this.status === 403;
  }

  /** The endpoint is not served by this version of the control plane. */
  get unavailable() {
    // an unknown path is Starlette's bare "Not Found"; a missing object names itself ("token not found")
    return this.status === 405 || this.status === 501 || (this.status === 404 && /^not found\.?$/i.test(this.message));
  }
}

export function session() {
  return sessionStorage.getItem(SESSION_KEY);
}

export function setSession(token) {
  sessionStorage.setItem(SESSION_KEY, token);
}

export function clearSession() {
  sessionStorage.removeItem(SESSION_KEY);
}

function headers(extra) {
  const out = { Accept: "application/json", ...extra };
  const token = session();
  if (token) out.Authorization = `Bearer ${token}`;
  return out;
}

async function send(method, path, init) {
  try {
    return await fetch(BASE + path, { method, ...init });
  } catch {
    throw new ApiError(0, "network", "The server could not be reached. Check your connection.");
  }
}

async function failure(res) {
  const data = await res.json().catch(() => null);
  const err = (data && data.error) || {};
  // a dead session is forgotten so the router sends the user to the login page
  if (res.status === 401 && session()) clearSession();
  return new ApiError(res.status, err.code || "error", err.message || `Request failed (HTTP ${res.status}).`, err.field);
}

/** Call the admin API; resolves to the JSON body (null for 204), rejects with ApiError. */
export async function api(method, path, body) {
  const init = { headers: headers() };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const res = await send(method, path, init);
  if (!res.ok) throw await failure(res);
  if (res.status === 204) return null;
  return res.json().catch(() => null);
}

export const get = (path) => api("GET", path);
export const post = (path, body) => api("POST", path, body ?? {});
export const patch = (path, body) => api("PATCH", path, body);
export const put = (path, body) => api("PUT", path, body);
export const del = (path) => api("DELETE", path);

/** GET a text body (a CSV export); rejects with ApiError like `api`. */
export async function getText(path) {
  const res = await send("GET", path, { headers: headers({ Accept: "text/csv, application/json" }) });
  if (!res.ok) throw await failure(res);
  return { text: await res.text(), filename: filenameOf(res) };
}

function filenameOf(res) {
  const match = /filename="?([^";]+)"?/.exec(res.headers.get("Content-Disposition") || "");
  return match ? match[1] : null;
}

/**
 * Every item of a keyset-paged list, up to `max` items; with `stopBefore` (a Date),
 * paging a newest-first list stops once a page reaches back before it.
 */
export async function getAll(path, { max = 1000, limit = 200, stopBefore = null } = {}) {
  const items = [];
  let cursor = null;
  do {
    const query = new URLSearchParams({ limit: String(limit) });
    if (cursor) query.set("cursor", cursor);
    const sep = path.includes("?") ? "&" : "?";
    const page = await get(`${path}${sep}${query}`);
    items.push(...(page.items ?? page.entries ?? []));
    cursor = page.next_cursor;
    const last = items[items.length - 1];
    if (stopBefore && last && new Date(last.started_at ?? last.at ?? last.created_at) < stopBefore) break;
  } while (cursor && items.length < max);
  return { items, truncated: Boolean(cursor) };
}

/** A tenant-scoped path: tenantPath("t1", "tokens") -> "/tenants/t1/tokens". */
export function tenantPath(tenantId, ...rest) {
  return ["/tenants", tenantId, ...rest].map((p, i) => (i === 0 ? p : encodeURIComponent(p))).join("/");
}
