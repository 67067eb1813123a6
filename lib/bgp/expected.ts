/**
 * What Cilium should advertise to whom: for every node, every BGP peer it should have and every address family,
 * the LoadBalancer IPs (as host routes) that must reach the router — and, where Cilium's configuration keeps one
 * from being advertised, which of the numbered causes (causes.ts) does it, evaluated the way Cilium 1.17's BGP v2
 * control plane does (first failing link of the chain ClusterConfig -> peer -> PeerConfig family -> Advertisement
 * -> Service).
 */
import { blockRange, contains, family as familyOf, isIP, normaliseIP } from "../net/index.ts";
import { causeInfo, type CauseId } from "./causes.ts";
import { formatSelector, selectorError, selectorMatches } from "../kube/selector.ts";
import {
  BGP_LB_CLASS,
  afiOfFamilyName,
  type AdvertisementInput,
  type Afi,
  type BgpInputs,
  type BgpNodeInput,
  type ClusterConfigInput,
  type PoolInput,
  type ServiceInput,
} from "./types.ts";

export interface Diagnosis {
  cause: CauseId;
  title: string;
  /** what is wrong, naming the objects */
  message: string;
  fix: string;
}

export function diagnosis(cause: CauseId, message: string, fix?: string): Diagnosis {
  const info = causeInfo(cause);
  return { cause, title: info.title, message, fix: fix ?? info.fix };
}

/** A BGP peer a node has (or should have): one peer of one instance of a CiliumBGPClusterConfig. */
export interface PeerSlot {
  clusterConfig?: string;
  instance: string;
  peer: string;
  peerAddress?: string;
  peerASN?: number;
  localASN?: number;
  /** transport family of the session (from peerAddress); undefined when the address is not set */
  afi?: Afi;
  peerConfigRef?: string;
}

export interface IntendedPrefix {
  /** namespace/name */
  service: string;
  ip: string;
  /** host route: ip/32 or ip/128 */
  prefix: string;
  afi: Afi;
}

export interface Expectation {
  node: string;
  slot: PeerSlot;
  afi: Afi;
  service: string;
  prefix: string;
  /** set when Cilium's configuration keeps this prefix from being advertised */
  blocked?: Diagnosis;
}

export interface ServiceIssue {
  service: string;
  afi?: Afi;
  diagnosis: Diagnosis;
}

export interface ExpectedAdvertisements {
  expectations: Expectation[];
  /** problems of a Service as a whole (no IP assigned, no local endpoint, wrong type) */
  serviceIssues: ServiceIssue[];
  /** (node, slot) pairs, including those with nothing to advertise, for the table */
  slots: Array<{ node: string; slot: PeerSlot }>;
  notes: string[];
}

const SYNTHETIC_NAME = "io.kubernetes.service.name";
const SYNTHETIC_NAMESPACE = "io.kubernetes.service.namespace";

export function serviceKey(s: Pick<ServiceInput, "namespace" | "name">): string {
  return `${s.namespace}/${s.name}`;
}

/** Labels Cilium matches Service selectors against: the Service's own plus the synthetic name/namespace keys. */
export function serviceSelectorLabels(s: ServiceInput): Record<string, string> {
  return { ...s.labels, [SYNTHETIC_NAME]: s.name, [SYNTHETIC_NAMESPACE]: s.namespace };
}

export function hostRoute(ip: string): { prefix: string; afi: Afi; ip: string } {
  const norm = normaliseIP(ip);
  const afi = familyOf(norm);
  return { prefix: `${norm}/${afi === "ipv4" ? 32 : 128}`, afi, ip: norm };
}

function wantedFamilies(s: ServiceInput): Afi[] {
  const fams = (s.ipFamilies ?? []).map(afiOfFamilyName).filter((f): f is Afi => f !== undefined);
  return fams.length ? [...new Set(fams)] : ["ipv4"];
}

function poolFamilies(p: PoolInput): Set<Afi> {
  const out = new Set<Afi>();
  for (const b of p.blocks) {
    try {
      out.add(blockRange(b).family);
    } catch {
      /* a malformed block is the repo checks' finding, not ours */
    }
  }
  return out;
}

