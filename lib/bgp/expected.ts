/**
 * The rulebook's second half: which BGP speaker runs on each node (the legacy v1 CiliumBGPPeeringPolicy, the v2
 * CiliumBGPClusterConfig, or none, and why), and for every node, peer, address family and LoadBalancer Service what
 * must reach the router — or which numbered cause (causes.ts) keeps it from being advertised. Evaluated the way
 * Cilium 1.17 does: v1 first (cc pkg/bgpv1/agent/controller.go), then the v2 chain ClusterConfig -> peer ->
 * PeerConfig family -> Advertisement -> Service (cc pkg/bgpv1/manager/reconcilerv2/).
 *
 * Each check is one function used by both views: the per-route expectations here (bgp-verify) and the per-object
 * diagnoses of rules.ts (validate).
 */
import { family as familyOf, isIP } from "../net/index.ts";
import { formatSelector, selectorError, selectorMatches } from "../kube/selector.ts";
import { diagnose, diagnosis, type Diagnosis } from "./diagnosis.ts";
import { bgpAnnouncesClass, hostRoute, lbIpam, serviceKey, serviceRef, serviceSelectorLabels } from "./lbipam.ts";
import {
  afiOfFamilyName,
  type AdvertisementInput,
  type Afi,
  type BgpInputs,
  type BgpNodeInput,
  type ClusterConfigInput,
  type ObjectRef,
  type PeeringPolicyInput,
  type ServiceInput,
  type V1NeighborInput,
  type VirtualRouterInput,
} from "./types.ts";

export { diagnosis, type Diagnosis } from "./diagnosis.ts";
export { hostRoute, serviceKey, serviceSelectorLabels } from "./lbipam.ts";

/** A BGP peer a node has (or should have): a v2 ClusterConfig instance's peer, or a v1 virtual router's neighbor. */
export interface PeerSlot {
  clusterConfig?: string;
  /** v1: the CiliumBGPPeeringPolicy and the index of its virtual router */
  policy?: string;
  virtualRouter?: number;
  instance: string;
  peer: string;
  peerAddress?: string;
  peerASN?: number;
  localASN?: number;
  /** transport family of the session (from peerAddress); undefined when the address is not set */
  afi?: Afi;
  peerConfigRef?: string;
}

export interface Expectation {
  node: string;
  slot: PeerSlot;
  afi: Afi;
  service: string;
  /** host route ip/32 or ip/128; from the repo without a requested IP: `<afi> address of pool <name>` */
  prefix: string;
  /** set when the address is picked by LB-IPAM at run time: any address of this pool stands for it */
  pool?: string;
  /** set when Cilium's configuration keeps this prefix from being advertised */
  blocked?: Diagnosis;
}

export interface ServiceIssue {
  service: string;
  /** address family: ipv4 or ipv6 */
  family?: Afi;
  diagnosis: Diagnosis;
}

export interface ExpectedAdvertisements {
  expectations: Expectation[];
  /** problems of a Service as a whole (no IP assigned, no local endpoint, wrong type) */
  serviceIssues: ServiceIssue[];
  /** (node, slot) pairs, including those with nothing to advertise, for the table */
  slots: Array<{ node: string; slot: PeerSlot }>;
  /** per node: the speaker that runs there, and a problem that does not block routes (v1 winning over v2) */
  speakers: Array<{ node: string; kind: "v1" | "v2" | "none"; object?: string; warning?: Diagnosis }>;
  notes: string[];
}

export const ccRef = (c: Pick<ClusterConfigInput, "name">): ObjectRef => ({ kind: "CiliumBGPClusterConfig", name: c.name });
export const policyRef = (p: Pick<PeeringPolicyInput, "name">): ObjectRef => ({ kind: "CiliumBGPPeeringPolicy", name: p.name });
export const pcRef = (name: string): ObjectRef => ({ kind: "CiliumBGPPeerConfig", name });
export const adRef = (a: Pick<AdvertisementInput, "name">): ObjectRef => ({ kind: "CiliumBGPAdvertisement", name: a.name });
export const CILIUM_RELEASE: ObjectRef = { kind: "HelmRelease", name: "cilium" };

/** The LoadBalancer Services the BGP control plane would announce (LB-IPAM serves them, class unset or BGP's). */
export function announcedServices(inputs: Pick<BgpInputs, "services">): ServiceInput[] {
  return inputs.services.filter((s) => s.type === "LoadBalancer" && bgpAnnouncesClass(s));
}

// ---------------------------------------------------------------------------------------------------------------
// BGP v1: CiliumBGPPeeringPolicy

