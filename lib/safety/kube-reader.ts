/**
 * The gates' view of Kubernetes over lib/kube's KubeClient: Nodes and Longhorn volumes as plain views (pure mapping
 * functions, unit-tested), plus a watch-based wait for nodes to register.
 */
import { condition, nodeReady } from "../kube/conditions.ts";
import { isNotFound } from "../kube/errors.ts";
import type { KubeClient, KubeObject } from "../kube/client.ts";
import { volumeConditionMessage } from "../storage/longhorn.ts";
import { volumeHealthy, type ClusterReader, type KubeNodeView, type LonghornVolumeView } from "./gates.ts";

export const NODE_KIND = { apiVersion: "v1", kind: "Node" } as const;
export const LONGHORN_VOLUME_KIND = { apiVersion: "longhorn.io/v1beta2", kind: "Volume" } as const;
export const LONGHORN_NAMESPACE = "longhorn-system";

export function nodeView(o: KubeObject): KubeNodeView {
  const labels = o.metadata.labels ?? {};
  const ready = condition(o, "Ready");
  const roles = Object.keys(labels)
    .filter((k) => k.startsWith("node-role.kubernetes.io/"))
    .map((k) => k.slice("node-role.kubernetes.io/".length));
  const addresses = Array.isArray(o.status?.addresses) ? (o.status.addresses as Array<{ type?: string; address?: string }>) : [];
  return {
    name: o.metadata.name ?? "",
    ready: nodeReady(o),
    reason: ready && ready.status !== "True" ? ready.reason ?? ready.message : ready ? undefined : "no Ready condition",
    roles,
    kubeletVersion: o.status?.nodeInfo?.kubeletVersion,
    osImage: o.status?.nodeInfo?.osImage,
    internalIPs: addresses.filter((a) => a.type === "InternalIP" && a.address).map((a) => a.address!),
    unschedulable: o.spec?.unschedulable === true,
  };
}

export function volumeView(o: KubeObject): LonghornVolumeView {
  return {
    name: o.metadata.name ?? "",
    state: String(o.status?.state ?? ""),
    robustness: String(o.status?.robustness ?? ""),
    ...(volumeConditionMessage(o.status) ? { message: volumeConditionMessage(o.status)! } : {}),
  };
}

export function clusterReader(kube: KubeClient): ClusterReader {
  return {
    async nodes() {
      const { items } = await kube.list(NODE_KIND);
      return items.map(nodeView);
    },
    async longhornVolumes() {
      try {
        const { items } = await kube.list(LONGHORN_VOLUME_KIND, { namespace: LONGHORN_NAMESPACE });
        return items.map(volumeView);
      } catch (e) {
        if (isNotFound(e)) return null;
        throw e;
      }
    },
    async waitNodesReady(names, timeoutMs, signal) {
      await waitForNodes(kube, names, { ready: true, timeoutMs, signal });
    },
    async waitVolumesHealthy(timeoutMs, signal) {
      await kube.waitFor({
        ...LONGHORN_VOLUME_KIND,
        namespace: LONGHORN_NAMESPACE,
        timeoutMs,
        signal,
        description: "every Longhorn volume healthy",
        until: (items) => {
          const bad = items.map(volumeView).filter((v) => !volumeHealthy(v));
          if (bad.length === 0) return true;
          return bad
            .slice(0, 3)
            .map((v) => `volume ${v.name} is ${v.robustness || "unknown"} (${v.state || "unknown state"})`)
            .join(", ");
        },
      });
    },
  };
}

/** Watches Nodes until every name is registered (and Ready, when `ready`), with a deadline. */
export async function waitForNodes(
  kube: KubeClient,
  names: string[],
  opts: { ready: boolean; timeoutMs: number; signal?: AbortSignal; onProgress?: (reason: string) => void },
): Promise<KubeNodeView[]> {
  const objs = await kube.waitFor({
    ...NODE_KIND,
    timeoutMs: opts.timeoutMs,
    signal: opts.signal,
    description: `${names.length} nodes ${opts.ready ? "Ready" : "registered"}`,
    onProgress: (reason) => opts.onProgress?.(reason),
    until: (items) => {
      const views = new Map(items.map((o) => [o.metadata.name ?? "", nodeView(o)]));
      const missing = names.filter((n) => !views.has(n));
      if (missing.length) return `${names.length - missing.length} of ${names.length} nodes registered (waiting for ${missing.slice(0, 5).join(", ")}${missing.length > 5 ? ", ..." : ""})`;
      if (opts.ready) {
        const notReady = names.filter((n) => !views.get(n)!.ready);
        if (notReady.length) return `${names.length - notReady.length} of ${names.length} nodes Ready (waiting for ${notReady.slice(0, 5).join(", ")})`;
      }
      return true;
    },
  });
  return objs.map(nodeView);
}
