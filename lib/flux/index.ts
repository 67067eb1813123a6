/**
 * Flux: the CLI for what only it does (installing the controllers at a pinned version), and readiness of
 * Kustomizations and HelmReleases read from the Kubernetes API (kstatus: Ready=True for the current generation).
 * Reconcile, suspend and resume are API writes (what `flux reconcile|suspend|resume` do), so they work the same
 * against any cluster and need no CLI round trip per object.
 */
import { OperationError } from "../cli/errors.ts";
import type { Exec, RunResult } from "../exec.ts";
import type { ClusterModel } from "../repo/model.ts";

export const KUSTOMIZATION = { apiVersion: "kustomize.toolkit.fluxcd.io/v1", kind: "Kustomization" } as const;
export const HELMRELEASE = { apiVersion: "helm.toolkit.fluxcd.io/v2", kind: "HelmRelease" } as const;
export const GITREPOSITORY = { apiVersion: "source.toolkit.fluxcd.io/v1", kind: "GitRepository" } as const;
/** the CRDs `flux install` creates that bootstrap needs before it can apply the sync objects */
export const FLUX_CRDS = [
  "gitrepositories.source.toolkit.fluxcd.io",
  "kustomizations.kustomize.toolkit.fluxcd.io",
  "helmreleases.helm.toolkit.fluxcd.io",
  "helmrepositories.source.toolkit.fluxcd.io",
] as const;
export const FLUX_CONTROLLERS = ["source-controller", "kustomize-controller", "helm-controller", "notification-controller"] as const;

/** `flux install` pinned to the repo's Flux version (`--version=v2.4.0`): controllers and CRDs, nothing else. */
export function fluxInstallArgv(version: string, namespace = "flux-system"): string[] {
  const v = version.startsWith("v") ? version : `v${version}`;
  return ["install", `--version=${v}`, `--namespace=${namespace}`];
}

export async function fluxInstall(exec: Exec, version: string, namespace = "flux-system"): Promise<RunResult> {
  return exec.run("flux", fluxInstallArgv(version, namespace), { timeoutMs: 300_000, purpose: `installing Flux ${version}` });
}

export interface FluxObjectLike {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; generation?: number; annotations?: Record<string, string> };
  spec?: { suspend?: boolean; [k: string]: unknown };
  status?: {
    observedGeneration?: number;
    conditions?: Array<{ type?: string; status?: string; reason?: string; message?: string }>;
    lastHandledReconcileAt?: string;
    [k: string]: unknown;
  };
}

export interface Readiness {
  kind: string;
  name: string;
  namespace: string;
  ready: boolean;
  /** suspended objects never become Ready again until resumed */
  suspended: boolean;
  reason: string;
  message: string;
}

/** kstatus for a Flux object: Ready=True whose observedGeneration is current. */
export function readinessOf(obj: FluxObjectLike): Readiness {
  const cond = obj.status?.conditions?.find((c) => c.type === "Ready");
  const gen = obj.metadata?.generation;
  const observed = obj.status?.observedGeneration;
  const current = gen === undefined || observed === undefined || observed >= gen;
  const ready = cond?.status === "True" && current;
  const suspended = obj.spec?.suspend === true;
  let reason = cond?.reason ?? (cond ? "" : "NoStatus");
  let message = cond?.message ?? (cond ? "" : "not reconciled yet");
  if (cond?.status === "True" && !current) {
    reason = "Progressing";
    message = `generation ${gen} not reconciled yet (observed ${observed})`;
  }
  if (suspended && !ready) {
    reason = "Suspended";
    message = message ? `suspended; ${message}` : "suspended";
  }
  return {
    kind: obj.kind ?? "",
    name: obj.metadata?.name ?? "",
    namespace: obj.metadata?.namespace ?? "",
    ready,
    suspended,
    reason,
    message,
  };
}

export interface Expected {
  kind: "Kustomization" | "HelmRelease";
  name: string;
  namespace: string;
}

/**
 * What the repo says must end up Ready: every Flux Kustomization and HelmRelease under kubernetes/ (namespace
 * defaulting to flux-system for Kustomizations, as Flux's own layout does).
 */
export function expectedFluxObjects(model: ClusterModel): Expected[] {
  const out: Expected[] = [];
  for (const k of model.kustomizations)
    out.push({ kind: "Kustomization", name: k.name, namespace: k.namespace ?? "flux-system" });
  for (const h of model.helmReleases) out.push({ kind: "HelmRelease", name: h.name, namespace: h.namespace ?? "flux-system" });
  const seen = new Set<string>();
  return out.filter((e) => {
    const key = `${e.kind}/${e.namespace}/${e.name}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

export interface FluxReport {
  /** every expected object with its readiness (missing ones: ready false, reason "NotFound") */
  items: Readiness[];
  notReady: Readiness[];
  /** objects on the cluster the repo does not define (reported, never waited for) */
  extra: Readiness[];
  ready: boolean;
}

/** Compares what is on the cluster with what the repo expects. */
export function fluxReport(expected: Expected[], live: FluxObjectLike[]): FluxReport {
  const byKey = new Map(live.map((o) => [`${o.kind}/${o.metadata?.namespace ?? ""}/${o.metadata?.name ?? ""}`, o]));
  const items = expected.map((e) => {
    const o = byKey.get(`${e.kind}/${e.namespace}/${e.name}`);
    if (!o) return { ...e, ready: false, suspended: false, reason: "NotFound", message: "not on the cluster yet" };
    return readinessOf(o);
  });
  const want = new Set(expected.map((e) => `${e.kind}/${e.namespace}/${e.name}`));
  const extra = live.filter((o) => !want.has(`${o.kind}/${o.metadata?.namespace ?? ""}/${o.metadata?.name ?? ""}`)).map(readinessOf);
  const notReady = items.filter((i) => !i.ready);
  return { items, notReady, extra, ready: notReady.length === 0 };
}

/** One line per object that is not Ready: `Kustomization flux-system/apps: NotFound: not on the cluster yet`. */
export function describeNotReady(r: Readiness): string {
  return `${r.kind} ${r.namespace}/${r.name}: ${r.reason || "NotReady"}${r.message ? `: ${r.message}` : ""}`;
}

/** The annotation `flux reconcile` sets; the controller echoes it in status.lastHandledReconcileAt. */
export const RECONCILE_ANNOTATION = "reconcile.fluxcd.io/requestedAt";

export function reconcileRequestPatch(token: string) {
  return { metadata: { annotations: { [RECONCILE_ANNOTATION]: token } } };
}

export function suspendPatch(suspend: boolean) {
  return { spec: { suspend } };
}

/** Whether a reconcile request `token` has been handled and the object is Ready again. */
export function reconcileHandled(obj: FluxObjectLike, token: string): { done: boolean; detail: string } {
  const r = readinessOf(obj);
  const handled = obj.status?.lastHandledReconcileAt === token;
  if (handled && r.ready) return { done: true, detail: "Ready" };
  if (handled && r.reason && r.reason !== "Progressing" && obj.status?.conditions?.find((c) => c.type === "Ready")?.status === "False")
    throw new OperationError(`${r.kind} ${r.namespace}/${r.name} failed to reconcile: ${r.reason}: ${r.message}`);
  return { done: false, detail: handled ? `${r.reason}: ${r.message}` : "waiting for the controller to pick up the request" };
}
