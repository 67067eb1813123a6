/**
 * Stands for: Flux v2.4 in the cluster — source-controller (GitRepository, HelmRepository, OCIRepository),
 * kustomize-controller (Kustomization) and helm-controller (HelmRelease) — with the conditions and messages Flux
 * writes, so `flux get`, `kubectl wait` and the toolkit's watchers see what they would on a real cluster.
 *
 * The Git source is the local repository the simulated cluster was built from (`root`): a Kustomization builds its
 * `spec.path` there the way kustomize-controller does (kustomization.yaml `resources`/`namespace`, or every YAML
 * file of a directory without one), substitutes `postBuild` variables (`${VAR}`, `${VAR:=default}`), sets
 * `targetNamespace`, server-side applies the result (field manager kustomize-controller) and, with `wait: true`,
 * is Ready only once what it applied is healthy. dependsOn is honoured ("dependency 'ns/name' is not ready").
 * Objects of API groups the simulation does not model at all (a CRD of a chart it has no knowledge of) are counted
 * as applied without being stored; those of modelled groups whose CRD is missing fail the Kustomization like the
 * real `dry-run failed: no matches for kind` error. HelmReleases install through the same release engine as the
 * helm stand-in (charts.ts; an unknown chart renders one Deployment named after the release).
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { parse as parseYaml, parseAllDocuments, stringify as stringifyYaml } from "yaml";
import { knownChartCrds } from "../../repo/charts.ts";
import { type ChartDef, chartForReference, type Values } from "../charts.ts";
import { crdFor, type KindInfo, kindInfo } from "../kinds.ts";
import type { StoreEvent } from "../store.ts";
import { HelmError, installOrUpgrade, latestRelease, notReady } from "./helm-releases.ts";
import { type Condition, type KObj, keyOf, secretValue, secretValues, setConditions } from "./obj.ts";
import { parseGoDuration } from "../timing.ts";
import { type Ctx, Reconciler } from "./runtime.ts";

// renovate: datasource=github-releases depName=fluxcd/flux2
export const FLUX_VERSION = "v2.4.0";
export const FLUX_NS = "flux-system";

/** The components of Flux v2.4.0 and their images. */
export const FLUX_COMPONENTS: Record<string, string> = {
  // renovate: datasource=docker depName=ghcr.io/fluxcd/source-controller
  "source-controller": "ghcr.io/fluxcd/source-controller:v1.4.1",
  // renovate: datasource=docker depName=ghcr.io/fluxcd/kustomize-controller
  "kustomize-controller": "ghcr.io/fluxcd/kustomize-controller:v1.4.0",
  // renovate: datasource=docker depName=ghcr.io/fluxcd/helm-controller
  "helm-controller": "ghcr.io/fluxcd/helm-controller:v1.1.0",
  // renovate: datasource=docker depName=ghcr.io/fluxcd/notification-controller
  "notification-controller": "ghcr.io/fluxcd/notification-controller:v1.4.0",
};

const fluxKind = (group: string, version: string, versions: string[], kind: string, plural: string, shortNames: string[] = []): KindInfo => ({
  ...kindInfo({ group, version, versions, kind, plural, namespaced: true, shortNames, categories: ["fluxcd"], statusSubresource: true }),
  crd: `${plural}.${group}`,
});
const SRC = "source.toolkit.fluxcd.io";
const KUS = "kustomize.toolkit.fluxcd.io";
const HLM = "helm.toolkit.fluxcd.io";
const NTF = "notification.toolkit.fluxcd.io";

/** The CRDs `flux install` v2.4.0 creates (storage version first). */
export const FLUX_INSTALL_KINDS: readonly KindInfo[] = [
  fluxKind(SRC, "v1", ["v1", "v1beta2"], "GitRepository", "gitrepositories", ["gitrepo"]),
  fluxKind(SRC, "v1", ["v1", "v1beta2"], "HelmRepository", "helmrepositories", ["helmrepo"]),
  fluxKind(SRC, "v1", ["v1", "v1beta2"], "HelmChart", "helmcharts", ["hc"]),
  fluxKind(SRC, "v1beta2", ["v1beta2"], "OCIRepository", "ocirepositories", ["ocirepo"]),
  fluxKind(SRC, "v1", ["v1", "v1beta2"], "Bucket", "buckets"),
  fluxKind(KUS, "v1", ["v1", "v1beta2"], "Kustomization", "kustomizations", ["ks"]),
  fluxKind(HLM, "v2", ["v2", "v2beta2", "v2beta1"], "HelmRelease", "helmreleases", ["hr"]),
  fluxKind(NTF, "v1", ["v1", "v1beta3"], "Receiver", "receivers"),
  fluxKind(NTF, "v1beta3", ["v1beta3", "v1beta2"], "Alert", "alerts"),
  fluxKind(NTF, "v1beta3", ["v1beta3", "v1beta2"], "Provider", "providers"),
];

