/**
 * The router side of the cluster's BGP, as FRR configuration for the UniFi UDM Pro's BGP upload (FRR 8.x-10.x):
 * the router's ASN peering with the cluster's ASN, the node subnets as `bgp listen range` into a peer group per
 * family (Cilium only dials out), or one neighbor per node; inbound route-maps whose prefix-lists permit exactly the
 * LoadBalancer pools as host routes (this also satisfies FRR's ebgp-requires-policy, cause 11), everything denied
 * outbound to the cluster, `maximum-paths` = node count for ECMP, and soft-reconfiguration inbound so rejected
 * routes stay visible (`show bgp ipv4 unicast neighbors <ip> received-routes`).
 */
import { ConfigError } from "../cli/errors.ts";
import { blockRange, bigIntToIP, bitsOf, family as familyOf, isIP, parseCidr, rangeToCidrs, type Family, type IPRange } from "../net/index.ts";
import type { ClusterModel } from "../repo/model.ts";

export type NeighborMode = "listen-range" | "per-node";

export interface RouterConfigOptions {
  /** `bgp listen range` over the node subnets (default) or one neighbor per node address */
  mode?: NeighborMode;
}

export interface PrefixListEntry {
  action: "permit" | "deny";
  prefix: string;
  ge?: number;
  /** the pool it comes from */
  pool: string;
}

export interface RouterFamilyPlan {
  afi: Family;
  group: string;
  listenRanges: string[];
  neighbors: Array<{ node: string; address: string }>;
  prefixList: string;
  routeMapIn: string;
  entries: PrefixListEntry[];
}

export interface RouterPlan {
  cluster: string;
  routerAsn: number;
  clusterAsn: number;
  routerId: string;
  maximumPaths: number;
  gracefulRestart: boolean;
  authSecret: boolean;
  families: RouterFamilyPlan[];
  routeMapOut: string;
  warnings: string[];
}

const GROUP = { ipv4: "CILIUM-V4", ipv6: "CILIUM-V6" } as const;

function at(source: { file: string; line: number } | undefined): string {
  return source ? `${source.file}:${source.line}` : "the repo";
}

/**
 * The exact host-route prefix-list of one pool: its blocks as the fewest CIDRs, each `ge 32`/`ge 128` (a /32 or
 * /128 block as is, since FRR wants len < ge), with the first and last address of each CIDR block denied when the
 * pool says `allowFirstLastIPs: "No"` (ignored for /31, /32, /127, /128 as Cilium does).
 */
export function poolPrefixEntries(pool: ClusterModel["pools"][number]): PrefixListEntry[] {
  const entries: PrefixListEntry[] = [];
  for (const block of pool.blocks) {
    let range: IPRange;
    try {
      range = blockRange(block);
    } catch (e) {
      throw new ConfigError(`pool ${pool.name} at ${at(block.source)} has a malformed block: ${(e as Error).message}`);
    }
    const host = bitsOf(range.family);
    if (pool.allowFirstLastIPs === "No" && "cidr" in block) {
      const len = parseCidr(block.cidr).prefix;
      if (len < host - 1) {
        entries.push({ action: "deny", prefix: `${bigIntToIP(range.start, range.family)}/${host}`, pool: pool.name });
        entries.push({ action: "deny", prefix: `${bigIntToIP(range.end, range.family)}/${host}`, pool: pool.name });
      }
    }
    for (const cidr of rangeToCidrs(range)) {
      const len = Number(cidr.split("/")[1]);
      entries.push(len === host ? { action: "permit", prefix: cidr, pool: pool.name } : { action: "permit", prefix: cidr, ge: host, pool: pool.name });
    }
  }
  return entries;
}

function single<T>(values: T[], what: string, where: string): T {
  const uniq = [...new Set(values)];
  if (uniq.length === 0) throw new ConfigError(`no ${what} found`, `set it in ${where}`);
  if (uniq.length > 1) throw new ConfigError(`the BGP peers disagree on ${what}: ${uniq.join(", ")}`, `make them agree in ${where}`);
  return uniq[0]!;
}