/** v1 defaults (cc pkg/k8s/apis/cilium.io/v2alpha1/bgp_types.go): keepAlive 30 s, hold 90 s. */
const V1_DEFAULT_HOLD = 90;
const V1_DEFAULT_KEEPALIVE = 30;

/** Why the agent rejects a whole policy (cause 16), or undefined (cc pkg/bgpv1/agent/controller.go). */
export function policyRejected(p: PeeringPolicyInput): Diagnosis | undefined {
  const err = selectorError(p.nodeSelector);
  if (err) return diagnose("policy-invalid", `CiliumBGPPeeringPolicy ${p.name}'s nodeSelector is invalid (${err}): the policy is skipped on every node`, [policyRef(p)], { path: ["spec", "nodeSelector"] });
  for (const [i, vr] of p.virtualRouters.entries())
    for (const [j, n] of vr.neighbors.entries()) {
      const hold = n.holdTimeSeconds ?? V1_DEFAULT_HOLD;
      const keep = n.keepAliveTimeSeconds ?? V1_DEFAULT_KEEPALIVE;
      if (keep > hold)
        return diagnose("policy-invalid", `CiliumBGPPeeringPolicy ${p.name}: neighbor ${n.peerAddress} has keepAliveTimeSeconds ${keep} > holdTimeSeconds ${hold}, so the agent rejects the whole policy`, [policyRef(p)], { path: ["spec", "virtualRouters", i, "neighbors", j] });
    }
  return undefined;
}

/**
 * The index of the first virtual router whose localASN repeats an earlier one: it and every later router never run
 * (cause 14; cc pkg/bgpv1/manager/workdiff.go registerOrReconcileDiff stops there, manager.go ignores the error).
 */
export function firstDuplicateASN(p: PeeringPolicyInput): number | undefined {
  const seen = new Set<number | undefined>();
  for (const [i, vr] of p.virtualRouters.entries()) {
    if (seen.has(vr.localASN)) return i;
    seen.add(vr.localASN);
  }
  return undefined;
}

export function duplicateASNDiagnosis(p: PeeringPolicyInput, dup: number): Diagnosis {
  const vr = p.virtualRouters[dup]!;
  const later = p.virtualRouters.length - dup - 1;
  return diagnose(
    "duplicate-local-asn",
    `CiliumBGPPeeringPolicy ${p.name}: virtual router ${dup} repeats localASN ${vr.localASN ?? "(unset)"}: it${later ? ` and the ${later} after it` : ""} never run (only the routers before it peer)`,
    [policyRef(p)],
    { path: ["spec", "virtualRouters", dup, "localASN"] },
  );
}

/** The neighbor address without its /32 or /128 (v1 writes it as a CIDR). */
export function v1PeerIP(n: Pick<V1NeighborInput, "peerAddress">): string {
  return n.peerAddress.replace(/\/\d+$/, "");
}

function v1Slots(p: PeeringPolicyInput): Array<{ slot: PeerSlot; router: VirtualRouterInput; neighbor: V1NeighborInput; blocked?: Diagnosis }> {
  const dup = firstDuplicateASN(p);
  const out: ReturnType<typeof v1Slots> = [];
  p.virtualRouters.forEach((vr, i) =>
    vr.neighbors.forEach((n) => {
      const ip = v1PeerIP(n);
      const slot: PeerSlot = { policy: p.name, virtualRouter: i, instance: `${p.name}/${vr.localASN ?? "?"}`, peer: ip, peerAddress: ip };
      if (isIP(ip)) slot.afi = familyOf(ip);
      if (n.peerASN !== undefined) slot.peerASN = n.peerASN;
      if (vr.localASN !== undefined) slot.localASN = vr.localASN;
      out.push({ slot, router: vr, neighbor: n, ...(dup !== undefined && i >= dup ? { blocked: duplicateASNDiagnosis(p, dup) } : {}) });
    }),
  );
  return out;
}