function poolHolds(p: PoolInput, ip: string): boolean {
  return p.blocks.some((b) => {
    try {
      return contains(blockRange(b), ip);
    } catch {
      return false;
    }
  });
}

/**
 * The Service condition LB-IPAM writes: Cilium 1.17 names it `cilium.io/IPAMRequestSatisfied` (reasons satisfied,
 * no_pool, out_of_ips); older releases wrote `io.cilium/lb-ipam-request-satisfied`. Both are read.
 */
const LB_IPAM_CONDITIONS = new Set(["cilium.io/IPAMRequestSatisfied", "io.cilium/lb-ipam-request-satisfied"]);

/** Why LB-IPAM gave `s` no address of family `afi` (cause 7), in words. */
function unassignedReason(s: ServiceInput, afi: Afi, pools: PoolInput[]): string {
  const labels = serviceSelectorLabels(s);
  const ofFamily = pools.filter((p) => poolFamilies(p).has(afi));
  const selecting = ofFamily.filter((p) => selectorMatches(p.serviceSelector, labels, "all"));
  const condition = (s.conditions ?? []).find((c) => LB_IPAM_CONDITIONS.has(c.type) && c.status !== "True");
  const said = condition ? ` (Service condition: ${condition.reason ?? ""}${condition.message ? ` ${condition.message}` : ""})` : "";
  if (ofFamily.length === 0) return `no CiliumLoadBalancerIPPool has ${afi} addresses${said}`;
  if (selecting.length === 0)
    return `no ${afi} pool's serviceSelector matches it (${ofFamily.map((p) => `${p.name}: ${formatSelector(p.serviceSelector)}`).join("; ")})${said}`;
  const enabled = selecting.filter((p) => !p.disabled);
  if (enabled.length === 0) return `the ${afi} pool(s) selecting it are disabled: ${selecting.map((p) => p.name).join(", ")}${said}`;
  const requested = s.requestedIPs.filter((ip) => isIP(ip) && familyOf(ip) === afi);
  const outside = requested.filter((ip) => !enabled.some((p) => poolHolds(p, ip)));
  if (outside.length) return `the requested IP ${outside.join(", ")} lies in no enabled pool that selects it${said}`;
  return `pool ${enabled.map((p) => p.name).join(", ")} selects it but assigned nothing (exhausted, or a requested IP is taken)${said}`;
}

interface IntendedService {
  service: ServiceInput;
  prefixes: IntendedPrefix[];
}

/** The LoadBalancer IPs that must be advertised, and the Services that should have had one but do not. */
export function intendedPrefixes(inputs: BgpInputs): { intended: IntendedService[]; issues: ServiceIssue[]; notes: string[] } {
  const intended: IntendedService[] = [];
  const issues: ServiceIssue[] = [];
  const notes: string[] = [];
  for (const s of inputs.services) {
    const key = serviceKey(s);
    const isLB = s.type === "LoadBalancer";
    if (!isLB && s.requestedIPs.length === 0) continue;
    if (isLB && s.loadBalancerClass !== undefined && s.loadBalancerClass !== BGP_LB_CLASS) {
      notes.push(`${key}: loadBalancerClass ${s.loadBalancerClass} is not announced by BGP (cause 5), not expected at the router`);
      continue;
    }
    if (!isLB) {
      issues.push({
        service: key,
        diagnosis: diagnosis(5, `Service ${key} asks LB-IPAM for ${s.requestedIPs.join(", ")} but is type ${s.type}, not LoadBalancer`, `set \`type: LoadBalancer\` on Service ${key}`),
      });
      continue;
    }
    const prefixes: IntendedPrefix[] = [];
    const poolsForService = inputs.pools;
    if (s.ingressIPs !== undefined) {
      for (const ip of s.ingressIPs) if (isIP(ip)) prefixes.push({ service: key, ...hostRoute(ip) });
      for (const afi of wantedFamilies(s)) {
        if (prefixes.some((p) => p.afi === afi)) continue;
        issues.push({
          service: key,
          afi,
          diagnosis: diagnosis(7, `Service ${key} has no ${afi} LoadBalancer IP: ${unassignedReason(s, afi, poolsForService)}`),
        });
      }
    } else {
      // Offline (from the repo): only requested IPs are known in advance.
      const labels = serviceSelectorLabels(s);
      for (const ip of s.requestedIPs) {
        if (!isIP(ip)) continue;
        const ok = inputs.pools.some((p) => !p.disabled && selectorMatches(p.serviceSelector, labels, "all") && poolHolds(p, ip));
        if (ok) prefixes.push({ service: key, ...hostRoute(ip) });
        else {
          const afi = familyOf(ip);
          issues.push({ service: key, afi, diagnosis: diagnosis(7, `Service ${key}: ${unassignedReason(s, afi, poolsForService)}`) });
        }
      }
      if (s.requestedIPs.length === 0) notes.push(`${key}: its IP is picked by LB-IPAM at run time; check it live`);
    }
    if (s.externalTrafficPolicy === "Local" && s.localEndpointNodes !== undefined && s.localEndpointNodes.length === 0 && prefixes.length) {
      issues.push({
        service: key,
        diagnosis: diagnosis(6, `Service ${key} has externalTrafficPolicy: Local and no node has a ready endpoint, so no node advertises ${prefixes.map((p) => p.ip).join(", ")}`),
      });
      continue;
    }
    if (prefixes.length) intended.push({ service: s, prefixes });
  }
  return { intended, issues, notes };
}

