// What the caller's role allows in a tenant, mirrored from the control plane's
// policy table (rbac/policy.py) so pages can hide what the server would refuse.
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
  const role = me?.memberships?.find((m) => m.tenant_id === tenantId)?.role;
  const policy = role && POLICIES[role];
  return Boolean(policy && policy.has(`${obj}:${act}`));
}

/** Whether the caller can read or write some tokens (all of them, or only their own). */
export function canTokens(tenantId, act) {
  return can(tenantId, "tokens", act) || can(tenantId, "tokens:own", act);
}

export const isPlatformAdmin = () => Boolean(me?.is_platform_admin);