/** What is wrong with a virtual router's Service announcement as a whole (causes 15, 5, 4), or undefined. */
export function v1RouterProblem(p: PeeringPolicyInput, i: number): Diagnosis | undefined {
  const vr = p.virtualRouters[i]!;
  const at = ["spec", "virtualRouters", i];
  if (vr.serviceSelector === undefined)
    return diagnose("nil-service-selector", `virtual router ${i} (localASN ${vr.localASN ?? "?"}) of CiliumBGPPeeringPolicy ${p.name} has no serviceSelector: it announces no Service`, [policyRef(p)], { path: at });
  if (vr.serviceAdvertisements !== undefined && !vr.serviceAdvertisements.includes("LoadBalancerIP"))
    return diagnose("v1-service-advertisements", `virtual router ${i} of CiliumBGPPeeringPolicy ${p.name} sets serviceAdvertisements to [${vr.serviceAdvertisements.join(", ")}], without LoadBalancerIP: LB IPs are never announced`, [policyRef(p)], { path: [...at, "serviceAdvertisements"] });
  const err = selectorError(vr.serviceSelector);
  if (err) {
    const j = (vr.serviceSelector.matchExpressions ?? []).findIndex((r) => selectorError({ matchExpressions: [r] }) !== undefined);
    return diagnose("empty-values", `the serviceSelector of virtual router ${i} of CiliumBGPPeeringPolicy ${p.name} is invalid (${err}), so it matches nothing (cilium#23280)`, [policyRef(p)], { path: [...at, "serviceSelector", "matchExpressions", Math.max(j, 0)] });
  }
  return undefined;
}

/** Cause 10 for a selector that announces nothing: the selector object itself when it matches no announced Service at all, else the Service. */
function selectorMisses(s: ServiceInput, inputs: BgpInputs, sel: NonNullable<VirtualRouterInput["serviceSelector"]>, owner: ObjectRef, path: Array<string | number>): Diagnosis {
  const anyMatch = announcedServices(inputs).some((x) => selectorMatches(sel, serviceSelectorLabels(x), "none"));
  const own = Object.entries(s.labels).map(([k, v]) => `${k}=${v}`).join(",") || "none";
  if (!anyMatch) return selectorMatchesNothing(owner, sel, inputs, path);
  return diagnose(
    "service-not-advertised",
    `LoadBalancer Service ${serviceKey(s)} (labels: ${own}) is matched by no selector of ${owner.kind} ${owner.name} (${formatSelector(sel)}): its IP is never announced`,
    [serviceRef(s), owner],
    { fix: `label Service ${serviceKey(s)} with the selector's label (and use the same label in its pool's serviceSelector)` },
  );
}

const POOLISH = /pool/i;
/** A selector matching no announced Service: by pool (cause 10's classic) or by labels no Service carries. */
export function selectorMatchesNothing(owner: ObjectRef, sel: NonNullable<VirtualRouterInput["serviceSelector"]>, inputs: Pick<BgpInputs, "pools">, path: Array<string | number>): Diagnosis {
  const poolNames = new Set(inputs.pools.map((p) => p.name));
  const mentionsPool =
    Object.entries(sel.matchLabels ?? {}).some(([k, v]) => poolNames.has(v) || POOLISH.test(k)) ||
    (sel.matchExpressions ?? []).some((e) => POOLISH.test(e.key) || (e.values ?? []).some((v) => poolNames.has(v)));
  return mentionsPool
    ? diagnose("selects-by-pool", `${owner.kind} ${owner.name} tries to select by pool (${formatSelector(sel)}), but the selector matches Service labels only and no LoadBalancer Service carries them`, [owner], { path })
    : diagnose("selector-matches-no-service", `${owner.kind} ${owner.name}'s selector (${formatSelector(sel)}) matches no LoadBalancer Service: nothing is announced`, [owner], { path });
}

function v1FamilyBlocked(p: PeeringPolicyInput, slot: PeerSlot, n: V1NeighborInput, afi: Afi): Diagnosis | undefined {
  if (!n.families) return undefined; // default: ipv4 + ipv6 unicast
  if (n.families.some((f) => afiOfFamilyName(f.afi) === afi && f.safi.toLowerCase() === "unicast")) return undefined;
  const j = p.virtualRouters[slot.virtualRouter!]!.neighbors.indexOf(n);
  const path = ["spec", "virtualRouters", slot.virtualRouter!, "neighbors", j, "families"];
  const have = n.families.map((f) => `${f.afi}/${f.safi}`).join(", ");
  return afi === "ipv6"
    ? diagnose("no-ipv6-family", `neighbor ${n.peerAddress} of CiliumBGPPeeringPolicy ${p.name} has only ${have}: IPv6 LoadBalancer IPs are never sent`, [policyRef(p)], { path })
    : diagnose("no-ipv4-family", `neighbor ${n.peerAddress} of CiliumBGPPeeringPolicy ${p.name} has no ipv4 unicast family (only ${have})`, [policyRef(p)], { path });
}

// ---------------------------------------------------------------------------------------------------------------
// BGP v2: ClusterConfig -> PeerConfig -> Advertisement

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