function clusterConfigsFor(node: BgpNodeInput, inputs: BgpInputs): ClusterConfigInput[] {
  return inputs.clusterConfigs.filter((cc) => selectorMatches(cc.spec.nodeSelector, node.labels, "all"));
}

function slotsOf(cc: ClusterConfigInput): PeerSlot[] {
  const out: PeerSlot[] = [];
  for (const inst of cc.spec.bgpInstances) {
    for (const p of inst.peers ?? []) {
      const slot: PeerSlot = { clusterConfig: cc.name, instance: inst.name, peer: p.name };
      if (p.peerAddress) {
        slot.peerAddress = p.peerAddress;
        if (isIP(p.peerAddress)) slot.afi = familyOf(p.peerAddress);
      }
      if (p.peerASN !== undefined) slot.peerASN = p.peerASN;
      if (inst.localASN !== undefined) slot.localASN = inst.localASN;
      if (p.peerConfigRef?.name) slot.peerConfigRef = p.peerConfigRef.name;
      out.push(slot);
    }
  }
  return out;
}

/** Node-level blockers (causes 12 and 8) and the peers the node has or should have had. */
function nodeSlots(node: BgpNodeInput, inputs: BgpInputs): { slots: PeerSlot[]; blocked?: Diagnosis } {
  const ccs = clusterConfigsFor(node, inputs);
  const allSlots = () => {
    const seen = new Set<string>();
    const out: PeerSlot[] = [];
    for (const cc of inputs.clusterConfigs)
      for (const s of slotsOf(cc)) {
        const k = `${s.peer}|${s.peerAddress ?? ""}`;
        if (!seen.has(k)) (seen.add(k), out.push(s));
      }
    const none: PeerSlot = { instance: "-", peer: "(none)" };
    return out.length ? out : [none];
  };
  if (inputs.controlPlaneEnabled === false)
    return {
      slots: ccs.length === 1 ? slotsOf(ccs[0]!) : allSlots(),
      blocked: diagnosis(12, "Cilium's Helm values have bgpControlPlane.enabled: false (or unset), so no node runs BGP"),
    };
  const policy = inputs.peeringPolicies.find((p) => selectorMatches(p.nodeSelector, node.labels, "all"));
  if (policy)
    return {
      slots: ccs.length === 1 ? slotsOf(ccs[0]!) : allSlots(),
      blocked: diagnosis(8, `the legacy CiliumBGPPeeringPolicy ${policy.name} selects node ${node.name} and wins over the BGP v2 objects`, `delete CiliumBGPPeeringPolicy ${policy.name}`),
    };
  if (ccs.length === 0) {
    const msg = inputs.clusterConfigs.length
      ? `no CiliumBGPClusterConfig's nodeSelector matches node ${node.name} (${inputs.clusterConfigs.map((c) => `${c.name}: ${formatSelector(c.spec.nodeSelector)}`).join("; ")})`
      : "there is no CiliumBGPClusterConfig";
    return { slots: allSlots(), blocked: diagnosis(8, msg) };
  }
  if (ccs.length > 1)
    return {
      slots: allSlots(),
      blocked: diagnosis(8, `CiliumBGPClusterConfigs ${ccs.map((c) => c.name).join(" and ")} both select node ${node.name} (ConflictingClusterConfig)`, "make the nodeSelectors disjoint"),
    };
  const slots = slotsOf(ccs[0]!);
  if (slots.length === 0)
    return {
      slots: [{ clusterConfig: ccs[0]!.name, instance: ccs[0]!.spec.bgpInstances[0]?.name ?? "-", peer: "(none)" }],
      blocked: diagnosis(1, `CiliumBGPClusterConfig ${ccs[0]!.name} defines no peers`, "add a peer with peerAddress, peerASN and peerConfigRef"),
    };
  return { slots };
}

