/**
 * Stands for: the Cilium 1.17 BGP control plane v2 — the operator part that turns CiliumBGPClusterConfigs into one
 * CiliumBGPNodeConfig per selected node (pkg/bgpv1/... operator reconciler), and the agent part that runs the BGP
 * speaker on each node, decides what to advertise to each peer (reconcilerv2: neighbor, service and podCIDR
 * reconcilers) and reports `status.bgpInstances[].peers[]`.
 *
 * Every rule that makes routes silently disappear in the real one is applied here (numbers from cilium-bgp.md):
 *  1 peer without peerConfigRef / missing PeerConfig -> default families, no advertisements
 *  2 PeerConfig without families (defaults ipv4+ipv6 unicast, nothing advertised) or a family without selector
 *  3 family `advertisements` selector matching no CiliumBGPAdvertisement labels
 *  4 Service advertisement without `selector` (matches no Service) or without a `service` block
 *  5 addresses lacking LoadBalancerIP, Service not LoadBalancer, no ingress IP, foreign loadBalancerClass
 *  6 externalTrafficPolicy Local without a local endpoint on the node
 *  7 (upstream: LB-IPAM gave no IP -> same as 5, no ingress IP)
 *  8 nodeSelector matching no node, two ClusterConfigs on a node, a legacy CiliumBGPPeeringPolicy selecting it
 *  9 family/session mismatch: v4-only families never carry v6; v6 over a v4 session only when the router
 *    activates it, and then with an IPv4-mapped next hop
 * 10 selectors see only Service labels + io.kubernetes.service.{name,namespace}, never the pool
 * 11 is the router's doing (router.ts)
 * 12 `bgpControlPlane.enabled` false: no node configs, no speaker
 * Peering itself does not depend on any of 1-10: sessions come up and advertise nothing.
 * The legacy v1 control plane (CiliumBGPPeeringPolicy) runs instead of all this on the nodes a policy selects:
 * computeLegacyAgents below.
 *
 * Pure: the controller in cilium.ts feeds it the store's objects and writes the result.
 */
import { type Addr, formatIp, parseIp } from "./ip.ts";
import { type Condition, type KObj, nodeAddress } from "./obj.ts";
import { BGP_LB_CLASS, serviceSelectorLabels } from "./cilium-lbipam.ts";
import { type LabelSelector, selectorError, selectorMatches } from "./selectors.ts";

export type PeeringState = "unknown" | "idle" | "connect" | "active" | "open_sent" | "open_confirm" | "established";

export interface SessionRequest {
  node: string;
  /** the node address of the peer address's family (the TCP source), undefined when the node has none */
  localAddress: string | undefined;
  localASN: number;
  peerAddress: string;
  /** 0 = learn from the OPEN */
  peerASN: number;
  holdTimeSeconds: number;
}
export interface SessionAnswer {
  state: PeeringState;
  /** ASN the peer presented (for peerASN 0) */
  remoteASN?: number;
  /** address families the peer activated for this session, e.g. ["ipv4/unicast"] */
  families?: string[];
  /** hold time the peer offered (the applied one is the smaller) */
  holdTimeSeconds?: number;
}
/** What the agent needs to know of the other end of each session (implemented by router.ts). */
export interface PeerSide {
  session(req: SessionRequest): SessionAnswer;
}

export interface BgpWorld {
  /** Helm value bgpControlPlane.enabled of the installed Cilium (12) */
  enabled: boolean;
  nodes: KObj[];
  /** whether the Cilium agent runs on that node now */
  agentRunning(node: string): boolean;
  clusterConfigs: KObj[];
  peerConfigs: KObj[];
  advertisements: KObj[];
  nodeConfigOverrides: KObj[];
  peeringPolicies: KObj[];
  services: KObj[];
  pods: KObj[];
  peer: PeerSide;
  /**
   * Session timing: called with whether the other end would establish; returns the establishedTime once the
   * simulated set-up delay has passed (stable across calls), else undefined. key = `${node}/${instance}/${peer}`.
   */
  establishedAt(key: string, up: boolean): string | undefined;
  now: string;
}

export interface DesiredNodeConfig {
  name: string;
  owner: KObj;
  spec: { bgpInstances: unknown[] };
}
export interface OperatorResult {
  nodeConfigs: Map<string, DesiredNodeConfig>;
  clusterConditions: Map<string, Condition[]>;
}

