// The admin API client: one fetch wrapper, the session token in sessionStorage
// (gone when the tab closes), errors turned into ApiError with the server's message.

const SESSION_KEY = "junction.session";
const BASE = "/api/v1";

export class ApiError extends Error {
  constructor(status, code, message, field) {
    super(field ? `${field}: ${message}` : message);
    this.status = status;
    this.code = code;
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

/** Call the admin API; resolves to the JSON body (null for 204), rejects with ApiError. */
export async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  const token = session();
  if (token) headers.Authorization = `Bearer ${token}`;
  const init = { method, headers };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(BASE + path, init);
  } catch {
    throw new ApiError(0, "network", "The server could not be reached. Check your connection.");
  }
  if (res.status === 204) return null;
  const data = await res.json().catch(() => null);
  if (!res.ok) {
    const err = (data && data.error) || {};
    // a dead session is forgotten so the router sends the user to the login page
    if (res.status === 401 && token) clearSession();
    throw new ApiError(res.status, err.code || "error", err.message || `Request failed (HTTP ${res.status}).`, err.field);
  }
  return data;
}

export const get = (path) => api("GET", path);
export const post = (path, body) => api("POST", path, body ?? {});

/** A tenant-scoped path: tenantPath("t1", "tokens") -> "/tenants/t1/tokens". */
export function tenantPath(tenantId, ...rest) {
  return ["/tenants", encodeURIComponent(tenantId), ...rest].join("/");
}