/**
 * API groups the simulated cluster models (the built-in ones, Flux's, and those whose CRDs a chart installs): a
 * missing CRD of these fails an apply, other groups are not stored.
 */
const MODELLED_GROUPS = new Set(["", "apps", "apiextensions.k8s.io", "cilium.io", "longhorn.io", "external-secrets.io", SRC, KUS, HLM, NTF, ...knownChartCrds().map((c) => c.crd.group)]);

export interface FluxOptions {
  /** the repository the GitRepository serves (default: the cluster's root) */
  root?: string;
  /** the revision reported for it (default: `main@sha1:` + git HEAD of root, or a hash) */
  revision?: string;
}

const cond = (type: string, status: Condition["status"], reason: string, message: string): Condition => ({ type, status, reason, message });

function ready(o: KObj | undefined): Condition | undefined {
  return ((o?.status?.conditions ?? []) as Condition[]).find((c) => c.type === "Ready");
}

/**
 * What `flux install` writes: the flux-system namespace, the CRDs and the four controller Deployments (server-side
 * applied with field manager "flux"). Returns one line per object as the CLI prints them.
 */
export function writeFluxComponents(ctx: Ctx, version: string, phase: "crds" | "deployments" | "all" = "all"): string[] {
  const out: string[] = [];
  const store = ctx.store;
  const labels = { "app.kubernetes.io/instance": FLUX_NS, "app.kubernetes.io/part-of": "flux", "app.kubernetes.io/version": version };
  if (phase !== "deployments") {
    if (!ctx.get("namespaces", FLUX_NS)) store.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: FLUX_NS, labels } }, { fieldManager: "flux" });
    for (const k of FLUX_INSTALL_KINDS) {
      const crd = crdFor(k) as KObj;
      crd.metadata.labels = labels;
      const existed = ctx.get("customresourcedefinitions", crd.metadata.name);
      if (!existed) store.create(crd, { fieldManager: "flux" });
      out.push(`CustomResourceDefinition/${crd.metadata.name} ${existed ? "unchanged" : "created"}`);
    }
  }
  if (phase !== "crds") {
    for (const [name, image] of Object.entries(FLUX_COMPONENTS)) {
      const existed = ctx.get("deployments", name, FLUX_NS);
      store.apply(
        {
          apiVersion: "apps/v1",
          kind: "Deployment",
          metadata: { name, namespace: FLUX_NS, labels: { ...labels, "app.kubernetes.io/component": name, "control-plane": "controller" } },
          spec: { replicas: 1, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: "manager", image }] } } },
        },
        { fieldManager: "flux", force: true },
      );
      out.push(`Deployment/${FLUX_NS}/${name} ${existed ? "unchanged" : "created"}`);
    }
  }
  return out;
}

export function fluxRunning(ctx: Ctx): boolean {
  return ["source-controller", "kustomize-controller", "helm-controller"].every((n) => (ctx.get("deployments", n, FLUX_NS)?.status?.readyReplicas ?? 0) >= 1);
}

export class FluxController extends Reconciler {
  readonly name = "flux";
  private readonly delaysDone = new Map<string, string | "pending">();
  /** Kustomization key -> token (generation/revision/requestedAt) already applied, with what it applied */
  private readonly waitStarted = new Map<string, { token: string; at: number }>();
  private readonly appliedKs = new Map<string, { token: string; objects: KObj[]; inventory: { id: string; v: string }[] }>();
  private readonly root: string | undefined;
  private readonly revision: string;

  constructor(ctx: Ctx, opts: FluxOptions = {}) {
    super(ctx);
    this.root = opts.root;
    this.revision = opts.revision ?? `main@sha1:${gitHead(this.root) ?? Bun.hash(this.root ?? "home-ops").toString(16).padStart(40, "0").slice(0, 40)}`;
  }

  get artifactRevision(): string {
    return this.revision;
  }

  protected interested(ev: StoreEvent): boolean {
    const k = ev.kind;
    // status changes matter too: a dependency turning Ready unblocks its dependents
    if (k.group === KUS || k.group === HLM || k.group === SRC) return true;
    if (k.group === "" && (k.kind === "Pod" || k.kind === "Node" || k.kind === "Event")) return false;
    return true;
  }

  /** Gates a step on a one-off delay per object generation (the controllers' work takes time). */
  private settled(key: string, token: string, delay: "fluxSource" | "fluxKustomization" | "fluxHelmRelease"): boolean {
    const done = this.delaysDone.get(key);
    if (done === token) return true;
    if (done === "pending") return false;
    this.delaysDone.set(key, "pending");
    this.ctx.after(delay, () => {
      this.delaysDone.set(key, token);
      this.kick();
    });
    return this.delaysDone.get(key) === token;
  }