/** Cause 1 for one peer of a ClusterConfig (cc operator/pkg/bgpv2 cluster.go MissingPeerConfigs), or undefined. */
export function peerConfigMissing(cc: ClusterConfigInput, inst: number, peer: number, inputs: Pick<BgpInputs, "peerConfigs">): Diagnosis | undefined {
  const p = cc.spec.bgpInstances[inst]!.peers![peer]!;
  const path = ["spec", "bgpInstances", inst, "peers", peer];
  if (!p.peerConfigRef?.name)
    return diagnose("missing-peer-config", `peer ${p.name} of CiliumBGPClusterConfig ${cc.name} has no peerConfigRef: the session comes up but no family and no route is configured`, [ccRef(cc)], { path });
  if (!inputs.peerConfigs.some((pc) => pc.name === p.peerConfigRef!.name))
    return diagnose("missing-peer-config", `peer ${p.name} refers to CiliumBGPPeerConfig ${p.peerConfigRef.name}, which does not exist (MissingPeerConfigs)`, [ccRef(cc)], { path: [...path, "peerConfigRef", "name"], fix: `create CiliumBGPPeerConfig ${p.peerConfigRef.name} or fix peerConfigRef.name` });
  return undefined;
}

interface ServiceEntry {
  ad: AdvertisementInput;
  index: number;
  entry: AdvertisementInput["spec"]["advertisements"][number];
}

/**
 * What keeps a Service advertisement entry from announcing LB IPs on its own (causes 4 and 5), or undefined. One
 * answer for validate (per entry) and bgp-verify (per route).
 */
export function entryProblem(ad: AdvertisementInput, i: number, e: ServiceEntry["entry"]): Diagnosis | undefined {
  const at = ["spec", "advertisements", i];
  if (!e.service) return diagnose("no-service-block", `Service advertisement ${i} of CiliumBGPAdvertisement ${ad.name} has no \`service\` block: no address type is announced`, [adRef(ad)], { path: at });
  if (!e.service.addresses.includes("LoadBalancerIP"))
    return diagnose("no-loadbalancerip", `advertisement ${ad.name} announces ${e.service.addresses.join(", ") || "no addresses"} but not LoadBalancerIP: LB IPs are never announced`, [adRef(ad)], { path: [...at, "service", "addresses"] });
  if (!e.selector) return diagnose("no-selector", `Service advertisement ${i} of CiliumBGPAdvertisement ${ad.name} has no selector: it matches NO Service (cilium#33076)`, [adRef(ad)], { path: at });
  const err = selectorError(e.selector);
  if (err) {
    const j = (e.selector.matchExpressions ?? []).findIndex((r) => selectorError({ matchExpressions: [r] }) !== undefined);
    return diagnose("empty-values", `the selector of Service advertisement ${i} of CiliumBGPAdvertisement ${ad.name} is invalid (${err}), so it matches nothing (cilium#23280)`, [adRef(ad)], { path: [...at, "selector", "matchExpressions", Math.max(j, 0)] });
  }
  return undefined;
}

/** Checks the slot's PeerConfig for family `afi`; returns the Service advertisement entries it selects, or why none (1, 2, 3, 4, 9). */
function familyEntries(slot: PeerSlot, afi: Afi, inputs: BgpInputs): ServiceEntry[] | Diagnosis {
  const cc = inputs.clusterConfigs.find((c) => c.name === slot.clusterConfig)!;
  const ii = cc.spec.bgpInstances.findIndex((i) => i.name === slot.instance);
  const pi = (cc.spec.bgpInstances[ii]?.peers ?? []).findIndex((p) => p.name === slot.peer);
  const missing = ii >= 0 && pi >= 0 ? peerConfigMissing(cc, ii, pi, inputs) : undefined;
  if (missing) return missing;
  const pc = inputs.peerConfigs.find((p) => p.name === slot.peerConfigRef)!;
  const families = pc.spec.families ?? [];
  if (families.length === 0) return noFamilies(pc.name);
  const fi = families.findIndex((f) => afiOfFamilyName(f.afi) === afi && f.safi.toLowerCase() === "unicast");
  if (fi < 0) return familyMissing(pc.name, families, afi);
  return familySelected(pc.name, fi, families[fi]!, inputs);
}

export function noFamilies(pc: string): Diagnosis {
  return diagnose("no-families", `CiliumBGPPeerConfig ${pc} has no families: the defaults (ipv4 + ipv6 unicast) select NO advertisements, so nothing is announced`, [pcRef(pc)], { path: ["spec"] });
}

