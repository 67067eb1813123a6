/** Waits the toolkit needs often, on KubeClient.waitFor (watch + deadline, no polling). */
import { crdEstablished, nodeReady, rolloutState } from "./conditions.ts";
import type { KubeClient, KubeObject } from "./client.ts";

export interface WaitCommon {
  timeoutMs: number;
  signal?: AbortSignal;
  onProgress?: (reason: string) => void;
}

/** Every named CRD exists with Established=True. Returns them. */
export async function waitForCrdsEstablished(client: KubeClient, names: string[], o: WaitCommon): Promise<KubeObject[]> {
  const wanted = [...new Set(names)].sort();
  const objs = await client.waitFor({
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    description: `${wanted.length} CRD${wanted.length === 1 ? "" : "s"} to be established`,
    until: (crds) => {
      const byName = new Map(crds.map((c) => [c.metadata.name ?? "", c]));
      const missing = wanted.filter((n) => !byName.has(n));
      const pending = wanted.filter((n) => byName.has(n) && !crdEstablished(byName.get(n)));
      if (missing.length === 0 && pending.length === 0) return true;
      const parts = [];
      if (missing.length > 0) parts.push(`not created yet: ${missing.join(", ")}`);
      if (pending.length > 0) parts.push(`not established yet: ${pending.join(", ")}`);
      return parts.join("; ");
    },
    timeoutMs: o.timeoutMs,
    ...(o.signal ? { signal: o.signal } : {}),
    ...(o.onProgress ? { onProgress: (r: string) => o.onProgress?.(r) } : {}),
  });
  return objs.filter((c) => wanted.includes(c.metadata.name ?? ""));
}

/** `kubectl rollout status` for a Deployment, DaemonSet or StatefulSet: resolves with the rolled-out object. */
export async function waitForRollout(
  client: KubeClient,
  ref: { kind: "Deployment" | "DaemonSet" | "StatefulSet"; name: string; namespace: string; apiVersion?: string },
  o: WaitCommon,
): Promise<KubeObject> {
  const [obj] = await client.waitFor({
    apiVersion: ref.apiVersion ?? "apps/v1",
    kind: ref.kind,
    name: ref.name,
    namespace: ref.namespace,
    description: `${ref.kind.toLowerCase()} ${ref.namespace}/${ref.name} to roll out`,
    until: (objs) => {
      const d = objs[0];
      if (!d) return `${ref.kind} ${ref.namespace}/${ref.name} does not exist yet`;
      const st = rolloutState(d);
      return st.done || st.message;
    },
    timeoutMs: o.timeoutMs,
    ...(o.signal ? { signal: o.signal } : {}),
    ...(o.onProgress ? { onProgress: (r: string) => o.onProgress?.(r) } : {}),
  });
  return obj!;
}

/** At least `count` Nodes (default: all listed, at least one) matching `labelSelector` are Ready. */
export async function waitForNodesReady(client: KubeClient, o: WaitCommon & { count?: number; labelSelector?: string }): Promise<KubeObject[]> {
  return client.waitFor({
    apiVersion: "v1",
    kind: "Node",
    ...(o.labelSelector ? { labelSelector: o.labelSelector } : {}),
    description: o.count ? `${o.count} nodes to be Ready` : "every node to be Ready",
    until: (nodes) => {
      const ready = nodes.filter(nodeReady);
      const need = o.count ?? Math.max(1, nodes.length);
      if (ready.length >= need) return true;
      const notReady = nodes.filter((n) => !nodeReady(n)).map((n) => n.metadata.name);
      return `${ready.length}/${need} nodes Ready${notReady.length > 0 ? ` (not ready: ${notReady.join(", ")})` : ""}`;
    },
    timeoutMs: o.timeoutMs,
    ...(o.signal ? { signal: o.signal } : {}),
    ...(o.onProgress ? { onProgress: (r: string) => o.onProgress?.(r) } : {}),
  });
}
