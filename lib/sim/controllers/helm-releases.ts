/**
 * Stands for: Helm 3's release engine and storage driver (the Helm SDK, as used by the `helm` CLI and by Flux's
 * helm-controller). Releases are stored like real Helm stores them: one Secret per revision,
 * `sh.helm.release.v1.<name>.v<revision>` of type `helm.sh/release.v1` in the release namespace, labelled
 * name/owner=helm/status/version, whose `release` key holds base64(gzip(JSON)) — so `kubectl get secrets` and any
 * code reading Helm's storage sees the real layout.
 *
 * An install renders the chart emulation (lib/sim/charts.ts), creates the chart's CRDs, server-side applies the
 * objects with field manager "helm", deletes what the previous revision had and this one has not, and records the
 * revision (the previous one becomes `superseded`).
 */
import { gunzipSync, gzipSync } from "node:zlib";
import { stringify } from "yaml";
import { crdFor } from "../kinds.ts";
import type { ChartDef, Values } from "../charts.ts";
import type { KObj } from "./obj.ts";
import type { Ctx } from "./runtime.ts";
import { podIsReady } from "./workloads.ts";

export interface HelmRelease {
  name: string;
  namespace: string;
  version: number;
  info: { first_deployed: string; last_deployed: string; deleted: string; description: string; status: string; notes?: string };
  chart: { metadata: { name: string; version: string; description: string; apiVersion: string; appVersion: string; type: string } };
  config: Values;
  manifest: string;
}

const RELEASE_TYPE = "helm.sh/release.v1";

export function encodeRelease(r: HelmRelease): string {
  return gzipSync(Buffer.from(JSON.stringify(r))).toString("base64");
}

export function decodeRelease(secretValue: string): HelmRelease {
  const inner = Buffer.from(secretValue, "base64").toString("utf8");
  return JSON.parse(gunzipSync(Buffer.from(inner, "base64")).toString("utf8")) as HelmRelease;
}

/** Every revision of every release (or of one namespace), oldest first. */
export function releaseHistory(ctx: Ctx, namespace?: string, name?: string): HelmRelease[] {
  const secrets = ctx.viewList("secrets", namespace).filter((s) => s.type === RELEASE_TYPE && s.metadata.labels?.owner === "helm" && (!name || s.metadata.labels?.name === name));
  const out: HelmRelease[] = [];
  for (const s of secrets) {
    const data = s.data?.release;
    if (!data) continue;
    try {
      out.push(decodeRelease(data));
    } catch {
      /* not ours to judge */
    }
  }
  return out.sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name) || a.version - b.version);
}

/** The latest revision of each release (what `helm list` shows). */
export function latestReleases(ctx: Ctx, namespace?: string): HelmRelease[] {
  const byKey = new Map<string, HelmRelease>();
  for (const r of releaseHistory(ctx, namespace)) byKey.set(`${r.namespace}/${r.name}`, r);
  return [...byKey.values()];
}

export function latestRelease(ctx: Ctx, name: string, namespace: string): HelmRelease | undefined {
  return releaseHistory(ctx, namespace, name).pop();
}

function writeReleaseSecret(ctx: Ctx, r: HelmRelease): void {
  const name = `sh.helm.release.v1.${r.name}.v${r.version}`;
  const secret: KObj = {
    apiVersion: "v1",
    kind: "Secret",
    type: RELEASE_TYPE,
    metadata: {
      name,
      namespace: r.namespace,
      labels: { name: r.name, owner: "helm", status: r.info.status, version: String(r.version), modifiedAt: String(Math.floor(Date.now() / 1000)) },
    },
    data: { release: Buffer.from(encodeRelease(r)).toString("base64") },
  };
  const existing = ctx.get("secrets", name, r.namespace);
  if (existing) ctx.store.update({ ...secret, metadata: { ...secret.metadata, resourceVersion: existing.metadata.resourceVersion } }, { fieldManager: "helm" });
  else ctx.store.create(secret, { fieldManager: "helm" });
}

export interface InstallRequest {
  name: string;
  namespace: string;
  chart: ChartDef;
  version: string;
  values: Values;
  createNamespace: boolean;
  /**
   * leave out the chart's crds/ folder: `helm install --skip-crds`, any `helm upgrade` of an existing release,
   * helm-controller's install.crds: Skip (upgrade.crds, whose default is Skip, on upgrade)
   */
  skipCrdsDir?: boolean;
  /** who writes (helm CLI: "helm"; Flux: "helm-controller") */
  manager: string;
}

export class HelmError extends Error {}