export function familyMissing(pc: string, families: Array<{ afi: string; safi: string }>, afi: Afi): Diagnosis {
  const have = families.map((f) => `${f.afi}/${f.safi}`).join(", ");
  return afi === "ipv6"
    ? diagnose("no-ipv6-family", `CiliumBGPPeerConfig ${pc} has only ${have}: IPv6 LoadBalancer IPs are never sent`, [pcRef(pc)], { path: ["spec", "families"] })
    : diagnose("no-ipv4-family", `CiliumBGPPeerConfig ${pc} has no ipv4 unicast family (only ${have})`, [pcRef(pc)], { path: ["spec", "families"] });
}

/** One family of a PeerConfig: the Service entries of the advertisements it selects, or why there are none (2, 3, 4). */
export function familySelected(pc: string, fi: number, fam: { afi: string; safi: string; advertisements?: AdvertisementInput["spec"]["advertisements"][number]["selector"] }, inputs: Pick<BgpInputs, "advertisements">): ServiceEntry[] | Diagnosis {
  if (!fam.advertisements)
    return diagnose("family-without-advertisements", `family ${fam.afi}/${fam.safi} of CiliumBGPPeerConfig ${pc} has no advertisements selector: nothing is announced for it`, [pcRef(pc)], { path: ["spec", "families", fi] });
  const ads = inputs.advertisements.filter((a) => selectorMatches(fam.advertisements, a.labels, "none"));
  if (ads.length === 0) {
    const labels = inputs.advertisements.map((a) => `${a.name}: ${formatSelector({ matchLabels: a.labels })}`).join("; ");
    return diagnose(
      "advertisement-not-selected",
      `the advertisements selector (${formatSelector(fam.advertisements)}) of the ${fam.afi} family of CiliumBGPPeerConfig ${pc} matches no CiliumBGPAdvertisement's labels (${labels || "there are none"})`,
      [pcRef(pc)],
      { path: ["spec", "families", fi, "advertisements"], fix: `label the CiliumBGPAdvertisement with ${formatSelector(fam.advertisements)} (metadata.labels)` },
    );
  }
  const entries: ServiceEntry[] = [];
  for (const ad of ads) ad.spec.advertisements.forEach((entry, index) => entry.advertisementType === "Service" && entries.push({ ad, index, entry }));
  if (entries.length === 0)
    return diagnose("no-service-advertisement", `CiliumBGPAdvertisement ${ads.map((a) => a.name).join(", ")} (selected by CiliumBGPPeerConfig ${pc}) has no Service advertisement`, [adRef(ads[0]!)], { path: ["spec", "advertisements"] });
  return entries;
}

/** Whether one of `entries` advertises Service `s`'s LoadBalancer IP, or why not (causes 4, 5, 10). */
function serviceBlocked(entries: ServiceEntry[], s: ServiceInput, inputs: BgpInputs): Diagnosis | undefined {
  const problems = entries.map((e) => entryProblem(e.ad, e.index, e.entry));
  const usable = entries.filter((_, i) => problems[i] === undefined);
  if (usable.length === 0) return problems[0];
  const labels = serviceSelectorLabels(s);
  if (usable.some((e) => selectorMatches(e.entry.selector, labels, "none"))) return undefined;
  const e = usable[0]!;
  return selectorMisses(s, inputs, e.entry.selector!, adRef(e.ad), ["spec", "advertisements", e.index, "selector"]);
}

// ---------------------------------------------------------------------------------------------------------------
// Which speaker runs on a node

type Speaker =
  | { kind: "v1"; policy: PeeringPolicyInput; slots: ReturnType<typeof v1Slots>; warning?: Diagnosis }
  | { kind: "v2"; cc: ClusterConfigInput; slots: PeerSlot[] }
  | { kind: "none"; blocked: Diagnosis; slots: PeerSlot[] };

function everySlot(inputs: BgpInputs): PeerSlot[] {
  const seen = new Set<string>();
  const out: PeerSlot[] = [];
  const all = [...inputs.peeringPolicies.flatMap((p) => v1Slots(p).map((x) => x.slot)), ...inputs.clusterConfigs.flatMap(slotsOf)];
  for (const s of all) {
    const k = `${s.peer}|${s.peerAddress ?? ""}`;
    if (!seen.has(k)) (seen.add(k), out.push(s));
  }
  return out.length ? out : [{ instance: "-", peer: "(none)" }];
}

/** Objects that select no node at all (cause 8 on the object itself). */
export function selectsNoNode(sel: ClusterConfigInput["spec"]["nodeSelector"], nodes: BgpNodeInput[]): boolean {
  return nodes.length > 0 && !nodes.some((n) => selectorMatches(sel, n.labels, "all"));
}