interface ServiceEntry {
  ad: string;
  selector?: AdvertisementInput["spec"]["advertisements"][number]["selector"];
  addresses?: string[];
}

/** Checks the slot's PeerConfig for family `afi`; returns the Service advertisement entries it selects, or why none. */
function familyEntries(slot: PeerSlot, afi: Afi, inputs: BgpInputs): ServiceEntry[] | Diagnosis {
  const ref = slot.peerConfigRef;
  if (!ref) return diagnosis(1, `peer ${slot.peer} of CiliumBGPClusterConfig ${slot.clusterConfig ?? "?"} has no peerConfigRef`);
  const pc = inputs.peerConfigs.find((p) => p.name === ref);
  if (!pc) return diagnosis(1, `peer ${slot.peer} refers to CiliumBGPPeerConfig ${ref}, which does not exist (MissingPeerConfigs)`, `create CiliumBGPPeerConfig ${ref} or fix peerConfigRef.name`);
  const families = pc.spec.families ?? [];
  if (families.length === 0)
    return diagnosis(2, `CiliumBGPPeerConfig ${pc.name} has no families, so it defaults to ipv4+ipv6 unicast with NO advertisements`);
  const fam = families.find((f) => afiOfFamilyName(f.afi) === afi && f.safi.toLowerCase() === "unicast");
  if (!fam) {
    const have = families.map((f) => `${f.afi}/${f.safi}`).join(", ");
    return afi === "ipv6"
      ? diagnosis(9, `CiliumBGPPeerConfig ${pc.name} has only ${have}: IPv6 LoadBalancer IPs are never sent`, `add {afi: ipv6, safi: unicast, advertisements: ...} to CiliumBGPPeerConfig ${pc.name}`)
      : diagnosis(2, `CiliumBGPPeerConfig ${pc.name} has no ipv4 unicast family (only ${have})`);
  }
  if (!fam.advertisements)
    return diagnosis(2, `the ${afi} family of CiliumBGPPeerConfig ${pc.name} has no advertisements selector: nothing is advertised`);
  const ads = inputs.advertisements.filter((a) => selectorMatches(fam.advertisements, a.labels, "none"));
  if (ads.length === 0) {
    const labels = inputs.advertisements.map((a) => `${a.name}: ${formatSelector({ matchLabels: a.labels })}`).join("; ");
    return diagnosis(
      3,
      `the ${afi} family of CiliumBGPPeerConfig ${pc.name} selects advertisements by ${formatSelector(fam.advertisements)}, which no CiliumBGPAdvertisement carries (${labels || "there are none"})`,
    );
  }
  const entries: ServiceEntry[] = [];
  for (const ad of ads)
    for (const e of ad.spec.advertisements)
      if (e.advertisementType === "Service") entries.push({ ad: ad.name, selector: e.selector, addresses: e.service?.addresses });
  if (entries.length === 0)
    return diagnosis(4, `CiliumBGPAdvertisement ${ads.map((a) => a.name).join(", ")} (selected by CiliumBGPPeerConfig ${pc.name}) has no Service advertisement`, "add an advertisement `{advertisementType: Service, service: {addresses: [LoadBalancerIP]}, selector: ...}`");
  return entries;
}

