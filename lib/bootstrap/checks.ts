/**
 * Pure readiness checks over Kubernetes objects, used by the phases' detect() and as watch predicates.
 */
import { condition, crdEstablished, nodeReady, rolloutState } from "../kube/conditions.ts";
import type { KubeObj } from "./kube.ts";

/** Hostnames of `want` that are not registered as Nodes / not Ready (Ready condition True, never a text match). */
export function nodesState(nodes: KubeObj[], want: string[]): { missing: string[]; notReady: string[] } {
  const byName = new Map(nodes.map((n) => [n.metadata.name, n]));
  const missing = want.filter((h) => !byName.has(h));
  const notReady = want.filter((h) => byName.has(h) && !nodeReady(byName.get(h)!));
  return { missing, notReady };
}

export { crdEstablished, nodeReady };

/** Whether a Deployment, DaemonSet or StatefulSet has rolled out (lib/kube's kubectl-rollout-status reading). */
export function rolledOut(o: KubeObj): { ready: boolean; detail: string } {
  const r = rolloutState(o);
  const desired = o.kind === "DaemonSet" ? (o.status?.desiredNumberScheduled as number | undefined) ?? 0 : 1;
  // a DaemonSet whose status has not been written yet counts nothing: not rolled out
  if (r.done && desired === 0) return { ready: false, detail: `${o.kind} ${o.metadata.namespace}/${o.metadata.name}: no pods scheduled yet` };
  return { ready: r.done, detail: r.message };
}

/** Workloads that belong to a Helm release (helm's own annotation, else the chart's instance label). */
export function ofRelease(items: KubeObj[], release: string): KubeObj[] {
  return items.filter(
    (o) =>
      o.metadata.annotations?.["meta.helm.sh/release-name"] === release ||
      o.metadata.labels?.["app.kubernetes.io/instance"] === release ||
      o.metadata.labels?.["release"] === release,
  );
}

/** All workloads of a release rolled out (and at least one exists). */
export function releaseRolledOut(items: KubeObj[], release: string): { done: boolean; detail: string } {
  const mine = ofRelease(items, release);
  if (mine.length === 0) return { done: false, detail: `no workloads of ${release} yet` };
  const states = mine.map(rolledOut);
  const waiting = states.filter((s) => !s.ready);
  if (waiting.length > 0) return { done: false, detail: waiting.map((s) => s.detail).join("; ") };
  return { done: true, detail: `${mine.length} workload(s) ready` };
}

/** Ready=True (External Secrets stores, Flux objects). */
export function conditionReady(o: KubeObj | undefined): { ready: boolean; detail: string } {
  if (!o) return { ready: false, detail: "not found" };
  const c = condition(o, "Ready");
  if (c?.status === "True") return { ready: true, detail: c.message || "Ready" };
  return { ready: false, detail: c ? `${c.reason ?? "NotReady"}${c.message ? `: ${c.message}` : ""}` : "no Ready condition yet" };
}

/** `CiliumLoadBalancerIPPool` -> `ciliumloadbalancerippools.cilium.io` (the CRD name Kubernetes gives a kind). */
export function crdNameOf(apiVersion: string, kind: string): string {
  const group = apiVersion.includes("/") ? apiVersion.split("/")[0]! : "";
  const lower = kind.toLowerCase();
  const plural = /(s|x|z|ch|sh)$/.test(lower) ? `${lower}es` : /[^aeiou]y$/.test(lower) ? `${lower.slice(0, -1)}ies` : `${lower}s`;
  return group ? `${plural}.${group}` : plural;
}
