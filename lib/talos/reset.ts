/**
 * Safe reset: wipes only STATE and EPHEMERAL (never user disks: Longhorn's USB SSD keeps its data), graceful so each
 * control plane leaves etcd and membership shrinks cleanly, workers first, the last control plane non-graceful (no
 * cluster is left for it to leave). A single-node reset refuses when the remaining members would lose quorum.
 */
import { canRemoveMembers } from "../safety/quorum.ts";
import type { EtcdView, GateNode } from "../safety/gates.ts";
import type { Talosctl } from "./talosctl.ts";

export interface ResetStep {
  node: GateNode;
  graceful: boolean;
  why: string;
}

/** Order and gracefulness for resetting `targets` out of `all` nodes. */
export function planReset(all: GateNode[], targets: GateNode[]): ResetStep[] {
  const workers = targets.filter((n) => !n.controlPlane);
  const cps = targets.filter((n) => n.controlPlane);
  const cpsLeft = all.filter((n) => n.controlPlane && !targets.includes(n)).length;
  const steps: ResetStep[] = workers.map((node) => ({ node, graceful: true, why: "worker: cordoned and drained by Talos" }));
  cps.forEach((node, i) => {
    const last = cpsLeft === 0 && i === cps.length - 1;
    steps.push({
      node,
      graceful: !last,
      why: last ? "last control plane: no etcd cluster is left to leave" : "control plane: leaves etcd first",
    });
  });
  return steps;
}

export interface QuorumCheck {
  ok: boolean;
  reason: string;
}

/**
 * May `node` be reset on its own? Workers always; a control plane only when the etcd members that remain keep
 * quorum (after a graceful leave the membership is one smaller), and never the only control plane.
 */
export function checkSingleReset(node: GateNode, all: GateNode[], etcd: EtcdView): QuorumCheck {
  if (!node.controlPlane) return { ok: true, reason: "worker: etcd is not affected" };
  const cps = all.filter((n) => n.controlPlane);
  if (cps.length === 1)
    return { ok: false, reason: `${node.hostname} is the only control plane: resetting it is a full cluster reset (run without --node)` };
  const members = etcd.members.length || cps.length;
  const healthyHosts = new Set(
    etcd.status.filter((s) => s.errors.length === 0 && !s.learner).map((s) => cps.find((c) => c.ip === s.node)?.hostname),
  );
  const healthy = healthyHosts.size;
  const isMember = etcd.members.some((m) => m.hostname === node.hostname);
  if (!isMember && etcd.members.length > 0) return { ok: true, reason: `${node.hostname} is not an etcd member` };
  const d = canRemoveMembers(members, healthy, 1, healthyHosts.has(node.hostname) ? 1 : 0);
  return { ok: d.ok, reason: d.ok ? `${node.hostname} leaves etcd: ${d.reason}` : `resetting ${node.hostname} would break etcd quorum: ${d.reason}` };
}

export async function resetNode(
  talos: Talosctl,
  step: ResetStep,
  opts: { wipe: Array<"STATE" | "EPHEMERAL">; reboot: boolean; timeout: string; wait?: boolean },
) {
  return talos.reset(step.node.ip, { graceful: step.graceful, reboot: opts.reboot, wipe: opts.wipe, timeout: opts.timeout, wait: opts.wait });
}