/** Whether one of `entries` advertises Service `s`'s LoadBalancer IP, or why not (causes 4, 5, 10). */
function serviceBlocked(entries: ServiceEntry[], s: ServiceInput): Diagnosis | undefined {
  const key = serviceKey(s);
  const complete = entries.filter((e) => e.selector !== undefined && e.addresses !== undefined);
  if (complete.length === 0) {
    const e = entries[0]!;
    return diagnosis(4, `the Service advertisement in CiliumBGPAdvertisement ${e.ad} has ${e.selector === undefined ? "no selector" : "no service block"}, which matches no Service`);
  }
  const lb = complete.filter((e) => e.addresses!.includes("LoadBalancerIP"));
  if (lb.length === 0)
    return diagnosis(5, `the Service advertisement in ${complete.map((e) => e.ad).join(", ")} lists addresses ${complete.map((e) => e.addresses!.join("+") || "(none)").join(", ")} without LoadBalancerIP`, "add LoadBalancerIP to service.addresses");
  const valid = lb.filter((e) => selectorError(e.selector) === undefined);
  if (valid.length === 0) {
    const e = lb[0]!;
    return diagnosis(4, `the selector of the Service advertisement in ${e.ad} is invalid (${selectorError(e.selector)}), so it matches nothing (cilium#23280)`);
  }
  const labels = serviceSelectorLabels(s);
  if (valid.some((e) => selectorMatches(e.selector, labels, "none"))) return undefined;
  const own = Object.entries(s.labels).map(([k, v]) => `${k}=${v}`).join(",") || "none";
  return diagnosis(
    10,
    `the Service advertisement selector ${valid.map((e) => `${formatSelector(e.selector)} (${e.ad})`).join(", ")} matches no label of Service ${key} (its labels: ${own})`,
    `label Service ${key} with the advertisement's selector (and use the same label in its pool's serviceSelector)`,
  );
}

/**
 * Every (node, peer, family, prefix) that should reach the router, with the configuration cause that keeps it
 * from being advertised where there is one.
 */
export function expectedAdvertisements(inputs: BgpInputs): ExpectedAdvertisements {
  const { intended, issues, notes } = intendedPrefixes(inputs);
  const expectations: Expectation[] = [];
  const slotsOut: ExpectedAdvertisements["slots"] = [];
  for (const node of inputs.nodes) {
    const { slots, blocked: nodeBlocked } = nodeSlots(node, inputs);
    for (const slot of slots) slotsOut.push({ node: node.name, slot });
    const familyCache = new Map<string, ServiceEntry[] | Diagnosis>();
    const serviceCache = new Map<string, Diagnosis | undefined>();
    for (const { service, prefixes } of intended) {
      if (service.externalTrafficPolicy === "Local" && service.localEndpointNodes && !service.localEndpointNodes.includes(node.name)) continue;
      for (const p of prefixes) {
        // The peers that carry this family: sessions of the same family; without any, every session (cause 9).
        const sameFamily = slots.filter((s) => s.afi === undefined || s.afi === p.afi);
        const carriers = sameFamily.length ? sameFamily : slots;
        for (const slot of carriers) {
          const e: Expectation = { node: node.name, slot, afi: p.afi, service: p.service, prefix: p.prefix };
          let blocked = nodeBlocked;
          if (!blocked) {
            const ck = `${slot.clusterConfig}|${slot.instance}|${slot.peer}|${p.afi}`;
            let entries = familyCache.get(ck);
            if (!entries) familyCache.set(ck, (entries = familyEntries(slot, p.afi, inputs)));
            if (Array.isArray(entries)) {
              const sk = `${ck}|${p.service}`;
              if (!serviceCache.has(sk)) serviceCache.set(sk, serviceBlocked(entries, service));
              blocked = serviceCache.get(sk);
            } else blocked = entries;
          }
          if (!blocked && slot.afi !== undefined && slot.afi !== p.afi)
            blocked = diagnosis(
              9,
              `${p.prefix} would ride the ${slot.afi} session to ${slot.peerAddress} (peer ${slot.peer}); there is no ${p.afi} peer, so the next hop is unusable (cilium#37831)`,
              `add a second peer with an ${p.afi} peerAddress to the CiliumBGPClusterConfig`,
            );
          if (blocked) e.blocked = blocked;
          expectations.push(e);
        }
      }
    }
  }
  return { expectations, serviceIssues: issues, slots: slotsOut, notes };
}