export function nodeSpeaker(node: BgpNodeInput, inputs: BgpInputs): Speaker {
  if (inputs.controlPlaneEnabled === false)
    return { kind: "none", slots: everySlot(inputs), blocked: diagnose("control-plane-disabled", "Cilium's Helm values have bgpControlPlane.enabled: false (or unset), so no node runs BGP", [CILIUM_RELEASE]) };
  const valid = inputs.peeringPolicies.filter((p) => !policyRejected(p));
  // by name: the repo lists objects in file order, the API by name; a conflict must be named the same from both
  const byName = <T extends { name: string }>(xs: T[]) => [...xs].sort((a, b) => a.name.localeCompare(b.name));
  const policies = byName(valid.filter((p) => selectorMatches(p.nodeSelector, node.labels, "all")));
  const ccs = byName(inputs.clusterConfigs.filter((cc) => selectorMatches(cc.spec.nodeSelector, node.labels, "all")));
  if (policies.length > 1)
    return {
      kind: "none",
      slots: everySlot(inputs),
      blocked: diagnose("policy-conflict", `CiliumBGPPeeringPolicies ${policies.map((p) => p.name).join(" and ")} both select node ${node.name}: the agent applies none of them (and no v2 configuration either)`, policies.map(policyRef), { path: ["spec", "nodeSelector"] }),
    };
  if (policies.length === 1) {
    const policy = policies[0]!;
    const slots = v1Slots(policy);
    const warning = ccs.length
      ? diagnose("legacy-peering-policy", `legacy CiliumBGPPeeringPolicy ${policy.name} selects node ${node.name}, so the BGP v2 configuration (CiliumBGPClusterConfig ${ccs.map((c) => c.name).join(", ")}) is ignored there`, [policyRef(policy)])
      : undefined;
    if (slots.length === 0)
      return {
        kind: "none",
        slots: everySlot(inputs),
        blocked: warning ?? diagnose("no-peers", `CiliumBGPPeeringPolicy ${policy.name} selects node ${node.name} but has no neighbors`, [policyRef(policy)], { path: ["spec", "virtualRouters"], fix: "add a virtual router with neighbors (peerAddress x/32, peerASN)" }),
      };
    return { kind: "v1", policy, slots, ...(warning ? { warning } : {}) };
  }
  if (ccs.length > 1)
    return {
      kind: "none",
      slots: everySlot(inputs),
      blocked: diagnose("conflicting-cluster-configs", `node ${node.name} is selected by CiliumBGPClusterConfigs ${ccs.map((c) => c.name).join(" and ")}: Cilium applies neither (ConflictingClusterConfig)`, ccs.map(ccRef)),
    };
  if (ccs.length === 1) {
    const slots = slotsOf(ccs[0]!);
    if (slots.length === 0)
      return { kind: "none", slots: [{ clusterConfig: ccs[0]!.name, instance: ccs[0]!.spec.bgpInstances[0]?.name ?? "-", peer: "(none)" }], blocked: diagnose("no-peers", `CiliumBGPClusterConfig ${ccs[0]!.name} defines no peers`, [ccRef(ccs[0]!)], { path: ["spec", "bgpInstances"] }) };
    return { kind: "v2", cc: ccs[0]!, slots };
  }
  // nothing selects the node: say which object should have
  const rejected = inputs.peeringPolicies.map((p) => ({ p, why: policyRejected(p) })).find((x) => x.why && selectorError(x.p.nodeSelector) === undefined && selectorMatches(x.p.nodeSelector, node.labels, "all"));
  if (rejected) return { kind: "none", slots: everySlot(inputs), blocked: rejected.why! };
  const candidates: Array<{ ref: ObjectRef; sel: ClusterConfigInput["spec"]["nodeSelector"] }> = [
    ...inputs.clusterConfigs.map((c) => ({ ref: ccRef(c), sel: c.spec.nodeSelector })),
    ...valid.map((p) => ({ ref: policyRef(p), sel: p.nodeSelector })),
  ];
  if (candidates.length === 0)
    return { kind: "none", slots: everySlot(inputs), blocked: diagnose("no-bgp-config", `there is no CiliumBGPClusterConfig (nor CiliumBGPPeeringPolicy): node ${node.name} runs no BGP`, []) };
  const nowhere = candidates.find((c) => selectsNoNode(c.sel, inputs.nodes));
  const list = candidates.map((c) => `${c.ref.name}: ${formatSelector(c.sel)}`).join("; ");
  const blocked = nowhere
    ? diagnose("no-matching-node", `${nowhere.ref.kind} ${nowhere.ref.name}'s nodeSelector (${formatSelector(nowhere.sel)}) matches no node: node ${node.name} (like every node) runs no BGP`, [nowhere.ref], { path: ["spec", "nodeSelector"] })
    : diagnose("node-not-selected", `no nodeSelector matches node ${node.name} (${list}): it runs no BGP`, [candidates[0]!.ref], { path: ["spec", "nodeSelector"] });
  return { kind: "none", slots: everySlot(inputs), blocked };
}

