/**
 * What the Talos scripts share: the cluster as the repo describes it (nodes, versions, schematic from the
 * ClusterModel), where the talosconfig/kubeconfig live, a Talosctl bound to the script's Exec, and node selection.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { parse as parseYaml } from "yaml";
import { ConfigError, UsageError } from "../cli/errors.ts";
import type { Exec } from "../exec.ts";
import { loadRepo, type ClusterModel } from "../repo/model.ts";
import { Talosctl } from "./talosctl.ts";

export interface TalosNode {
  hostname: string;
  /** the address talosctl talks to */
  ip: string;
  ipv6?: string;
  controlPlane: boolean;
  installerImage: string;
  schematicId?: string;
}

export interface TalosCluster {
  model?: ClusterModel;
  name: string;
  talosVersion: string;
  kubernetesVersion: string;
  schematicId?: string;
  schematicExtensions: string[];
  installerImage: string;
  nodes: TalosNode[];
  root: string;
  talosDir: string;
}

export function inventoryFromModel(model: ClusterModel): TalosNode[] {
  return model.nodes.map((n) => ({
    hostname: n.hostname,
    ip: n.ipv4,
    ipv6: n.ipv6,
    controlPlane: n.controlPlane,
    installerImage: n.installerImage,
    schematicId: n.schematic.id,
  }));
}

/**
 * The cluster of the repo at `root`. Under `--simulate --sim-nodes N` the simulated cluster is the repo's scaled out:
 * the extra nodes are read from the talosconfig the simulation wrote (its `nodes` list) and named by Talos' own
 * cluster discovery, see `extendInventory`.
 */
export function loadCluster(root: string): TalosCluster {
  let model: ClusterModel;
  try {
    // lenient: only the Talos facts matter here; a half-written kubernetes/ must not stop a reboot
    model = loadRepo(root, { mode: "lenient" });
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw new ConfigError(`the repo could not be read: ${(e as Error).message.split("\n")[0]}`, "run bun scripts/validate.ts", e);
  }
  const nodes = inventoryFromModel(model);
  if (!model.cluster.name.value) throw new ConfigError("talos/talconfig.yaml has no clusterName", "set clusterName in talos/talconfig.yaml");
  if (nodes.length === 0) throw new ConfigError("talos/talconfig.yaml defines no nodes", "add nodes to talos/talconfig.yaml");
  if (!nodes.some((n) => n.controlPlane))
    throw new ConfigError("talos/talconfig.yaml defines no control plane", "mark at least one node controlPlane: true");
  return {
    model,
    name: model.cluster.name.value,
    talosVersion: model.versions.talos.value,
    kubernetesVersion: model.versions.kubernetes.value,
    schematicId: model.schematic.id,
    schematicExtensions: model.schematic.extensions,
    installerImage: model.installerImage.value,
    nodes,
    root,
    talosDir: path.join(root, "talos"),
  };
}

/**
 * talhelper's output folder: $HOMEOPS_CLUSTERCONFIG_DIR (set by --simulate, so a rehearsal never touches the real
 * cluster's configs), else <root>/clusterconfig.
 */
export function clusterconfigDir(root: string, env: Record<string, string | undefined>): string {
  return env.HOMEOPS_CLUSTERCONFIG_DIR || path.join(root, "clusterconfig");
}

/** The restored Talos secrets bundle: $HOMEOPS_TALSECRET_FILE (set by --simulate), else <root>/talos/talsecret.yaml. */
export function talsecretFile(root: string, env: Record<string, string | undefined>): string {
  return env.HOMEOPS_TALSECRET_FILE || path.join(root, "talos", "talsecret.yaml");
}


/** The talosconfig: $TALOSCONFIG (mise and --simulate set it), else the one in clusterconfigDir(). */
export function talosconfigPath(root: string, env: Record<string, string | undefined>): string {
  return env.TALOSCONFIG || path.join(clusterconfigDir(root, env), "talosconfig");
}