/** The prefixes one node advertises to one peer, as the router will receive them. */
export interface Advertisement {
  node: string;
  instance: string;
  peer: string;
  localASN: number;
  localAddress: string;
  peerAddress: string;
  /** per family key `ipv4/unicast`: prefixes with their next hop */
  routes: Map<string, { prefix: string; nextHop: string }[]>;
}
export interface AgentResult {
  /** node -> status to write (absent: leave the status alone, the agent is not running there) */
  statuses: Map<string, { bgpInstances: unknown[] }>;
  advertisements: Advertisement[];
}

const nodeLabels = (n: KObj): Record<string, string> => n.metadata.labels ?? {};
const created = (o: KObj): string => o.metadata.creationTimestamp ?? "";

/** The operator: CiliumBGPClusterConfig -> CiliumBGPNodeConfig per node, with the ClusterConfig conditions. */
export function computeOperator(w: BgpWorld): OperatorResult {
  const nodeConfigs = new Map<string, DesiredNodeConfig>();
  const clusterConditions = new Map<string, Condition[]>();
  if (!w.enabled) return { nodeConfigs, clusterConditions };
  const configs = [...w.clusterConfigs].sort((a, b) => created(a).localeCompare(created(b)) || a.metadata.name.localeCompare(b.metadata.name));
  const peerConfigNames = new Set(w.peerConfigs.map((p) => p.metadata.name));
  for (const cc of configs) {
    const sel = cc.spec?.nodeSelector as LabelSelector | undefined;
    const selected = w.nodes.filter((n) => selectorMatches(sel, nodeLabels(n), true));
    const conflicts: string[] = [];
    const instances = ((cc.spec?.bgpInstances ?? []) as { name: string; localASN?: number; localPort?: number; peers?: { name: string; peerAddress?: string; peerASN?: number; peerConfigRef?: { name: string } }[] }[]).map((inst) => ({
      name: inst.name,
      ...(inst.localASN !== undefined ? { localASN: inst.localASN } : {}),
      ...(inst.localPort !== undefined ? { localPort: inst.localPort } : {}),
      peers: (inst.peers ?? []).map((p) => ({
        name: p.name,
        ...(p.peerAddress !== undefined ? { peerAddress: p.peerAddress } : {}),
        ...(p.peerASN !== undefined ? { peerASN: p.peerASN } : {}),
        ...(p.peerConfigRef ? { peerConfigRef: { group: "cilium.io", kind: "CiliumBGPPeerConfig", name: p.peerConfigRef.name } } : {}),
      })),
    }));
    for (const n of selected) {
      const existing = nodeConfigs.get(n.metadata.name);
      if (existing) {
        conflicts.push(existing.owner.metadata.name);
        continue;
      }
      const override = w.nodeConfigOverrides.find((o) => o.metadata.name === n.metadata.name);
      const specInstances = instances.map((inst) => {
        const ov = ((override?.spec?.bgpInstances ?? []) as { name: string; routerID?: string; localPort?: number }[]).find((o) => o.name === inst.name);
        return { ...inst, ...(ov?.routerID ? { routerID: ov.routerID } : {}), ...(ov?.localPort ? { localPort: ov.localPort } : {}) };
      });
      nodeConfigs.set(n.metadata.name, { name: n.metadata.name, owner: cc, spec: { bgpInstances: specInstances } });
    }
    const missing = [
      ...new Set(
        instances.flatMap((i) => i.peers.filter((p) => p.peerConfigRef && !peerConfigNames.has(p.peerConfigRef.name)).map((p) => p.peerConfigRef?.name ?? "")),
      ),
    ];
    clusterConditions.set(cc.metadata.name, [
      selected.length === 0
        ? { type: "cilium.io/NoMatchingNode", status: "True", reason: "NoMatchingNode", message: "No node matches spec.nodeSelector" }
        : { type: "cilium.io/NoMatchingNode", status: "False", reason: "NoMatchingNode", message: "" },
      missing.length > 0
        ? { type: "cilium.io/MissingPeerConfigs", status: "True", reason: "MissingPeerConfigs", message: `Referenced CiliumBGPPeerConfig(s) are missing: [${missing.join(" ")}]` }
        : { type: "cilium.io/MissingPeerConfigs", status: "False", reason: "MissingPeerConfigs", message: "" },
      conflicts.length > 0
        ? {
            type: "cilium.io/ConflictingClusterConfig",
            status: "True",
            reason: "ConflictingClusterConfigs",
            message: `Selecting the same node(s) with ClusterConfig(s): [${[...new Set(conflicts)].join(" ")}]`,
          }
        : { type: "cilium.io/ConflictingClusterConfig", status: "False", reason: "ConflictingClusterConfigs", message: "" },
    ]);
  }
  return { nodeConfigs, clusterConditions };
}