// ---------------------------------------------------------------------------------------------------------------
// The expectations

interface IntendedPrefix {
  service: ServiceInput;
  afi: Afi;
  prefix: string;
  pool?: string;
}

export function expectedAdvertisements(inputs: BgpInputs): ExpectedAdvertisements {
  const serviceIssues: ServiceIssue[] = [];
  const notes: string[] = [];
  const intended: IntendedPrefix[] = [];
  for (const s of inputs.services) {
    const key = serviceKey(s);
    if (s.type !== "LoadBalancer") {
      if (s.requestedIPs.length)
        serviceIssues.push({ service: key, diagnosis: diagnose("not-load-balancer", `Service ${key} asks LB-IPAM for ${s.requestedIPs.join(", ")} but is type ${s.type}, not LoadBalancer`, [serviceRef(s)], { fix: `set \`type: LoadBalancer\` on Service ${key}` }) });
      continue;
    }
    if (!bgpAnnouncesClass(s)) notes.push(`${key}: loadBalancerClass ${s.loadBalancerClass} is not announced by BGP (cause 5), not expected at the router`);
  }
  for (const { service: s, families } of lbIpam(inputs).services) {
    if (!bgpAnnouncesClass(s)) continue;
    const key = serviceKey(s);
    const mine: IntendedPrefix[] = [];
    for (const f of families) {
      if (f.problem) serviceIssues.push({ service: key, family: f.afi, diagnosis: f.problem });
      else if (f.assignment && "ips" in f.assignment) for (const ip of f.assignment.ips) mine.push({ service: s, afi: f.afi, prefix: hostRoute(ip).prefix });
      else if (f.assignment) {
        mine.push({ service: s, afi: f.afi, prefix: `${f.afi} address of pool ${f.assignment.pool}`, pool: f.assignment.pool });
        notes.push(`${key}: its ${f.afi} address is picked by LB-IPAM from pool ${f.assignment.pool} at run time; any address of that pool counts at the router`);
      }
    }
    if (s.externalTrafficPolicy === "Local" && s.localEndpointNodes !== undefined && s.localEndpointNodes.length === 0 && mine.length) {
      serviceIssues.push({
        service: key,
        diagnosis: diagnose("no-local-endpoint", `Service ${key} has externalTrafficPolicy: Local and no node has a ready endpoint, so no node advertises ${mine.map((p) => p.prefix).join(", ")}`, [serviceRef(s)]),
      });
      continue;
    }
    intended.push(...mine);
  }

  const expectations: Expectation[] = [];
  const slotsOut: ExpectedAdvertisements["slots"] = [];
  const speakers: ExpectedAdvertisements["speakers"] = [];
  for (const node of inputs.nodes) {
    const sp = nodeSpeaker(node, inputs);
    speakers.push({
      node: node.name,
      kind: sp.kind,
      ...(sp.kind === "v1" ? { object: `CiliumBGPPeeringPolicy ${sp.policy.name}` } : sp.kind === "v2" ? { object: `CiliumBGPClusterConfig ${sp.cc.name}` } : {}),
      ...(sp.kind === "v1" && sp.warning ? { warning: sp.warning } : {}),
    });
    const slots = sp.kind === "v1" ? sp.slots.map((x) => x.slot) : sp.slots;
    for (const slot of slots) slotsOut.push({ node: node.name, slot });
    const cache = new Map<string, Diagnosis | undefined>();
    for (const p of intended) {
      const s = p.service;
      if (s.externalTrafficPolicy === "Local" && s.localEndpointNodes && !s.localEndpointNodes.includes(node.name)) continue;
      // The peers that carry this family: sessions of the same family; without any, every session (cause 9).
      const sameFamily = slots.filter((x) => x.afi === undefined || x.afi === p.afi);
      const carriers = sameFamily.length ? sameFamily : slots;
      for (const slot of carriers) {
        const ck = `${slot.policy ?? slot.clusterConfig}|${slot.instance}|${slot.peer}|${p.afi}|${serviceKey(s)}`;
        if (!cache.has(ck)) cache.set(ck, routeBlocked(sp, slot, p.afi, s, inputs));
        const blocked = cache.get(ck);
        expectations.push({ node: node.name, slot, afi: p.afi, service: serviceKey(s), prefix: p.prefix, ...(p.pool ? { pool: p.pool } : {}), ...(blocked ? { blocked } : {}) });
      }
    }
  }
  return { expectations, serviceIssues, slots: slotsOut, speakers, notes: [...new Set(notes)] };
}

