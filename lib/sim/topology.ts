/**
 * What the simulated cluster is made of: the repo's own nodes, versions and schematic (from the ClusterModel of
 * lib/repo), optionally scaled out to N nodes. Nothing here is a constant about the real cluster: a topology comes
 * from the repo or is given explicitly (tests use small fixtures).
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import ipaddr from "ipaddr.js";
import { parse as parseYaml } from "yaml";
import { ConfigError } from "../cli/errors.ts";
import type { ClusterModel } from "../repo/model.ts";

export interface SimNodeSpec {
  hostname: string;
  ipv4: string;
  ipv6?: string;
  controlPlane: boolean;
  /** the install disk as the machine config names it, e.g. /dev/sda, or a selector rendered as text */
  installDisk: string;
}

export interface SimTopology {
  clusterName: string;
  /** https://<vip>:6443 */
  endpoint: string;
  talosVersion: string;
  kubernetesVersion: string;
  /** Image Factory schematic of the repo (id may be unknown when not pinned) */
  schematic: { id?: string; extensions: string[] };
  /** installer image the repo installs, e.g. factory.talos.dev/installer/<id>:v1.10.5 */
  installerImage: string;
  nodes: SimNodeSpec[];
  /** node VLAN prefixes, used to allocate addresses for scaled-out nodes */
  nodeSubnetV4?: string;
  nodeSubnetV6?: string;
  /** addresses never given to a node (VIP, router) */
  reserved?: string[];
  /** things a person should know (scaled nodes beyond the subnet...) */
  warnings?: string[];
  /** versions of the CLIs the repo pins (.mise.toml), which the stand-ins then report: talosctl, talhelper, op */
  toolVersions?: { talosctl?: string; talhelper?: string; op?: string; helm?: string };
}

/** The topology of the repo at `root`, scaled to `nodes` when given. */
export async function topologyFromRepo(root: string, opts: { nodes?: number } = {}): Promise<SimTopology> {
  let topo: SimTopology;
  const model = await loadModel(root);
  if (model) topo = topologyFromModel(model);
  else topo = topologyFromTalconfig(root);
  return opts.nodes === undefined ? topo : scaleTopology(topo, opts.nodes);
}

async function loadModel(root: string): Promise<ClusterModel | undefined> {
  // lib/repo is optional at load time so the sim works while the repo model is being built.
  let mod: { loadRepo?: (root: string, opts?: { mode?: "strict" | "lenient" }) => Promise<ClusterModel> | ClusterModel };
  try {
    mod = (await import("../repo/model.ts")) as typeof mod;
  } catch {
    return undefined;
  }
  if (typeof mod.loadRepo !== "function") return undefined;
  try {
    return await mod.loadRepo(root, { mode: "lenient" });
  } catch (e) {
    if (!existsSync(path.join(root, "talos", "talconfig.yaml"))) return undefined;
    throw new ConfigError(
      `the simulated cluster could not read the repo: ${(e as Error).message.split("\n")[0]}`,
      "fix talos/talconfig.yaml (bun scripts/validate.ts shows where)",
      e,
    );
  }
}

export function topologyFromModel(model: ClusterModel): SimTopology {
  if (model.nodes.length === 0)
    throw new ConfigError("the repo defines no Talos nodes", "add nodes to talos/talconfig.yaml");
  return {
    clusterName: model.cluster.name.value,
    endpoint: model.cluster.endpoint.value,
    talosVersion: model.versions.talos.value,
    kubernetesVersion: model.versions.kubernetes.value,
    schematic: {
      ...(model.schematic.id ? { id: model.schematic.id } : {}),
      extensions: [...model.schematic.extensions],
    },
    installerImage: model.installerImage.value,
    nodes: model.nodes.map((n) => ({
      hostname: n.hostname,
      ipv4: n.ipv4,
      ...(n.ipv6 ? { ipv6: n.ipv6 } : {}),
      controlPlane: n.controlPlane,
      installDisk: n.installDisk.disk ?? (n.installDisk.selector ? JSON.stringify(n.installDisk.selector) : "/dev/sda"),
    })),
    nodeSubnetV4: model.networks.nodeV4.value || undefined,
    nodeSubnetV6: model.networks.nodeV6?.value || undefined,
    reserved: [model.networks.vip.value, model.networks.router.ipv4?.value, model.networks.router.ipv6?.value].filter(
      (v): v is string => !!v,
    ),
    toolVersions: pinnedTools(model.versions.tools),
  };
}