  protected reconcile(): void {
    if (!fluxRunning(this.ctx)) return;
    const now = this.ctx.now();
    for (const kind of ["gitrepositories", "helmrepositories", "ocirepositories"]) {
      const k = { group: SRC, resource: kind };
      if (!this.ctx.store.kinds.tryResolve(k)) continue;
      for (const src of this.ctx.list(k)) this.reconcileSource(k, src, now);
    }
    if (this.ctx.store.kinds.tryResolve({ group: KUS, resource: "kustomizations" })) {
      for (const ks of this.ctx.list({ group: KUS, resource: "kustomizations" })) this.reconcileKustomization(ks, now);
    }
    if (this.ctx.store.kinds.tryResolve({ group: HLM, resource: "helmreleases" })) {
      for (const hr of this.ctx.list({ group: HLM, resource: "helmreleases" })) this.reconcileHelmRelease(hr, now);
    }
  }

  private writeConditions(k: { group: string; resource: string }, o: KObj, conds: Condition[], extra: Record<string, unknown>, now: string, manager: string): void {
    const requested = o.metadata.annotations?.["reconcile.fluxcd.io/requestedAt"];
    const status = {
      ...(o.status ?? {}),
      ...extra,
      observedGeneration: o.metadata.generation ?? 1,
      conditions: setConditions(o.status?.conditions, conds.map((c) => ({ ...c, observedGeneration: o.metadata.generation ?? 1 })), now),
      ...(requested ? { lastHandledReconcileAt: requested } : {}),
    };
    this.ctx.writeStatus(k, o, status, manager);
  }

  private reconcileSource(k: { group: string; resource: string }, src: KObj, now: string): void {
    if (src.spec?.suspend) return;
    const ns = src.metadata.namespace ?? FLUX_NS;
    const secretName = src.spec?.secretRef?.name as string | undefined;
    if (src.kind === "GitRepository" && secretName && !this.ctx.get("secrets", secretName, ns)) {
      this.writeConditions(k, src, [cond("Ready", "False", "AuthenticationFailed", `failed to get secret '${ns}/${secretName}': secrets "${secretName}" not found`)], {}, now, "source-controller");
      return;
    }
    const token = `${src.metadata.generation}/${src.metadata.annotations?.["reconcile.fluxcd.io/requestedAt"] ?? ""}`;
    if (!this.settled(`src/${k.resource}/${keyOf(src)}`, token, "fluxSource")) {
      if (!ready(src)) this.writeConditions(k, src, [cond("Reconciling", "True", "Progressing", "building artifact"), cond("Ready", "Unknown", "Progressing", "building artifact")], {}, now, "source-controller");
      return;
    }
    const rev = src.kind === "GitRepository" ? this.revision : `sha256:${Bun.hash(JSON.stringify(src.spec)).toString(16).padStart(16, "0")}${"0".repeat(48)}`;
    const message = src.kind === "GitRepository" ? `stored artifact for revision '${rev}'` : `stored artifact: revision '${rev}'`;
    this.writeConditions(k, src, [cond("Ready", "True", "Succeeded", message), cond("ArtifactInStorage", "True", "Succeeded", message)], {
      artifact: {
        digest: `sha256:${Bun.hash(rev).toString(16).padStart(64, "0").slice(0, 64)}`,
        lastUpdateTime: src.status?.artifact?.revision === rev ? (src.status.artifact.lastUpdateTime as string) : now,
        path: `${src.kind.toLowerCase()}/${ns}/${src.metadata.name}/${Bun.hash(rev).toString(16)}.tar.gz`,
        revision: rev,
        size: 123_456,
        url: `http://source-controller.flux-system.svc.cluster.local./${src.kind.toLowerCase()}/${ns}/${src.metadata.name}/${Bun.hash(rev).toString(16)}.tar.gz`,
      },
    }, now, "source-controller");
  }

  private dependencyProblem(o: KObj, plural: string): string | undefined {
    for (const d of (o.spec?.dependsOn ?? []) as { name: string; namespace?: string }[]) {
      const ns = d.namespace ?? o.metadata.namespace ?? FLUX_NS;
      const dep = this.ctx.get({ group: o.kind === "Kustomization" ? KUS : HLM, resource: plural }, d.name, ns);
      const r = ready(dep);
      if (!dep || r?.status !== "True" || (dep.status?.observedGeneration ?? 0) < (dep.metadata.generation ?? 1)) return `dependency '${ns}/${d.name}' is not ready`;
    }
    return undefined;
  }

