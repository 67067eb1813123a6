/**
 * Reconcile, suspend and resume through the API, as the flux CLI does: a merge patch per object, and for
 * reconcile a watch until the controller has handled the request and the object is Ready.
 */
import { ConfigError } from "../cli/errors.ts";
import { isNotFound } from "../kube/errors.ts";
import {
  GITREPOSITORY,
  HELMRELEASE,
  KUSTOMIZATION,
  describeNotReady,
  readinessOf,
  reconcileHandled,
  reconcileRequestPatch,
  suspendPatch,
  type FluxObjectLike,
} from "./index.ts";

type Obj = FluxObjectLike & { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } };

/** The part of a Kubernetes client these operations need (lib/bootstrap's KubeApi fits). */
export interface FluxApi {
  list(q: { apiVersion: string; kind: string; namespace?: string }): Promise<Obj[]>;
  patch(ref: { apiVersion: string; kind: string }, name: string, namespace: string | undefined, patch: unknown): Promise<void>;
  waitFor(
    q: { apiVersion: string; kind: string; namespace?: string; name?: string },
    check: (items: Obj[]) => { done: boolean; detail?: string },
    opts: { what: string; timeoutMs: number; signal?: AbortSignal; onProgress?: (detail: string, elapsedMs: number) => void },
  ): Promise<unknown>;
}

export type FluxKind = "Kustomization" | "HelmRelease" | "GitRepository";
const REFS = { Kustomization: KUSTOMIZATION, HelmRelease: HELMRELEASE, GitRepository: GITREPOSITORY } as const;

export interface Target {
  kind: FluxKind;
  name: string;
  namespace: string;
}

export const targetLabel = (t: Target) => `${t.kind} ${t.namespace}/${t.name}`;

/** Every object of these kinds on the cluster. */
export async function allTargets(api: FluxApi, kinds: FluxKind[]): Promise<Target[]> {
  const lists = await Promise.all(kinds.map((k) => api.list({ ...REFS[k] })));
  return lists.flat().map((o) => ({ kind: o.kind as FluxKind, name: o.metadata.name, namespace: o.metadata.namespace ?? "flux-system" }));
}

/** Sets spec.suspend on each target; returns those it changed. */
export async function setSuspended(api: FluxApi, targets: Target[], suspend: boolean): Promise<Target[]> {
  const changed: Target[] = [];
  for (const t of targets) {
    await api.patch(REFS[t.kind], t.name, t.namespace, suspendPatch(suspend));
    changed.push(t);
  }
  return changed;
}

/**
 * Requests a reconcile of each target (in order: sources first) and waits until the controller handled it and the
 * object is Ready. `token` is the requestedAt value (a timestamp, like the flux CLI).
 */
export async function reconcile(
  api: FluxApi,
  targets: Target[],
  opts: { token?: string; timeoutMs: number; signal?: AbortSignal; dryRun?: boolean; onProgress?: (t: Target, detail: string, ms: number) => void },
): Promise<void> {
  const token = opts.token ?? new Date().toISOString();
  // every target is checked before the first is touched: a missing Flux or a wrong name changes nothing (exit 2)
  for (const t of targets) {
    const all = await api.list({ ...REFS[t.kind], namespace: t.namespace }).catch((e: unknown) => {
      if (isNotFound(e)) return null;
      throw e;
    });
    // no object of the kind at all: Flux is missing, not a wrong name
    if (all === null || all.length === 0)
      throw new ConfigError(`the cluster has no ${t.kind} in ${t.namespace}: is Flux installed?`, "install it with bun scripts/flux-bootstrap.ts");
    const current = all.find((o) => o.metadata.name === t.name);
    if (!current) throw new ConfigError(`${targetLabel(t)} is not on the cluster`, "check the name (flux get all -A lists them)");
    if (current.spec?.suspend === true)
      throw new ConfigError(`${targetLabel(t)} is suspended: a reconcile would not run`, "resume it first: flux-reconcile --resume");
  }
  for (const t of targets) {
    await api.patch(REFS[t.kind], t.name, t.namespace, reconcileRequestPatch(token));
    if (opts.dryRun) continue;
    await api.waitFor(
      { ...REFS[t.kind], namespace: t.namespace, name: t.name },
      (items) => {
        const o = items[0];
        if (!o) return { done: false, detail: "not found" };
        return reconcileHandled(o, token);
      },
      {
        what: `${targetLabel(t)} reconciled`,
        timeoutMs: opts.timeoutMs,
        ...(opts.signal ? { signal: opts.signal } : {}),
        onProgress: (d, ms) => opts.onProgress?.(t, d, ms),
      },
    );
  }
}

/** The readiness of every target right now (for the summary after a reconcile/suspend/resume). */
export async function readinessOfTargets(api: FluxApi, targets: Target[]) {
  const out = [];
  for (const t of targets) {
    const o = (await api.list({ ...REFS[t.kind], namespace: t.namespace })).find((x) => x.metadata.name === t.name);
    const r = o ? readinessOf(o) : { kind: t.kind, name: t.name, namespace: t.namespace, ready: false, suspended: false, reason: "NotFound", message: "not on the cluster" };
    out.push({ ...r, line: describeNotReady(r) });
  }
  return out;
}