interface Family {
  afi: string;
  safi: string;
  advertisements?: LabelSelector;
}
const DEFAULT_FAMILIES: Family[] = [
  { afi: "ipv4", safi: "unicast" },
  { afi: "ipv6", safi: "unicast" },
];

function hasLocalEndpoint(svc: KObj, node: string, pods: KObj[]): boolean {
  const sel = svc.spec?.selector as Record<string, string> | undefined;
  if (!sel || Object.keys(sel).length === 0) return false;
  return pods.some(
    (p) =>
      (p.metadata.namespace ?? "default") === (svc.metadata.namespace ?? "default") &&
      p.spec?.nodeName === node &&
      p.status?.phase === "Running" &&
      Object.entries(sel).every(([k, v]) => p.metadata.labels?.[k] === v),
  );
}

/** The addresses one Service advertisement entry yields for `node` (rules 4, 5, 6, 10). */
function serviceAddresses(entry: { selector?: LabelSelector; service?: { addresses?: string[] } }, node: string, w: BgpWorld): Addr[] {
  if (!entry.selector || !entry.service) return [];
  const kinds = entry.service.addresses ?? [];
  const out: Addr[] = [];
  for (const svc of w.services) {
    if (!selectorMatches(entry.selector, serviceSelectorLabels(svc), false)) continue;
    const local = svc.spec?.externalTrafficPolicy === "Local";
    if (kinds.includes("LoadBalancerIP") && svc.spec?.type === "LoadBalancer") {
      const cls = svc.spec?.loadBalancerClass as string | undefined;
      if ((cls === undefined || cls === null || cls === BGP_LB_CLASS) && (!local || hasLocalEndpoint(svc, node, w.pods))) {
        for (const ing of (svc.status?.loadBalancer?.ingress ?? []) as { ip?: string }[]) {
          const a = ing.ip ? parseIp(ing.ip) : undefined;
          if (a) out.push(a);
        }
      }
    }
    if (kinds.includes("ClusterIP") && svc.spec?.type !== "ExternalName") {
      const itpLocal = svc.spec?.internalTrafficPolicy === "Local";
      if (!itpLocal || hasLocalEndpoint(svc, node, w.pods)) {
        const ips = (svc.spec?.clusterIPs ?? (svc.spec?.clusterIP ? [svc.spec.clusterIP] : [])) as string[];
        for (const ip of ips) {
          const a = ip !== "None" ? parseIp(ip) : undefined;
          if (a) out.push(a);
        }
      }
    }
    if (kinds.includes("ExternalIP") && (!local || hasLocalEndpoint(svc, node, w.pods))) {
      for (const ip of (svc.spec?.externalIPs ?? []) as string[]) {
        const a = parseIp(ip);
        if (a) out.push(a);
      }
    }
  }
  return out;
}

function prefixesFor(fam: Family, node: KObj, w: BgpWorld): string[] {
  if (!fam.advertisements) return []; // 2: a family without an advertisements selector advertises nothing
  const want = fam.afi === "ipv6" ? 6 : 4; // 9: a family only ever carries its own address family
  const adverts = w.advertisements.filter((a) => selectorMatches(fam.advertisements, a.metadata.labels, false)); // 3
  const out = new Set<string>();
  for (const adv of adverts) {
    for (const entry of (adv.spec?.advertisements ?? []) as { advertisementType?: string; selector?: LabelSelector; service?: { addresses?: string[] } }[]) {
      if (entry.advertisementType === "PodCIDR") {
        for (const cidr of (node.spec?.podCIDRs ?? (node.spec?.podCIDR ? [node.spec.podCIDR] : [])) as string[]) {
          if ((cidr.includes(":") ? 6 : 4) === want) out.add(cidr);
        }
      } else if (entry.advertisementType === "Service") {
        for (const a of serviceAddresses(entry, node.metadata.name, w)) if (a.family === want) out.add(`${formatIp(a)}/${want === 4 ? 32 : 128}`);
      }
      // CiliumPodIPPool: multi-pool IPAM is not used by this cluster; nothing to advertise.
    }
  }
  return [...out].sort();
}