  private reconcileKustomization(ks: KObj, now: string): void {
    if (ks.spec?.suspend) return;
    const k = { group: KUS, resource: "kustomizations" };
    const ns = ks.metadata.namespace ?? FLUX_NS;
    const srcRef = (ks.spec?.sourceRef ?? {}) as { kind?: string; name?: string; namespace?: string };
    const src = this.ctx.get({ group: SRC, resource: "gitrepositories" }, srcRef.name ?? "", srcRef.namespace ?? ns);
    if (!src || ready(src)?.status !== "True") {
      this.writeConditions(k, ks, [cond("Ready", "False", "ArtifactFailed", `Source artifact not found, retrying in ${ks.spec?.retryInterval ?? "30s"}`)], {}, now, "kustomize-controller");
      return;
    }
    const dep = this.dependencyProblem(ks, "kustomizations");
    if (dep) {
      this.writeConditions(k, ks, [cond("Ready", "False", "DependencyNotReady", dep)], {}, now, "kustomize-controller");
      return;
    }
    const revision = src.status?.artifact?.revision as string;
    const token = `${ks.metadata.generation}/${revision}/${ks.metadata.annotations?.["reconcile.fluxcd.io/requestedAt"] ?? ""}`;
    const key = `ks/${keyOf(ks)}`;
    if (!this.settled(key, token, "fluxKustomization")) {
      if (ready(ks)?.status !== "False") this.writeConditions(k, ks, [cond("Reconciling", "True", "Progressing", "Reconciliation in progress"), cond("Ready", "Unknown", "Progressing", "Reconciliation in progress")], {}, now, "kustomize-controller");
      return;
    }
    let done = this.appliedKs.get(key);
    if (done?.token !== token) {
      const build = this.build(ks);
      if ("error" in build) {
        this.writeConditions(k, ks, [cond("Ready", "False", build.reason, build.error)], { lastAttemptedRevision: revision }, now, "kustomize-controller");
        return;
      }
      const inventory: { id: string; v: string }[] = [];
      for (const obj of build.objects) {
        const kind = this.ctx.store.kinds.tryResolve({ apiVersion: obj.apiVersion, kind: obj.kind });
        const slash = obj.apiVersion.lastIndexOf("/");
        const group = slash < 0 ? "" : obj.apiVersion.slice(0, slash);
        const version = obj.apiVersion.slice(slash + 1);
        inventory.push({ id: `${obj.metadata.namespace ?? ""}_${obj.metadata.name}_${group}_${obj.kind}`, v: version });
        if (!kind) {
          if (!MODELLED_GROUPS.has(group)) continue;
          const msg = `${obj.kind}/${obj.metadata.namespace ? `${obj.metadata.namespace}/` : ""}${obj.metadata.name} dry-run failed: no matches for kind "${obj.kind}" in version "${obj.apiVersion}"`;
          this.writeConditions(k, ks, [cond("Ready", "False", "ReconciliationFailed", msg)], { lastAttemptedRevision: revision }, now, "kustomize-controller");
          return;
        }
        try {
          const cur = this.ctx.store.tryGet({ apiVersion: obj.apiVersion, kind: obj.kind }, obj.metadata.name, obj.metadata.namespace);
          if (!cur || !appliedAlready(cur as KObj, obj)) this.ctx.store.apply(obj, { fieldManager: "kustomize-controller", force: true });
        } catch (e) {
          const msg = `${obj.kind}/${obj.metadata.namespace ? `${obj.metadata.namespace}/` : ""}${obj.metadata.name} dry-run failed (${(e as { reason?: string }).reason ?? "Invalid"}): ${(e as Error).message}`;
          this.writeConditions(k, ks, [cond("Ready", "False", "ReconciliationFailed", msg)], { lastAttemptedRevision: revision }, now, "kustomize-controller");
          return;
        }
      }
      // prune what the previous inventory had and this one has not
      if (ks.spec?.prune) {
        const keep = new Set(inventory.map((e) => e.id));
        for (const e of (ks.status?.inventory?.entries ?? []) as { id: string; v: string }[]) {
          if (keep.has(e.id)) continue;
          const [ons, oname, ogroup, okind] = e.id.split("_");
          this.ctx.tryDelete({ apiVersion: ogroup ? `${ogroup}/${e.v}` : e.v, kind: okind ?? "" }, oname ?? "", ons || undefined);
        }
      }
      done = { token, objects: build.objects, inventory };
      this.appliedKs.set(key, done);
    }
    const inventory = done.inventory;
    const build = { objects: done.objects };
    const extra = { lastAttemptedRevision: revision, inventory: { entries: inventory } };
    if (ks.spec?.wait) {
      const waiting = this.unhealthy(build.objects);
      const failed = waiting.filter((w) => w.endsWith("'Failed'"));
      const started = this.waitStarted.get(key);
      const since = started?.token === token ? started.at : Date.now();
      if (started?.token !== token) this.waitStarted.set(key, { token, at: since });
      const timeoutText = String(ks.spec?.timeout ?? ks.spec?.interval ?? "5m0s");
      const timeoutMs = parseGoDuration(timeoutText) ?? 300_000;
      if (failed.length > 0) {
        // kstatus: stalled resources end the health check at once
        // the duration is fixed at the first failure of this attempt, so rewriting the same verdict is a no-op
        const prevMsg = (ready(ks)?.reason === "HealthCheckFailed" && ks.status?.lastAttemptedRevision === revision ? ready(ks)?.message : undefined) ?? "";
        const took = prevMsg.match(/^health check failed after (\S+): failed early/)?.[1] ?? `${((Date.now() - since) / 1000).toFixed(4)}s`;
        this.writeConditions(k, ks, [cond("Ready", "False", "HealthCheckFailed", `health check failed after ${took}: failed early due to stalled resources: [${failed.join(", ")}]`), cond("Healthy", "False", "HealthCheckFailed", "health check failed")], extra, now, "kustomize-controller");
        return;
      }
      if (waiting.length > 0) {
        if (Date.now() - since >= this.ctx.host.timing.ms(timeoutMs) && this.ctx.host.timing.scale > 0) {
          this.writeConditions(k, ks, [cond("Ready", "False", "HealthCheckFailed", `health check failed after ${timeoutText}: timeout waiting for: [${waiting.join(", ")}]`), cond("Healthy", "False", "HealthCheckFailed", "health check failed")], extra, now, "kustomize-controller");
          return;
        }
        if (started?.token !== token && this.ctx.host.timing.scale > 0) this.ctx.after(timeoutMs, () => this.kick());
        this.writeConditions(k, ks, [cond("Reconciling", "True", "Progressing", `Health check in progress: waiting for: [${waiting.join(", ")}]`), cond("Ready", "Unknown", "Progressing", "Reconciliation in progress")], extra, now, "kustomize-controller");
        return;
      }
    }
    this.writeConditions(k, ks, [cond("Ready", "True", "ReconciliationSucceeded", `Applied revision: ${revision}`), ...(ks.spec?.wait ? [cond("Healthy", "True", "Succeeded", "Health check passed")] : [])], { ...extra, lastAppliedRevision: revision }, now, "kustomize-controller");
  }