/** The stand-in versions from the .mise.toml pins (any spelling of the tool: `talosctl`, `aqua:siderolabs/talos`...). */
function pinnedTools(tools: Record<string, { value: string }>): SimTopology["toolVersions"] {
  const find = (re: RegExp) => Object.entries(tools).find(([k]) => re.test(k))?.[1].value;
  const out: NonNullable<SimTopology["toolVersions"]> = {};
  const talosctl = find(/talosctl|siderolabs\/talos$/);
  const talhelper = find(/talhelper/);
  const op = find(/^(1password|op|1password-cli)$|1password/);
  const helm = find(/^helm$|helm\/helm$/);
  if (helm) out.helm = helm.replace(/^v/, "");
  if (talosctl) out.talosctl = talosctl.startsWith("v") ? talosctl : `v${talosctl}`;
  if (talhelper) out.talhelper = talhelper.replace(/^v/, "");
  if (op) out.op = op.replace(/^v/, "");
  return out;
}

/** A minimal reading of talos/talconfig.yaml (+ talenv.yaml), used when lib/repo is not available. */
export function topologyFromTalconfig(root: string): SimTopology {
  const file = path.join(root, "talos", "talconfig.yaml");
  if (!existsSync(file))
    throw new ConfigError(
      `no talos/talconfig.yaml under ${root}: the simulated cluster takes its nodes from it`,
      "run from the repository, or give the simulation an explicit topology",
    );
  const env: Record<string, string> = {};
  const envFile = path.join(root, "talos", "talenv.yaml");
  if (existsSync(envFile)) {
    const e = parseYaml(readFileSync(envFile, "utf8")) as Record<string, unknown> | null;
    for (const [k, v] of Object.entries(e ?? {})) env[k] = String(v);
  }
  const text = readFileSync(file, "utf8").replace(/\$\{(\w+)\}/g, (m, k: string) => env[k] ?? process.env[k] ?? m);
  const c = (parseYaml(text) ?? {}) as Record<string, any>;
  const nodes = Array.isArray(c.nodes) ? c.nodes : [];
  if (nodes.length === 0) throw new ConfigError("talos/talconfig.yaml defines no nodes", "add nodes to it");
  const talosVersion = String(c.talosVersion ?? "");
  const first = nodes[0] ?? {};
  const schematicExt: string[] = (c.controlPlane?.schematic ?? first.schematic)?.customization?.systemExtensions
    ?.officialExtensions ?? [];
  const image = String(first.talosImageURL ?? c.controlPlane?.talosImageURL ?? "factory.talos.dev/installer/unknown");
  const endpoint = String(c.endpoint ?? "");
  return {
    clusterName: String(c.clusterName ?? "cluster"),
    endpoint,
    talosVersion,
    kubernetesVersion: String(c.kubernetesVersion ?? ""),
    schematic: { extensions: schematicExt.map(String) },
    installerImage: image.includes(":") && !image.endsWith(":") ? image : `${image}:${talosVersion}`,
    nodes: nodes.map((n: any) => {
      const ips = String(n.ipAddress ?? "")
        .split(",")
        .map((s) => s.trim());
      const v6 = ips.find((a) => a.includes(":")) ?? addressesOf(n).find((a) => a.includes(":"));
      return {
        hostname: String(n.hostname),
        ipv4: ips.find((a) => !a.includes(":")) ?? "",
        ...(v6 ? { ipv6: v6 } : {}),
        controlPlane: n.controlPlane === true,
        installDisk: String(n.installDisk ?? JSON.stringify(n.installDiskSelector ?? {})),
      };
    }),
    reserved: [/https?:\/\/\[?([^\]/]+?)\]?:\d+/.exec(endpoint)?.[1]].filter((v): v is string => !!v),
  };
}

function addressesOf(n: any): string[] {
  const out: string[] = [];
  for (const i of Array.isArray(n.networkInterfaces) ? n.networkInterfaces : [])
    for (const a of Array.isArray(i.addresses) ? i.addresses : []) out.push(String(a).split("/")[0]!);
  return out;
}

/**
 * Scales a topology to `count` nodes: fewer keeps the first ones (control planes first), more adds workers named
 * after the existing pattern (mini03 -> mini04, mini05, ...) at the next free addresses of the node subnet.
 */