// ---------------------------------------------------------------------------------------------------------------
// The legacy control plane (BGP v1, CiliumBGPPeeringPolicy): the agent's pkg/bgpv1 path, which runs INSTEAD of v2 on
// every node a policy selects. What it does, from cilium 1.17's agent/controller.go and manager/:
//  - a policy with an invalid nodeSelector, or a neighbor whose keepAlive exceeds its hold time, is dropped;
//  - a node selected by two (valid) policies gets no BGP at all ("more then one CiliumBGPPeeringPolicy applies"),
//    not even v2; selected by one, it runs that policy and ignores every v2 object;
//  - virtual routers are registered in order; at the first localASN seen before, registration stops: that router
//    and all after it never run (registerOrReconcileDiff's error is dropped by ConfigurePeers);
//  - a router announces: the node's PodCIDR when exportPodCIDR; the Services its serviceSelector selects when it has
//    one (nil selects none, {} all) for each address type of serviceAdvertisements (absent = [LoadBalancerIP],
//    [] = none), with the same Service rules as v2 (type, class, ingress, eTP=Local endpoints);
//  - a neighbor's families default to ipv4+ipv6 unicast; v1 writes no status anywhere.

interface V1Neighbor {
  peerAddress?: string;
  peerASN?: number;
  families?: Family[];
  holdTimeSeconds?: number;
  keepAliveTimeSeconds?: number;
}
interface V1Router {
  localASN?: number;
  exportPodCIDR?: boolean;
  serviceSelector?: LabelSelector;
  serviceAdvertisements?: string[];
  neighbors?: V1Neighbor[];
}

function policyUsable(p: KObj): boolean {
  if (selectorError(p.spec?.nodeSelector as LabelSelector | undefined)) return false;
  for (const vr of (p.spec?.virtualRouters ?? []) as V1Router[])
    for (const n of vr.neighbors ?? []) if ((n.keepAliveTimeSeconds ?? 30) > (n.holdTimeSeconds ?? 90)) return false;
  return true;
}

/** The usable policies that select `node` (one = v1 runs there; two or more = nothing runs there). */
function legacyPolicies(node: KObj, w: BgpWorld): KObj[] {
  return w.peeringPolicies.filter((p) => policyUsable(p) && selectorMatches(p.spec?.nodeSelector as LabelSelector | undefined, nodeLabels(node), true));
}

/** The v1 speakers: what each node a single policy selects announces to each neighbor. */
export function computeLegacyAgents(w: BgpWorld): Advertisement[] {
  const out: Advertisement[] = [];
  if (!w.enabled) return out;
  for (const node of w.nodes) {
    if (!w.agentRunning(node.metadata.name)) continue;
    const policies = legacyPolicies(node, w);
    if (policies.length !== 1) continue;
    const policy = policies[0]!;
    const seenASN = new Set<number | undefined>();
    for (const vr of (policy.spec?.virtualRouters ?? []) as V1Router[]) {
      if (seenASN.has(vr.localASN)) break;
      seenASN.add(vr.localASN);
      const localASN = vr.localASN ?? 0;
      for (const n of vr.neighbors ?? []) {
        const ip = (n.peerAddress ?? "").split("/")[0]!;
        const peerAddr = parseIp(ip);
        if (!peerAddr) continue;
        const localAddress = nodeAddress(node, peerAddr.family);
        if (!localAddress) continue;
        const answer = w.peer.session({ node: node.metadata.name, localAddress, localASN, peerAddress: ip, peerASN: n.peerASN ?? 0, holdTimeSeconds: n.holdTimeSeconds ?? 90 });
        const key = `${node.metadata.name}/v1:${policy.metadata.name}:${localASN}/${ip}`;
        if (w.establishedAt(key, answer.state === "established") === undefined) continue;
        const negotiated = new Set(answer.families ?? []);
        const routes = new Map<string, { prefix: string; nextHop: string }[]>();
        for (const fam of n.families ?? DEFAULT_FAMILIES) {
          const famKey = `${fam.afi}/${fam.safi}`;
          if (!negotiated.has(famKey)) continue;
          const want = fam.afi === "ipv6" ? 6 : 4;
          const prefixes = new Set<string>();
          if (vr.exportPodCIDR)
            for (const cidr of (node.spec?.podCIDRs ?? (node.spec?.podCIDR ? [node.spec.podCIDR] : [])) as string[]) if ((cidr.includes(":") ? 6 : 4) === want) prefixes.add(cidr);
          const kinds = vr.serviceAdvertisements ?? ["LoadBalancerIP"];
          if (vr.serviceSelector && kinds.length)
            for (const a of serviceAddresses({ selector: vr.serviceSelector, service: { addresses: kinds } }, node.metadata.name, w))
              if (a.family === want) prefixes.add(`${formatIp(a)}/${want === 4 ? 32 : 128}`);
          const nextHop = fam.afi === "ipv6" && peerAddr.family === 4 ? `::ffff:${localAddress}` : localAddress;
          routes.set(famKey, [...prefixes].sort().map((prefix) => ({ prefix, nextHop })));
        }
        out.push({ node: node.metadata.name, instance: `v1:${policy.metadata.name}:${localASN}`, peer: ip, localASN, localAddress, peerAddress: ip, routes });
      }
    }
  }
  return out;
}