  /** kstatus-like health of applied objects: what `wait: true` waits for. */
  private unhealthy(objects: KObj[]): string[] {
    const out: string[] = [];
    for (const o of objects) {
      const cur = this.ctx.get({ apiVersion: o.apiVersion, kind: o.kind }, o.metadata.name, o.metadata.namespace);
      if (!cur) continue;
      const id = `${o.kind}/${o.metadata.namespace ? `${o.metadata.namespace}/` : ""}${o.metadata.name}`;
      if (o.kind === "Deployment" || o.kind === "DaemonSet") {
        if (notReady(this.ctx, [cur]).length > 0) out.push(`${id} status: 'InProgress'`);
        continue;
      }
      const r = ready(cur);
      if (r && r.status !== "True") out.push(`${id} status: '${r.status === "False" ? "Failed" : "InProgress"}'`);
      else if (!r && ["HelmRelease", "Kustomization", "ExternalSecret", "ClusterSecretStore", "GitRepository", "HelmRepository", "OCIRepository"].includes(o.kind)) out.push(`${id} status: 'InProgress'`);
    }
    return out;
  }

  /** kustomize build of spec.path in the repository, plus Flux's postBuild substitution and targetNamespace. */
  private build(ks: KObj): { objects: KObj[] } | { error: string; reason: string } {
    const rel = String(ks.spec?.path ?? "./");
    if (!this.root) return { reason: "BuildFailed", error: `kustomization path not found: stat /tmp/kustomization-${Bun.hash(rel).toString(16)}/${rel.replace(/^\.\//, "")}: no such file or directory` };
    const dir = path.resolve(this.root, rel);
    if (!dir.startsWith(path.resolve(this.root)) || !existsSync(dir)) {
      return { reason: "BuildFailed", error: `kustomization path not found: stat /tmp/kustomization-${Bun.hash(rel).toString(16)}/${rel.replace(/^\.\//, "")}: no such file or directory` };
    }
    let docs: KObj[];
    try {
      docs = kustomizeBuild(dir);
    } catch (e) {
      return { reason: "BuildFailed", error: `kustomize build failed: ${(e as Error).message}` };
    }
    const vars: Record<string, string> = { ...((ks.spec?.postBuild?.substitute ?? {}) as Record<string, string>) };
    for (const from of (ks.spec?.postBuild?.substituteFrom ?? []) as { kind: string; name: string; optional?: boolean }[]) {
      const src = this.ctx.get(from.kind === "Secret" ? "secrets" : "configmaps", from.name, ks.metadata.namespace ?? FLUX_NS);
      if (!src) {
        if (from.optional) continue;
        return { reason: "ReconciliationFailed", error: `substitute from '${from.kind}/${from.name}' error: ${from.kind === "Secret" ? "secrets" : "configmaps"} "${from.name}" not found` };
      }
      Object.assign(vars, from.kind === "Secret" ? secretValues(src) : (src.data ?? {}));
    }
    const substitute = Object.keys(vars).length > 0 || ks.spec?.postBuild;
    const target = ks.spec?.targetNamespace as string | undefined;
    const out: KObj[] = [];
    for (const d of docs) {
      let obj = d;
      // like Flux: on the built YAML text, so `replicas: ${N}` becomes a number
      if (substitute && obj.metadata.annotations?.["kustomize.toolkit.fluxcd.io/substitute"] !== "disabled") obj = parseYaml(envsubst(stringifyYaml(obj), vars)) as KObj;
      if (target) {
        const k = this.ctx.store.kinds.tryResolve({ apiVersion: obj.apiVersion, kind: obj.kind });
        const namespaced = k ? k.namespaced : !["Namespace", "ClusterSecretStore", "ClusterIssuer", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding"].includes(obj.kind) && !obj.kind.startsWith("CiliumBGP") && obj.kind !== "CiliumLoadBalancerIPPool";
        if (namespaced) obj.metadata.namespace = target;
      }
      obj.metadata.labels = { ...(obj.metadata.labels ?? {}), "kustomize.toolkit.fluxcd.io/name": ks.metadata.name, "kustomize.toolkit.fluxcd.io/namespace": ks.metadata.namespace ?? FLUX_NS };
      out.push(obj);
    }
    return { objects: out };
  }

  private reconcileHelmRelease(hr: KObj, now: string): void {
    if (hr.spec?.suspend) return;
    const k = { group: HLM, resource: "helmreleases" };
    const ns = hr.metadata.namespace ?? "default";
    const chartSpec = (hr.spec?.chart?.spec ?? {}) as { chart?: string; version?: string; sourceRef?: { kind?: string; name?: string; namespace?: string } };
    const ociRef = hr.spec?.chartRef as { kind?: string; name?: string; namespace?: string } | undefined;
    const srcRef = ociRef ?? chartSpec.sourceRef ?? {};
    const srcKind = srcRef.kind === "OCIRepository" ? "ocirepositories" : srcRef.kind === "GitRepository" ? "gitrepositories" : "helmrepositories";
    const src = this.ctx.get({ group: SRC, resource: srcKind }, srcRef.name ?? "", srcRef.namespace ?? ns);
    if (!src || ready(src)?.status !== "True") {
      this.writeConditions(k, hr, [cond("Ready", "False", "ArtifactFailed", `HelmChart '${srcRef.namespace ?? ns}/${ns}-${hr.metadata.name}' is not ready: latest generation of object has not been reconciled`)], {}, now, "helm-controller");
      return;
    }
    const dep = this.dependencyProblem(hr, "helmreleases");
    if (dep) {
      this.writeConditions(k, hr, [cond("Ready", "False", "DependencyNotReady", dep)], {}, now, "helm-controller");
      return;
    }
    const chartName = ociRef ? String(src.spec?.url ?? "").split("/").pop() ?? hr.metadata.name : (chartSpec.chart ?? hr.metadata.name);
    const version = ociRef ? String(src.spec?.ref?.tag ?? src.spec?.ref?.semver ?? "0.0.0").replace(/^v/, "") : String(chartSpec.version ?? "0.0.0").replace(/^v/, "");
    const targetNs = (hr.spec?.targetNamespace as string | undefined) ?? ns;
    const releaseName = (hr.spec?.releaseName as string | undefined) ?? (hr.spec?.targetNamespace ? `${hr.spec.targetNamespace}-${hr.metadata.name}` : hr.metadata.name);
    const token = `${hr.metadata.generation}/${version}/${hr.metadata.annotations?.["reconcile.fluxcd.io/requestedAt"] ?? ""}`;
    const key = `hr/${keyOf(hr)}`;
    const applied = hr.status?.lastAttemptedConfigDigest === token;
    if (!applied) {
      if (!this.settled(key, token, "fluxHelmRelease")) {
        if (ready(hr)?.status !== "False") this.writeConditions(k, hr, [cond("Reconciling", "True", "Progressing", "Fulfilling prerequisites"), cond("Ready", "Unknown", "Progressing", "Fulfilling prerequisites")], {}, now, "helm-controller");
        return;
      }
      let values: Values = {};
      for (const vf of (hr.spec?.valuesFrom ?? []) as { kind: string; name: string; valuesKey?: string; optional?: boolean }[]) {
        const o = this.ctx.get(vf.kind === "Secret" ? "secrets" : "configmaps", vf.name, ns);
        const raw = vf.kind === "Secret" ? secretValue(o, vf.valuesKey ?? "values.yaml") : o?.data?.[vf.valuesKey ?? "values.yaml"];
        if (raw === undefined) {
          if (vf.optional) continue;
          this.writeConditions(k, hr, [cond("Ready", "False", "InitFailed", `could not resolve ${vf.kind} chart values reference '${ns}/${vf.name}' with key '${vf.valuesKey ?? "values.yaml"}': ${vf.kind === "Secret" ? "secrets" : "configmaps"} "${vf.name}" not found`)], {}, now, "helm-controller");
          return;
        }
        const doc = parseAllDocuments(raw)[0]?.toJS() as Values | undefined;
        values = deepMerge(values, doc ?? {});
      }
      values = deepMerge(values, (hr.spec?.values ?? {}) as Values);
      const chart = chartForReference(chartName) ?? genericChart(chartName);
      const prev = latestRelease(this.ctx, releaseName, targetNs);
      try {
        // helm-controller's CRD policy: install.crds (default Create) on install, upgrade.crds (default Skip) on upgrade
        const skipCrdsDir = prev ? (hr.spec?.upgrade?.crds ?? "Skip") === "Skip" : hr.spec?.install?.crds === "Skip";
        const res = installOrUpgrade(this.ctx, { name: releaseName, namespace: targetNs, chart, version, values, createNamespace: hr.spec?.install?.createNamespace === true, skipCrdsDir, manager: "helm-controller" });
        const action = prev ? "upgrade" : "install";
        const msg = `Helm ${action} succeeded for release ${targetNs}/${releaseName}.v${res.release.version} with chart ${chart.name}@${version}`;
        const history = [
          { chartName: chart.name, chartVersion: version, appVersion: chart.appVersion(version), name: releaseName, namespace: targetNs, version: res.release.version, status: "deployed", firstDeployed: res.release.info.first_deployed, lastDeployed: res.release.info.last_deployed, configDigest: `sha256:${Bun.hash(JSON.stringify(values)).toString(16)}`, digest: `sha256:${Bun.hash(res.release.manifest).toString(16)}` },
          ...((hr.status?.history ?? []) as unknown[]).slice(0, 4),
        ];
        this.writeConditions(k, hr, [cond("Released", "True", prev ? "UpgradeSucceeded" : "InstallSucceeded", msg), cond("Ready", "Unknown", "Progressing", `Running '${action}' action with timeout of ${hr.spec?.timeout ?? "5m0s"}`)], {
          history,
          lastAttemptedConfigDigest: token,
          lastAttemptedRevision: version,
          lastAttemptedReleaseAction: action,
          helmChart: `${srcRef.namespace ?? ns}/${ns}-${hr.metadata.name}`,
          storageNamespace: targetNs,
        }, now, "helm-controller");
      } catch (e) {
        const msg = e instanceof HelmError ? e.message : (e as Error).message;
        this.writeConditions(k, hr, [cond("Ready", "False", prev ? "UpgradeFailed" : "InstallFailed", `Helm ${prev ? "upgrade" : "install"} failed for release ${targetNs}/${releaseName} with chart ${chartName}@${version}: ${msg}`)], { lastAttemptedRevision: version }, now, "helm-controller");
        return;
      }
    }
    // wait for the release's workloads (helm-controller waits by default)
    const current = this.ctx.get(k, hr.metadata.name, ns);
    if (!current) return;
    const rel = latestRelease(this.ctx, releaseName, targetNs);
    if (!rel) return;
    const chart = chartForReference(chartName) ?? genericChart(chartName);
    const objects = chart.render({ name: releaseName, namespace: targetNs, version, values: rel.config });
    if (hr.spec?.install?.disableWait !== true && notReady(this.ctx, objects).length > 0) return;
    const released = ((current.status?.conditions ?? []) as Condition[]).find((c) => c.type === "Released");
    const msg = released?.message ?? `Helm install succeeded for release ${targetNs}/${releaseName}.v${rel.version} with chart ${chart.name}@${version}`;
    this.writeConditions(k, current, [cond("Released", "True", released?.reason ?? "InstallSucceeded", msg), cond("Ready", "True", released?.reason ?? "InstallSucceeded", msg)], {}, now, "helm-controller");
  }
}

function genericChart(name: string): ChartDef {
  return {
    name,
    repos: [],
    description: `${name} (not emulated in detail by the simulated cluster)`,
    appVersion: (v) => v,
    crds: () => [],
    render: (r) => [
      {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: r.name, namespace: r.namespace, labels: { "app.kubernetes.io/name": name, "app.kubernetes.io/instance": r.name, "app.kubernetes.io/managed-by": "Helm" } },
        spec: {
          replicas: 1,
          selector: { matchLabels: { "app.kubernetes.io/name": name, "app.kubernetes.io/instance": r.name } },
          template: { metadata: { labels: { "app.kubernetes.io/name": name, "app.kubernetes.io/instance": r.name } }, spec: { containers: [{ name, image: `registry.invalid/${name}:${r.version}` }] } },
        },
      },
    ],
  };
}