/** The first link of the chain that keeps Service `s`'s `afi` route from `slot`, or undefined. */
function routeBlocked(sp: Speaker, slot: PeerSlot, afi: Afi, s: ServiceInput, inputs: BgpInputs): Diagnosis | undefined {
  if (sp.kind === "none") return sp.blocked;
  let blocked: Diagnosis | undefined;
  if (sp.kind === "v1") {
    const x = sp.slots.find((y) => y.slot === slot)!;
    const p = sp.policy;
    blocked = x.blocked ?? v1FamilyBlocked(p, slot, x.neighbor, afi) ?? v1RouterProblem(p, slot.virtualRouter!);
    const sel = x.router.serviceSelector;
    if (!blocked && sel && !selectorMatches(sel, serviceSelectorLabels(s), "none"))
      blocked = selectorMisses(s, inputs, sel, policyRef(p), ["spec", "virtualRouters", slot.virtualRouter!, "serviceSelector"]);
  } else {
    const entries = familyEntries(slot, afi, inputs);
    blocked = Array.isArray(entries) ? serviceBlocked(entries, s, inputs) : entries;
  }
  if (!blocked && slot.afi !== undefined && slot.afi !== afi) {
    const owner = sp.kind === "v1" ? [policyRef(sp.policy)] : [pcRef(slot.peerConfigRef ?? "?"), ccRef(sp.cc)];
    blocked = diagnose(
      "ipv6-over-ipv4",
      `${afi} routes would ride the ${slot.afi} session to ${slot.peerAddress} (peer ${slot.peer}); there is no ${afi} peer, so the next hop is unusable (cilium#37831)`,
      owner,
      { path: sp.kind === "v1" ? ["spec", "virtualRouters", slot.virtualRouter!, "neighbors"] : ["spec", "families"] },
    );
  }
  return blocked;
}

/** The known LoadBalancer host routes per announced Service (requested or assigned IPs; the router config's input). */
export function intendedPrefixes(inputs: BgpInputs): { intended: Array<{ service: ServiceInput; prefixes: Array<{ service: string; ip: string; prefix: string; afi: Afi }> }> } {
  const intended: ReturnType<typeof intendedPrefixes>["intended"] = [];
  for (const { service, families } of lbIpam(inputs).services) {
    if (!bgpAnnouncesClass(service)) continue;
    const prefixes = families.flatMap((f) => (f.assignment && "ips" in f.assignment ? f.assignment.ips.map((ip) => ({ service: serviceKey(service), ...hostRoute(ip) })) : []));
    if (prefixes.length) intended.push({ service, prefixes });
  }
  return { intended };
}

/**
 * Where each node announces its own PodCIDR, as `node|peer address|afi`: v1 routers with exportPodCIDR (up to a
 * repeated localASN, over the neighbor's families), v2 peers whose PeerConfig family selects an advertisement with a
 * PodCIDR entry (cc reconcilerv2/podcidr.go). The prefix itself is the node's spec.podCIDRs, known only live.
 */
export function podCIDRAnnouncements(inputs: BgpInputs): Set<string> {
  const out = new Set<string>();
  for (const node of inputs.nodes) {
    const sp = nodeSpeaker(node, inputs);
    if (sp.kind === "v1") {
      for (const x of sp.slots) {
        if (x.blocked || !x.router.exportPodCIDR) continue;
        for (const afi of ["ipv4", "ipv6"] as const)
          if (!v1FamilyBlocked(sp.policy, x.slot, x.neighbor, afi)) out.add(`${node.name}|${x.slot.peerAddress}|${afi}`);
      }
    } else if (sp.kind === "v2") {
      for (const slot of sp.slots) {
        const pc = inputs.peerConfigs.find((p) => p.name === slot.peerConfigRef);
        for (const fam of pc?.spec.families ?? []) {
          const afi = afiOfFamilyName(fam.afi);
          if (!afi || !fam.advertisements) continue;
          const ads = inputs.advertisements.filter((a) => selectorMatches(fam.advertisements, a.labels, "none"));
          if (ads.some((a) => a.spec.advertisements.some((e) => e.advertisementType === "PodCIDR"))) out.add(`${node.name}|${slot.peerAddress}|${afi}`);
        }
      }
    }
  }
  return out;
}