/** The kubeconfig: $KUBECONFIG, else the one in clusterconfigDir(). */
export function kubeconfigPath(root: string, env: Record<string, string | undefined>): string {
  return env.KUBECONFIG?.split(path.delimiter)[0] || path.join(clusterconfigDir(root, env), "kubeconfig");
}

export function makeTalosctl(exec: Exec, root: string, env: Record<string, string | undefined>): Talosctl {
  const tc = talosconfigPath(root, env);
  // without a talosconfig talosctl still works for --insecure (maintenance) calls
  return new Talosctl({ exec, talosconfig: existsSync(tc) ? tc : undefined });
}

/** The node IPs a talosconfig's current context lists (talhelper writes every node there). */
export function talosconfigNodes(file: string): string[] {
  if (!existsSync(file)) return [];
  try {
    const doc = parseYaml(readFileSync(file, "utf8")) as { context?: string; contexts?: Record<string, { nodes?: string[] }> };
    const ctx = doc.context ? doc.contexts?.[doc.context] : Object.values(doc.contexts ?? {})[0];
    return (ctx?.nodes ?? []).map(String);
  } catch {
    return [];
  }
}

/**
 * Nodes the live cluster has beyond the repo's (a simulated cluster scaled with --sim-nodes), given as
 * (ip -> hostname, role) from Talos' cluster discovery (`get members`). Only used when the talosconfig lists more
 * nodes than the repo; extra nodes inherit the repo's installer image.
 */
export function extendInventory(
  cluster: TalosCluster,
  extra: Array<{ ip: string; hostname: string; controlPlane: boolean }>,
): TalosCluster {
  const known = new Set(cluster.nodes.map((n) => n.ip));
  const added = extra
    .filter((e) => !known.has(e.ip))
    .map((e) => ({
      hostname: e.hostname,
      ip: e.ip,
      controlPlane: e.controlPlane,
      installerImage: cluster.installerImage,
      schematicId: cluster.schematicId,
    }));
  return added.length ? { ...cluster, nodes: [...cluster.nodes, ...added] } : cluster;
}

/**
 * The nodes named by `refs` (hostnames or IPs), in the cluster's order; all nodes when `refs` is empty.
 * An unknown name is a usage error (exit 2) listing the known ones.
 */
export function selectNodes(nodes: TalosNode[], refs: string[]): TalosNode[] {
  if (refs.length === 0) return nodes;
  const wanted = new Set<TalosNode>();
  for (const ref of refs.flatMap((r) => r.split(",")).map((r) => r.trim()).filter(Boolean)) {
    const n = nodes.find((x) => x.hostname === ref || x.ip === ref || x.ipv6 === ref);
    if (!n)
      throw new UsageError(
        `"${ref}" is not a node of this cluster`,
        `known nodes: ${nodes.slice(0, 12).map((x) => x.hostname).join(", ")}${nodes.length > 12 ? ", ..." : ""}`,
      );
    wanted.add(n);
  }
  return nodes.filter((n) => wanted.has(n));
}

/** A file name timestamp: 20260101T000000Z. */
export function timestamp(d = new Date()): string {
  return d.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
}

/**
 * Adds the nodes Talos' cluster discovery (`get members` on a control plane) knows beyond the repo's, e.g. a
 * simulated cluster scaled with --sim-nodes. Unchanged when no control plane answers.
 */
export async function withDiscoveredNodes(talos: Talosctl, cluster: TalosCluster): Promise<TalosCluster & { discovered: string[] }> {
  for (const cp of cluster.nodes.filter((n) => n.controlPlane)) {
    try {
      const members = await talos.members(cp.ip);
      const extra = members
        .filter((m) => m.addresses[0])
        .map((m) => ({ ip: m.addresses[0]!, hostname: m.hostname, controlPlane: m.machineType === "controlplane" }));
      const next = extendInventory(cluster, extra);
      const known = new Set(cluster.nodes.map((n) => n.ip));
      return { ...next, discovered: next.nodes.filter((n) => !known.has(n.ip)).map((n) => n.hostname) };
    } catch {
      /* try the next control plane */
    }
  }
  return { ...cluster, discovered: [] };
}
