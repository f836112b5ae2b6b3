// What the caller's role allows in a tenant, so pages can hide what the server
// would refuse. `/auth/me` lists the permitted (resource, action) pairs per
// tenant, as the server's Casbin policy decides them; an older server that does
// not list them is read through a copy of its policy table (rbac/policy.py).
// The server stays the judge: a refusal it sends is shown inline all the same.

const OBJECTS = ["tenants", "users", "tokens", "providers", "credentials", "models", "usage", "calls", "audit", "credits"];

const READ_BUT_CREDENTIALS = OBJECTS.filter((o) => o !== "credentials").map((o) => `${o}:read`);
const TENANT_WRITES = OBJECTS.flatMap((o) => [`${o}:read`, `${o}:write`]).filter((p) => p !== "credits:write");

const POLICIES = {
  owner: new Set([...TENANT_WRITES, "tenants:delete", "tokens:own:read", "tokens:own:write", "users:owner:write"]),
  admin: new Set(TENANT_WRITES),
  member: new Set([...READ_BUT_CREDENTIALS.filter((p) => !p.startsWith("tokens:")), "tokens:own:read", "tokens:own:write"]),
  viewer: new Set(READ_BUT_CREDENTIALS),
};

export const ROLES = ["owner", "admin", "member", "viewer"];

let me = null;

export function setMe(value) {
  me = value;
}

export function currentUser() {
  return me;
}

/** The caller's role in a tenant: "platform admin", a tenant role, or null. */
export function roleIn(tenantId) {
  const membership = me?.memberships?.find((m) => m.tenant_id === tenantId);
  if (membership) return membership.role;
  return me?.is_platform_admin ? "platform admin" : null;
}

/**
 * Whether the caller may `act` on `obj` in the tenant. `obj` may be "tokens:own";
 * "tokens" is then allowed when the role holds only its own tokens.
 */
export function can(tenantId, obj, act = "read") {
  if (me?.is_platform_admin) return true;
  const listed = me?.tenants?.find((t) => t.tenant_id === tenantId);
  if (listed) return listed.permissions.some((p) => p.resource === obj && p.action === act);
  if (Array.isArray(me?.tenants)) return false; // the server listed every tenant of the caller
  const role = me?.memberships?.find((m) => m.tenant_id === tenantId)?.role;
  const policy = role && POLICIES[role];
  return Boolean(policy && policy.has(`${obj}:${act}`));
}

/** Whether the caller can read or write some tokens (all of them, or only their own). */
export function canTokens(tenantId, act) {
  return can(tenantId, "tokens", act) || can(tenantId, "tokens:own", act);
}

export const isPlatformAdmin = () => Boolean(me?.is_platform_admin);