export function scaleTopology(topo: SimTopology, count: number): SimTopology {
  if (!Number.isInteger(count) || count < 1) throw new ConfigError(`the simulated node count must be at least 1, not ${count}`);
  const nodes = [...topo.nodes];
  if (count <= nodes.length) {
    const cps = nodes.filter((n) => n.controlPlane);
    const workers = nodes.filter((n) => !n.controlPlane);
    return { ...topo, nodes: [...cps, ...workers].slice(0, count) };
  }
  const warnings = [...(topo.warnings ?? [])];
  const names = new Set(nodes.map((n) => n.hostname));
  const used = new Set([...nodes.flatMap((n) => [n.ipv4, n.ipv6 ?? ""]), ...(topo.reserved ?? [])].filter(Boolean));
  const last = nodes[nodes.length - 1]!;
  const m = /^(.*?)(\d+)$/.exec(last.hostname);
  const prefix = m ? m[1]! : `${last.hostname}-`;
  const width = m ? m[2]!.length : 2;
  let seq = m ? Number(m[2]) : 0;
  let v4 = maxAddress(nodes.map((n) => n.ipv4));
  let v6 = maxAddress(nodes.map((n) => n.ipv6).filter((a): a is string => !!a));
  const subnet4 = topo.nodeSubnetV4 ? safeCidr(topo.nodeSubnetV4) : undefined;
  let outside = false;
  while (nodes.length < count) {
    let hostname: string;
    do {
      seq += 1;
      hostname = `${prefix}${String(seq).padStart(width, "0")}`;
    } while (names.has(hostname));
    names.add(hostname);
    do v4 = v4 ? next(v4) : undefined;
    while (v4 && used.has(v4.toString()));
    if (!v4) throw new ConfigError("cannot allocate addresses for simulated nodes: the nodes have no IPv4 address");
    used.add(v4.toString());
    if (subnet4 && !outside && !v4.match(subnet4)) {
      outside = true;
      warnings.push(`simulated nodes from ${hostname} on have addresses beyond the node subnet ${topo.nodeSubnetV4}`);
    }
    let ipv6: string | undefined;
    if (v6) {
      do v6 = next(v6);
      while (v6 && used.has(v6.toString()));
      if (v6) {
        ipv6 = v6.toString();
        used.add(ipv6);
      }
    }
    nodes.push({
      hostname,
      ipv4: v4.toString(),
      ...(ipv6 ? { ipv6 } : {}),
      controlPlane: false,
      installDisk: last.installDisk,
    });
  }
  return { ...topo, nodes, ...(warnings.length ? { warnings } : {}) };
}

function safeCidr(cidr: string): [ipaddr.IPv4 | ipaddr.IPv6, number] | undefined {
  try {
    return ipaddr.parseCIDR(cidr);
  } catch {
    return undefined;
  }
}

function maxAddress(addrs: string[]): ipaddr.IPv4 | ipaddr.IPv6 | undefined {
  let best: ipaddr.IPv4 | ipaddr.IPv6 | undefined;
  let bestN = -1n;
  for (const a of addrs) {
    if (!ipaddr.isValid(a)) continue;
    const ip = ipaddr.parse(a);
    const n = toBig(ip);
    if (n > bestN) {
      best = ip;
      bestN = n;
    }
  }
  return best;
}

function toBig(ip: ipaddr.IPv4 | ipaddr.IPv6): bigint {
  return ip.toByteArray().reduce((acc, b) => (acc << 8n) | BigInt(b), 0n);
}

function next(ip: ipaddr.IPv4 | ipaddr.IPv6): ipaddr.IPv4 | ipaddr.IPv6 | undefined {
  const bytes = ip.toByteArray();
  for (let i = bytes.length - 1; i >= 0; i--) {
    if (bytes[i]! < 255) {
      bytes[i] = bytes[i]! + 1;
      return ipaddr.fromByteArray(bytes);
    }
    bytes[i] = 0;
  }
  return undefined;
}

/** A node by hostname or address. */
export function findNode(topo: { nodes: SimNodeSpec[] }, ref: string): SimNodeSpec | undefined {
  return topo.nodes.find((n) => n.hostname === ref || n.ipv4 === ref || n.ipv6 === ref);
}