/** Installs or upgrades a release. Throws HelmError with Helm's message on failure. */
export function installOrUpgrade(ctx: Ctx, req: InstallRequest): { release: HelmRelease; objects: KObj[]; upgraded: boolean } {
  const store = ctx.store;
  const prev = latestRelease(ctx, req.name, req.namespace);
  const op = prev ? "UPGRADE" : "INSTALLATION";
  if (!ctx.get("namespaces", req.namespace)) {
    if (!req.createNamespace) throw new HelmError(`${op} FAILED: create: failed to create: namespaces "${req.namespace}" not found`);
    store.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: req.namespace } }, { fieldManager: req.manager });
  }
  for (const k of req.chart.crds(req.values, req.skipCrdsDir)) {
    const crd = crdFor(k) as KObj;
    if (!ctx.get("customresourcedefinitions", crd.metadata.name)) store.create(crd, { fieldManager: req.manager });
  }
  const rendered = req.chart.render({ name: req.name, namespace: req.namespace, version: req.version, values: req.values });
  const applied: KObj[] = [];
  for (const obj of rendered) {
    const kind = store.kinds.tryResolve({ apiVersion: obj.apiVersion, kind: obj.kind });
    if (!kind) throw new HelmError(`${op} FAILED: unable to build kubernetes objects from release manifest: resource mapping not found for name: "${obj.metadata.name}" namespace: "${obj.metadata.namespace ?? ""}" from "": no matches for kind "${obj.kind}" in version "${obj.apiVersion}"\nensure CRDs are installed first`);
    try {
      applied.push(store.apply(obj, { fieldManager: req.manager, force: true }) as KObj);
    } catch (e) {
      throw new HelmError(`${op} FAILED: ${(e as Error).message}`);
    }
  }
  if (prev) {
    const keep = new Set(rendered.map((o) => `${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`));
    for (const o of manifestObjects(prev.manifest)) {
      if (!keep.has(`${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`)) ctx.tryDelete({ apiVersion: o.apiVersion, kind: o.kind }, o.metadata.name, o.metadata.namespace);
    }
    writeReleaseSecret(ctx, { ...prev, info: { ...prev.info, status: "superseded" } });
  }
  const now = new Date(store.options.now()).toISOString();
  const release: HelmRelease = {
    name: req.name,
    namespace: req.namespace,
    version: (prev?.version ?? 0) + 1,
    info: {
      first_deployed: prev?.info.first_deployed ?? now,
      last_deployed: now,
      deleted: "",
      description: prev ? "Upgrade complete" : "Install complete",
      status: "deployed",
      ...(req.chart.notes ? { notes: req.chart.notes({ name: req.name, namespace: req.namespace, version: req.version, values: req.values }) } : {}),
    },
    chart: {
      metadata: {
        name: req.chart.name,
        version: req.version,
        description: req.chart.description,
        apiVersion: "v2",
        appVersion: req.chart.appVersion(req.version),
        type: "application",
      },
    },
    config: req.values,
    manifest: rendered.map((o) => `---\n# Source: ${req.chart.name}/templates/${o.kind.toLowerCase()}.yaml\n${stringify(o)}`).join(""),
  };
  writeReleaseSecret(ctx, release);
  return { release, objects: applied, upgraded: prev !== undefined };
}

/** Marks the latest revision failed (what Helm does when --wait times out). */
export function markFailed(ctx: Ctx, r: HelmRelease, description: string): void {
  writeReleaseSecret(ctx, { ...r, info: { ...r.info, status: "failed", description } });
}

export function uninstall(ctx: Ctx, name: string, namespace: string): boolean {
  const history = releaseHistory(ctx, namespace, name);
  const last = history[history.length - 1];
  if (!last) return false;
  for (const o of manifestObjects(last.manifest)) ctx.tryDelete({ apiVersion: o.apiVersion, kind: o.kind }, o.metadata.name, o.metadata.namespace);
  for (const r of history) ctx.tryDelete("secrets", `sh.helm.release.v1.${r.name}.v${r.version}`, namespace);
  return true;
}

function manifestObjects(manifest: string): KObj[] {
  const out: KObj[] = [];
  for (const doc of manifest.split(/^---$/m)) {
    const apiVersion = doc.match(/^apiVersion: (.+)$/m)?.[1]?.trim();
    const kind = doc.match(/^kind: (.+)$/m)?.[1]?.trim();
    const name = doc.match(/^ {2}name: (.+)$/m)?.[1]?.trim();
    const namespace = doc.match(/^ {2}namespace: (.+)$/m)?.[1]?.trim();
    if (apiVersion && kind && name) out.push({ apiVersion, kind, metadata: { name, ...(namespace ? { namespace } : {}) } });
  }
  return out;
}

/** What `helm --wait` waits for: every Deployment ready and every DaemonSet's pods ready on every node. */
export function notReady(ctx: Ctx, objects: KObj[]): string[] {
  const waiting: string[] = [];
  for (const o of objects) {
    const cur = ctx.get({ apiVersion: o.apiVersion, kind: o.kind }, o.metadata.name, o.metadata.namespace);
    if (!cur) continue;
    if (o.kind === "Deployment") {
      const want = typeof cur.spec?.replicas === "number" ? cur.spec.replicas : 1;
      if ((cur.status?.readyReplicas ?? 0) < want) waiting.push(`Deployment is not ready: ${o.metadata.namespace}/${o.metadata.name}. ${cur.status?.readyReplicas ?? 0} out of ${want} expected pods are ready`);
    } else if (o.kind === "DaemonSet") {
      const desired = cur.status?.desiredNumberScheduled ?? 0;
      const ready = cur.status?.numberReady ?? 0;
      if (cur.status === undefined || ready < desired) waiting.push(`DaemonSet is not ready: ${o.metadata.namespace}/${o.metadata.name}. ${ready} out of ${desired} expected pods are ready`);
    }
  }
  return waiting;
}

/** Waits (watching the store) until notReady() is empty or the scaled timeout passes. Returns what still waits. */
export async function waitReady(ctx: Ctx, objects: KObj[], timeoutMs: number, signal?: AbortSignal): Promise<string[]> {
  let pending = notReady(ctx, objects);
  if (pending.length === 0) return [];
  const deadline = ctx.host.timing.ms(timeoutMs);
  return await new Promise<string[]>((resolve) => {
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      unsubscribe();
      clearTimeout(timer);
      signal?.removeEventListener("abort", finish);
      resolve(notReady(ctx, objects));
    };
    const unsubscribe = ctx.store.subscribe(() => {
      pending = notReady(ctx, objects);
      if (pending.length === 0) queueMicrotask(finish);
    });
    const timer = setTimeout(finish, Math.max(1, deadline));
    signal?.addEventListener("abort", finish, { once: true });
  });
}

export { podIsReady };
