/**
 * The labels a node registers with, computed once from talos/: what the kubelet sets itself
 * (kubernetes.io/hostname, kubernetes.io/os), what Talos adds to control planes (node-role.kubernetes.io/control-plane),
 * and the `nodeLabels` of talconfig (controlPlane / worker group, then the node's own, talhelper's merge order) and
 * `machine.nodeLabels` of the Talos patches applied to the node. Node selectors (Cilium BGP nodeSelector) match these.
 */
import type { TalosPatch } from "./model.ts";

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
const strings = (v: unknown): Record<string, string> => {
  const out: Record<string, string> = {};
  if (isObj(v)) for (const [k, x] of Object.entries(v)) if (x !== null && x !== undefined) out[k] = String(x);
  return out;
};

export function talosNodeLabels(cfg: Json, node: Json, patches: TalosPatch[]): Record<string, string> {
  const hostname = typeof node.hostname === "string" ? node.hostname : "";
  const controlPlane = node.controlPlane === true;
  const group = controlPlane ? "controlPlane" : "worker";
  const applies = (p: TalosPatch) =>
    p.appliedTo.includes("global") || p.appliedTo.includes(group) || p.appliedTo.includes(`node:${hostname}`);
  const fromPatches: Record<string, string> = {};
  for (const p of patches.filter(applies))
    for (const d of p.docs) Object.assign(fromPatches, strings(isObj(d.object) && isObj(d.object.machine) ? d.object.machine.nodeLabels : undefined));
  return {
    "kubernetes.io/hostname": hostname,
    "kubernetes.io/os": "linux",
    ...(controlPlane ? { "node-role.kubernetes.io/control-plane": "" } : {}),
    ...fromPatches,
    ...strings(isObj(cfg[group]) ? (cfg[group] as Json).nodeLabels : undefined),
    ...strings(node.nodeLabels),
  };
}
