// Names for the ids a call record or a usage row carries (keys, providers,
// deployments), each read only when the role may, and never fatal: an id
// stands in for a name that could not be read.
import { get, getAll, tenantPath } from "../api.js";
import { can, canTokens } from "../roles.js";

const quiet = (promise, fallback) => promise.catch(() => fallback);

export async function lookups(tenantId) {
  const [tokens, providers, models] = await Promise.all([
    canTokens(tenantId, "read") ? quiet(getAll(tenantPath(tenantId, "tokens")).then((r) => r.items), []) : [],
    can(tenantId, "providers") ? quiet(getAll(tenantPath(tenantId, "providers")).then((r) => r.items), []) : [],
    can(tenantId, "models") ? quiet(getAll(tenantPath(tenantId, "ai-models")).then((r) => r.items), []) : [],
  ]);
  const providerNames = new Map(providers.map((p) => [p.id, p.name]));
  const deployments = new Map();
  await Promise.all(models.map(async (m) => {
    const items = await quiet(get(`${tenantPath(tenantId, "ai-models", m.id, "deployments")}?limit=200`).then((p) => p.items), []);
    for (const d of items) deployments.set(d.id, { ...d, model: m.name, modelId: m.id });
  }));
  const short = (id) => (id ? String(id).slice(0, 8) : "—");
  return {
    tokenName: (id) => tokens.find((t) => t.id === id)?.name ?? (id ? `key ${short(id)}` : "—"),
    providerName: (id) => providerNames.get(id) ?? (id ? `provider ${short(id)}` : "—"),
    deploymentName: (id) => {
      const d = deployments.get(id);
      if (!d) return id ? `deployment ${short(id)}` : "—";
      return `${providerNames.get(d.provider_id) ?? short(d.provider_id)} → ${d.upstream_model}`;
    },
    deployment: (id) => deployments.get(id) ?? null,
  };
}