/** Works out what the router needs from the model; throws ConfigError (exit 2) naming file:line when it cannot. */
export function planRouterConfig(model: ClusterModel, opts: RouterConfigOptions = {}): RouterPlan {
  const mode = opts.mode ?? "listen-range";
  const peers = model.bgp.peers.filter((p) => p.peerAddress && isIP(p.peerAddress));
  const ccFile = model.bgp.clusterConfigs[0] ? at(model.bgp.clusterConfigs[0].source) : "a CiliumBGPClusterConfig";
  if (peers.length === 0)
    throw new ConfigError("no CiliumBGPClusterConfig peer has a peerAddress, so the router's side cannot be derived", `add peers with peerAddress and peerASN in ${ccFile}`);
  const learning = peers.find((p) => !p.peerASN);
  if (learning)
    throw new ConfigError(`peer ${learning.name} at ${at(learning.source)} has no peerASN (0 = learn): the router's ASN must be written down`, "set peerASN to the router's ASN");
  const routerAsn = single(peers.map((p) => p.peerASN!), "the router's ASN (peerASN)", ccFile);
  const clusterAsn = single(peers.map((p) => p.localASN).filter((x): x is number => x !== undefined), "the cluster's ASN (localASN)", ccFile);
  const routerId = model.networks.router.ipv4?.value ?? peers.find((p) => familyOf(p.peerAddress!) === "ipv4")?.peerAddress;
  if (!routerId) throw new ConfigError("the router has no IPv4 address to use as BGP router-id", `add an IPv4 peer in ${ccFile}`);

  const warnings: string[] = [];
  const families: RouterFamilyPlan[] = [];
  const peerFamilies = new Set(peers.map((p) => familyOf(p.peerAddress!)));
  for (const afi of ["ipv4", "ipv6"] as const) {
    const pools = model.pools.filter((p) => p.blocks.some((b) => {
      try {
        return blockRange(b).family === afi;
      } catch {
        return false;
      }
    }));
    const enabled = pools.filter((p) => !p.disabled);
    for (const p of pools) if (p.disabled) warnings.push(`pool ${p.name} is disabled: not permitted`);
    const subnet = afi === "ipv4" ? model.networks.nodeV4?.value : model.networks.nodeV6?.value;
    const nodeAddrs = model.nodes
      .map((n) => ({ node: n.hostname, address: afi === "ipv4" ? n.ipv4 : n.ipv6 }))
      .filter((x): x is { node: string; address: string } => typeof x.address === "string" && x.address !== "");
    if (!peerFamilies.has(afi)) {
      if (enabled.length)
        warnings.push(`there are ${afi} pools (${enabled.map((p) => p.name).join(", ")}) but no ${afi} peer: Cilium cannot advertise them usefully (cause 9); add a peer with an ${afi} peerAddress`);
      continue;
    }
    if (mode === "listen-range" && !subnet)
      throw new ConfigError(`there is an ${afi} peer but no ${afi} node subnet for \`bgp listen range\``, "set machine.kubelet.nodeIP.validSubnets in talos/ or use --mode per-node");
    if (mode === "per-node" && nodeAddrs.length === 0)
      throw new ConfigError(`there is an ${afi} peer but no node has an ${afi} address`, "give the nodes addresses in talos/talconfig.yaml");
    const entries = enabled.flatMap((p) => poolPrefixEntries(p));
    const seen = new Set<string>();
    const unique = entries.filter((e) => {
      const k = `${e.action} ${e.prefix} ${e.ge ?? ""}`;
      return seen.has(k) ? false : (seen.add(k), true);
    });
    // denies first: FRR evaluates a prefix-list in sequence order and stops at the first match (stable sort keeps
    // each pool's permits together)
    unique.sort((a, b) => (a.action === b.action ? 0 : a.action === "deny" ? -1 : 1));
    if (unique.length === 0) warnings.push(`no enabled ${afi} pool: the ${afi} inbound route-map accepts nothing`);
    families.push({
      afi,
      group: GROUP[afi],
      listenRanges: mode === "listen-range" && subnet ? [parseCidr(subnet, { allowHostBits: true }).cidr] : [],
      neighbors: mode === "per-node" ? nodeAddrs : [],
      prefixList: `CILIUM-LB-${afi === "ipv4" ? "V4" : "V6"}`,
      routeMapIn: `CILIUM-${afi === "ipv4" ? "V4" : "V6"}-IN`,
      entries: unique,
    });
  }
  const referenced = new Set(peers.map((p) => p.peerConfigRef).filter(Boolean));
  const pcs = model.bgp.peerConfigs.filter((pc) => referenced.has(pc.name));
  return {
    cluster: model.cluster.name.value,
    routerAsn,
    clusterAsn,
    routerId,
    maximumPaths: Math.max(1, model.nodes.length),
    gracefulRestart: pcs.some((pc) => pc.spec.gracefulRestart?.enabled === true),
    authSecret: pcs.some((pc) => pc.spec.authSecretRef !== undefined),
    families,
    routeMapOut: "CILIUM-OUT",
    warnings,
  };
}

