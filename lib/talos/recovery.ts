/**
 * The Talos disaster-recovery procedure (talos.md "Safe procedures"): from an etcd snapshot, wipe EPHEMERAL (etcd
 * data) on every control plane without leaving etcd (--graceful=false, there is no healthy cluster to leave), wait
 * for etcd to sit in `Preparing`, `bootstrap --recover-from` on one control plane, then wait until every control plane
 * is a voting member again and the Kubernetes API answers.
 */
import { OperationError } from "../cli/errors.ts";
import { etcdGate, readEtcd, type ClusterReader, type GateNode } from "../safety/gates.ts";
import { done, notYet, pollUntil, type PollProgress } from "./poll.ts";
import type { Talosctl } from "./talosctl.ts";

export async function waitEtcdPreparing(
  talos: Talosctl,
  node: GateNode,
  timeoutMs: number,
  opts: { signal?: AbortSignal; onProgress?: (p: PollProgress) => void } = {},
): Promise<void> {
  await pollUntil(
    async () => {
      const svc = await talos.service(node.ip, "etcd");
      if (svc?.state === "Preparing") return done(true);
      return notYet(`etcd on ${node.hostname} is ${svc?.state || "unknown"}`);
    },
    { what: `etcd on ${node.hostname} to report Preparing`, timeoutMs, signal: opts.signal, onProgress: opts.onProgress, initialDelayMs: 200 },
  );
}

/** Every control plane back in etcd as a voter, healthy, one leader; and the API lists Nodes. */
export async function waitRecovered(
  talos: Talosctl,
  kube: () => ClusterReader,
  controlPlanes: GateNode[],
  timeoutMs: number,
  opts: { signal?: AbortSignal; onProgress?: (p: PollProgress) => void } = {},
): Promise<{ members: number }> {
  return pollUntil(
    async () => {
      const view = await readEtcd(talos, controlPlanes);
      const { check } = etcdGate(controlPlanes, view);
      if (!check.ok) return notYet(`etcd: ${check.detail}`);
      try {
        await kube().nodes();
      } catch (e) {
        return notYet(`the Kubernetes API does not answer yet: ${(e as Error).message}`);
      }
      return done({ members: view.members.length });
    },
    {
      what: "every control plane to rejoin etcd and the API to answer",
      timeoutMs,
      signal: opts.signal,
      onProgress: opts.onProgress,
      initialDelayMs: 300,
      hint: "check `talosctl -n <ip> service etcd` on the control planes that did not rejoin",
    },
  );
}

/**
 * Every node a plan will wipe must answer before the first one is touched (a plan with a node missing is a
 * different plan). A reset may meet nodes already in maintenance mode (a rerun after a stop): `allowMaintenance`.
 */
export async function requireReachable(talos: Talosctl, nodes: GateNode[], opts: { allowMaintenance?: boolean } = {}): Promise<void> {
  const modes = await Promise.all(nodes.map(async (n) => ({ n, m: await talos.detectMode(n.ip) })));
  const bad = modes.filter((x) => x.m.mode === "unreachable");
  if (bad.length)
    throw new OperationError(
      `${bad.every((x) => x.n.controlPlane) ? "control plane" : "node"}${bad.length === 1 ? "" : "s"} ${bad.map((x) => x.n.hostname).join(", ")} ${bad.length === 1 ? "does" : "do"} not answer: nothing was changed`,
      "power them on (or fix the network) and run again",
    );
  const maint = opts.allowMaintenance ? [] : modes.filter((x) => x.m.mode === "maintenance");
  if (maint.length)
    throw new OperationError(
      `control plane${maint.length === 1 ? "" : "s"} ${maint.map((x) => x.n.hostname).join(", ")} ${maint.length === 1 ? "is" : "are"} in maintenance mode: nothing was changed`,
      "apply their configuration first (talos-apply-config), then run the recovery again",
    );
}