function deepMerge(a: Values, b: Values): Values {
  const out: Values = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    out[k] = v && typeof v === "object" && !Array.isArray(v) && prev && typeof prev === "object" && !Array.isArray(prev) ? deepMerge(prev as Values, v as Values) : v;
  }
  return out;
}

/** Flux's envsubst: `${VAR}`, `${VAR:=default}`, `${VAR:-default}`; unset without default -> empty. */
export function envsubst(text: string, vars: Record<string, string>): string {
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?[=-]([^}]*))?\}/g, (_m, name: string, dflt: string | undefined) => {
    const v = vars[name];
    if (v !== undefined && v !== "") return v;
    return dflt ?? "";
  });
}

/** A small kustomize: kustomization.yaml `resources` (files, directories) and `namespace`; no kustomization.yaml = every YAML file, recursively. */
export function kustomizeBuild(dir: string): KObj[] {
  const kfile = ["kustomization.yaml", "kustomization.yml", "Kustomization"].map((f) => path.join(dir, f)).find((f) => existsSync(f));
  const out: KObj[] = [];
  if (!kfile) {
    for (const entry of readdirSync(dir).sort()) {
      const p = path.join(dir, entry);
      if (statSync(p).isDirectory()) out.push(...kustomizeBuild(p));
      else if (/\.ya?ml$/.test(entry)) out.push(...readObjects(p));
    }
    return out;
  }
  const k = (parseAllDocuments(readFileSync(kfile, "utf8"))[0]?.toJS() ?? {}) as { resources?: string[]; namespace?: string; components?: string[] };
  for (const r of [...(k.resources ?? []), ...(k.components ?? [])]) {
    const p = path.resolve(dir, r);
    if (!existsSync(p)) throw new Error(`accumulating resources: accumulation err='accumulating resources from '${r}': open ${p}: no such file or directory'`);
    if (statSync(p).isDirectory()) out.push(...kustomizeBuild(p));
    else out.push(...readObjects(p));
  }
  if (k.namespace) for (const o of out) if (!["Namespace", "ClusterSecretStore", "CustomResourceDefinition"].includes(o.kind) && !o.kind.startsWith("CiliumBGP") && o.kind !== "CiliumLoadBalancerIPPool") o.metadata.namespace = k.namespace;
  return out;
}

