/**
 * What the home-ops owner's 1Password vault holds, for the simulated account: every field the bootstrap reads
 * (lib/bootstrap/secrets.ts names them) and every field the repo's ExternalSecrets read, with fresh random values.
 * So `--simulate` on a fresh clone finds a complete vault, as a real user's would be after following the README.
 */
import { CONNECT_CREDENTIALS, CONNECT_TOKEN } from "../bootstrap/secrets.ts";
import { loadRepo } from "../repo/index.ts";
import type { SimCluster } from "./cluster.ts";
import { fakeConnectCredentials } from "./controllers/external-secrets.ts";
import { fakeSecret } from "./vault.ts";

/** Seeds `vault` and returns every value it set as `item/field` -> value (tests grep output and argv for them). */
export function seedRepoVault(cluster: SimCluster, root: string, vault: string): Record<string, string> {
  const model = loadRepo(root, { mode: "lenient" });
  const items = new Map<string, Record<string, string>>();
  const field = (item: string, prop: string, value = fakeSecret()) => {
    const f = items.get(item) ?? {};
    f[prop] ??= value;
    items.set(item, f);
  };
  field(CONNECT_CREDENTIALS.item, CONNECT_CREDENTIALS.field, fakeConnectCredentials());
  field(CONNECT_TOKEN.item, CONNECT_TOKEN.field);
  for (const es of model.externalSecrets) {
    const doc = model.documents.find((d) => d.file === es.source.file && d.line === es.source.line);
    const spec = ((doc?.object as { spec?: unknown })?.spec ?? {}) as { data?: unknown[]; dataFrom?: unknown[] };
    for (const d of (spec.data ?? []) as Array<{ remoteRef?: { key?: string; property?: string } }>)
      if (d.remoteRef?.key) field(d.remoteRef.key, d.remoteRef.property ?? "password");
    for (const d of (spec.dataFrom ?? []) as Array<{ extract?: { key?: string } }>)
      if (d.extract?.key) field(d.extract.key, "value");
  }
  const all: Record<string, string> = {};
  for (const [item, fields] of items) {
    const existing = cluster.vault.getItem(vault, item);
    const merged = { ...fields, ...Object.fromEntries((existing?.fields ?? []).map((f) => [f.label, f.value])) };
    cluster.vault.setItem(vault, item, merged);
    for (const [k, v] of Object.entries(merged)) all[`${item}/${k}`] = v;
  }
  return all;
}