/** The agents: each node's BGP speaker, what it advertises, and the status it reports. */
export function computeAgents(w: BgpWorld, nodeConfigs: KObj[]): AgentResult {
  const statuses = new Map<string, { bgpInstances: unknown[] }>();
  const advertisements: Advertisement[] = [];
  if (!w.enabled) return { statuses, advertisements };
  const nodesByName = new Map(w.nodes.map((n) => [n.metadata.name, n]));
  for (const nc of nodeConfigs) {
    const node = nodesByName.get(nc.metadata.name);
    if (!node || !w.agentRunning(node.metadata.name)) continue; // a dead agent reports nothing: the status goes stale
    if (legacyPolicies(node, w).length > 0) {
      // v1 runs here (or, under two policies, nothing does): the v2 NodeConfig stays without peers
      statuses.set(node.metadata.name, { bgpInstances: [] });
      continue;
    }
    const instances: unknown[] = [];
    for (const inst of (nc.spec?.bgpInstances ?? []) as { name: string; localASN?: number; peers?: { name: string; peerAddress?: string; peerASN?: number; peerConfigRef?: { name: string } }[] }[]) {
      const localASN = inst.localASN ?? 0;
      const peers: unknown[] = [];
      for (const p of inst.peers ?? []) {
        if (!p.peerAddress) continue; // 1.17 has no peer auto-discovery: a peer without address is skipped
        const peerAddr = parseIp(p.peerAddress);
        if (!peerAddr) continue;
        const pc = p.peerConfigRef ? w.peerConfigs.find((c) => c.metadata.name === p.peerConfigRef?.name) : undefined;
        const families: Family[] = pc && Array.isArray(pc.spec?.families) && pc.spec.families.length > 0 ? pc.spec.families : DEFAULT_FAMILIES; // 1, 2
        const hold = (pc?.spec?.timers?.holdTimeSeconds as number | undefined) ?? 90;
        const keepalive = (pc?.spec?.timers?.keepAliveTimeSeconds as number | undefined) ?? 30;
        const localAddress = nodeAddress(node, peerAddr.family);
        const key = `${node.metadata.name}/${inst.name}/${p.name}`;
        const answer = localAddress
          ? w.peer.session({ node: node.metadata.name, localAddress, localASN, peerAddress: p.peerAddress, peerASN: p.peerASN ?? 0, holdTimeSeconds: hold })
          : ({ state: "active" } as SessionAnswer);
        const since = w.establishedAt(key, answer.state === "established");
        const established = since !== undefined;
        const state: PeeringState = established ? "established" : answer.state === "established" ? "open_confirm" : answer.state;
        const routeCount: { afi: string; safi: string; advertised: number; received: number }[] = [];
        const routes = new Map<string, { prefix: string; nextHop: string }[]>();
        if (established && localAddress) {
          const negotiated = new Set(answer.families ?? []);
          for (const fam of families) {
            const famKey = `${fam.afi}/${fam.safi}`;
            const prefixes = negotiated.has(famKey) ? prefixesFor(fam, node, w) : [];
            const sessionV4 = peerAddr.family === 4;
            const nextHop = fam.afi === "ipv6" && sessionV4 ? `::ffff:${localAddress}` : localAddress; // 9: IPv4-mapped next hop
            routes.set(famKey, prefixes.map((prefix) => ({ prefix, nextHop })));
            routeCount.push({ afi: fam.afi, safi: fam.safi, advertised: prefixes.length, received: 0 });
          }
          advertisements.push({
            node: node.metadata.name,
            instance: inst.name,
            peer: p.name,
            localASN,
            localAddress,
            peerAddress: p.peerAddress,
            routes,
          });
        }
        const appliedHold = Math.min(hold, answer.holdTimeSeconds ?? hold);
        peers.push({
          name: p.name,
          peerAddress: p.peerAddress,
          ...(answer.remoteASN !== undefined || p.peerASN ? { peerASN: answer.remoteASN ?? p.peerASN } : {}),
          peeringState: state,
          ...(established ? { establishedTime: since, timers: { appliedHoldTimeSeconds: appliedHold, appliedKeepaliveSeconds: Math.min(keepalive, Math.floor(appliedHold / 3)) } } : {}),
          ...(established ? { routeCount } : {}),
        });
      }
      instances.push({ name: inst.name, ...(inst.localASN !== undefined ? { localASN: inst.localASN } : {}), peers });
    }
    statuses.set(node.metadata.name, { bgpInstances: instances });
  }
  return { statuses, advertisements };
}
