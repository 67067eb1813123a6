/**
 * Small pieces the Talos scripts share: the gates' dependencies, a rolling operation under the lock, rendering its
 * result.
 */
import type { Duration } from "../cli/flags.ts";
import type { Output } from "../cli/output.ts";
import { KubeClient } from "../kube/client.ts";
import type { GateDeps, GateNode } from "../safety/gates.ts";
import { clusterReader } from "../safety/kube-reader.ts";
import { withMaintenanceLock, type LockScope } from "../safety/lock.ts";
import type { RollingResult } from "../safety/rolling.ts";
import { loadCluster, withDiscoveredNodes, type TalosNode } from "./cluster.ts";
import type { RollingCommon } from "./rolling-ops.ts";
import type { Talosctl } from "./talosctl.ts";

export function gateNodes(nodes: TalosNode[]): GateNode[] {
  return nodes.map((n) => ({ hostname: n.hostname, ip: n.ip, controlPlane: n.controlPlane }));
}

export function openKube(env: Record<string, string | undefined>): KubeClient {
  return KubeClient.fromEnv(env);
}

export function gateDeps(talos: Talosctl, env: Record<string, string | undefined>, nodes: TalosNode[], kube?: KubeClient): GateDeps {
  return { talos, kube: clusterReader(kube ?? openKube(env)), nodes: gateNodes(nodes) };
}

/**
 * A rolling operation (reboot, upgrade) as the scripts run it: under the maintenance Lease, re-checking the lock
 * before each step, the health gates reading the cluster through one Kubernetes client.
 */
export async function lockedRolling(
  scope: LockScope,
  o: { operation: string; talos: Talosctl; nodes: TalosNode[]; targets: GateNode[]; nodeTimeout: Duration; gateTimeout: Duration },
  roll: (common: RollingCommon) => Promise<RollingResult>,
): Promise<RollingResult> {
  const kube = openKube(scope.env);
  return withMaintenanceLock(scope, { operation: o.operation, via: "lease", kube: () => kube }, (lock) =>
    roll({
      talos: o.talos,
      guard: () => lock.check(),
      gates: gateDeps(o.talos, scope.env, o.nodes, kube),
      targets: o.targets,
      nodeTimeout: o.nodeTimeout,
      gateTimeoutMs: o.gateTimeout.ms,
      dryRun: scope.dryRun,
      signal: scope.signal,
      out: scope.out,
    }),
  );
}

export function printRolling(out: Output, json: boolean, result: RollingResult, extra: Record<string, unknown> = {}): void {
  if (json) {
    out.result({ ok: result.ok, ...extra, nodes: result.nodes, stopped: result.stopped ?? null, events: result.events });
    return;
  }
  // where the run stopped, the error below says why: the table does not repeat it
  out.printTable(
    ["node", "ip", "result", "detail"],
    result.nodes.map((n) => [n.node, n.ip, n.result, result.stopped?.node === n.node ? "stopped here (see the error below)" : n.detail]),
  );
}

/**
 * The repo's cluster plus the nodes Talos discovery knows beyond talos/talconfig.yaml (a rolling operation must
 * gate on every member), saying so when there are any.
 */
export async function loadClusterWithDiscovery(talos: Talosctl, root: string, out: Output): Promise<Awaited<ReturnType<typeof withDiscoveredNodes>>> {
  const cluster = await withDiscoveredNodes(talos, loadCluster(root));
  const n = cluster.discovered.length;
  if (n)
    out.log(`including ${n} node${n === 1 ? "" : "s"} Talos discovery knows beyond talos/talconfig.yaml: ${cluster.discovered.slice(0, 8).join(", ")}${n > 8 ? ", ..." : ""}`);
  return cluster;
}