const parsedFiles = new Map<string, { mtimeMs: number; size: number; objects: KObj[] }>();

/** The Kubernetes objects of one YAML file (parsed once per content; callers get their own copies). */
export function readObjects(file: string): KObj[] {
  const st = statSync(file);
  let hit = parsedFiles.get(file);
  if (!hit || hit.mtimeMs !== st.mtimeMs || hit.size !== st.size) {
    const objects: KObj[] = [];
    for (const doc of parseAllDocuments(readFileSync(file, "utf8"))) {
      if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]?.message ?? "invalid YAML"}`);
      const v = doc.toJS() as KObj | null;
      if (!v || typeof v !== "object" || !v.kind || !v.apiVersion) continue;
      if (v.kind === "Kustomization" && v.apiVersion.startsWith("kustomize.config.k8s.io")) continue;
      v.metadata ??= { name: "" };
      objects.push(v);
    }
    hit = { mtimeMs: st.mtimeMs, size: st.size, objects };
    parsedFiles.set(file, hit);
  }
  return structuredClone(hit.objects);
}

function gitHead(root: string | undefined): string | undefined {
  if (!root) return undefined;
  try {
    const head = readFileSync(path.join(root, ".git", "HEAD"), "utf8").trim();
    if (/^[0-9a-f]{40}$/.test(head)) return head;
    const ref = head.replace(/^ref: /, "");
    const p = path.join(root, ".git", ref);
    if (existsSync(p)) return readFileSync(p, "utf8").trim();
  } catch {
    /* not a git checkout */
  }
  return undefined;
}

/** Whether every field of `desired` (spec/data/labels/annotations) already has that value on `live`. */
function appliedAlready(live: KObj, desired: KObj): boolean {
  const covers = (l: unknown, d: unknown): boolean => {
    if (d === null || typeof d !== "object") return l === d;
    if (Array.isArray(d)) return Array.isArray(l) && l.length === d.length && d.every((x, i) => covers(l[i], x));
    if (l === null || typeof l !== "object" || Array.isArray(l)) return false;
    return Object.entries(d as Record<string, unknown>).every(([k, v]) => covers((l as Record<string, unknown>)[k], v));
  };
  const { metadata: dm, status: _ds, ...drest } = desired;
  const { metadata: lm, ...lrest } = live;
  return covers(lrest, drest) && covers(lm.labels ?? {}, dm.labels ?? {}) && covers(lm.annotations ?? {}, dm.annotations ?? {});
}