/** Renders the plan as FRR configuration text. */
export function renderPlan(plan: RouterPlan): string {
  const L: string[] = [];
  L.push(`! BGP for Kubernetes cluster "${plan.cluster}" (Cilium LoadBalancer IPs) — UniFi / FRR configuration`);
  L.push("! Generated by `bun scripts/bgp-router-config.ts` from talos/ and kubernetes/: regenerate, do not edit by hand.");
  L.push(`! router AS ${plan.routerAsn}, cluster AS ${plan.clusterAsn}, ${plan.maximumPaths} node(s)`);
  for (const w of plan.warnings) L.push(`! WARNING: ${w}`);
  if (plan.authSecret)
    L.push("! The peer config uses authSecretRef: add `neighbor <group> password <secret>` by hand (secrets are never written here).");
  L.push("!");
  L.push(`router bgp ${plan.routerAsn}`);
  L.push(` bgp router-id ${plan.routerId}`);
  // ebgp-requires-policy stays ON (FRR default): the inbound route-maps below are the policy
  L.push(" no bgp default ipv4-unicast");
  if (plan.gracefulRestart) L.push(" bgp graceful-restart");
  for (const f of plan.families) {
    L.push(` neighbor ${f.group} peer-group`);
    L.push(` neighbor ${f.group} remote-as ${plan.clusterAsn}`);
    L.push(` neighbor ${f.group} description Cilium nodes of ${plan.cluster} (${f.afi})`);
    for (const r of f.listenRanges) L.push(` bgp listen range ${r} peer-group ${f.group}`);
    for (const n of f.neighbors) {
      L.push(` neighbor ${n.address} peer-group ${f.group}`);
      L.push(` neighbor ${n.address} description ${n.node}`);
    }
  }
  for (const f of plan.families) {
    L.push(" !");
    L.push(` address-family ${f.afi} unicast`);
    L.push(`  neighbor ${f.group} activate`);
    L.push(`  neighbor ${f.group} soft-reconfiguration inbound`);
    L.push(`  neighbor ${f.group} route-map ${f.routeMapIn} in`);
    L.push(`  neighbor ${f.group} route-map ${plan.routeMapOut} out`);
    L.push(`  maximum-paths ${plan.maximumPaths}`);
    L.push(" exit-address-family");
  }
  L.push("exit");
  for (const f of plan.families) {
    L.push("!");
    const kw = f.afi === "ipv4" ? "ip" : "ipv6";
    let seq = 10;
    const pools = [...new Set(f.entries.map((e) => e.pool))];
    if (pools.length) L.push(`! ${f.afi} LoadBalancer pools: ${pools.join(", ")} (host routes only)`);
    let lastPool = "";
    for (const e of f.entries) {
      if (e.action === "permit" && e.pool !== lastPool) L.push(`! pool ${(lastPool = e.pool)}`);
      L.push(`${kw} prefix-list ${f.prefixList} seq ${seq} ${e.action} ${e.prefix}${e.ge !== undefined ? ` ge ${e.ge}` : ""}`);
      seq += 10;
    }
    if (f.entries.some((e) => e.action === "permit")) {
      L.push(`route-map ${f.routeMapIn} permit 10`);
      L.push(` match ${kw} address prefix-list ${f.prefixList}`);
      L.push("exit");
    } else {
      L.push(`route-map ${f.routeMapIn} deny 10`);
      L.push("exit");
    }
  }
  L.push("!");
  L.push("! nothing is advertised to the cluster");
  L.push(`route-map ${plan.routeMapOut} deny 10`);
  L.push("exit");
  L.push("!");
  return L.join("\n") + "\n";
}

/** The router configuration for the model, as FRR text. */
export function renderRouterConfig(model: ClusterModel, opts: RouterConfigOptions = {}): string {
  return renderPlan(planRouterConfig(model, opts));
}
