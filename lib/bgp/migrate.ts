/**
 * BGP v1 -> v2 (cilium-bgpv1-and-locks.md A6): each CiliumBGPPeeringPolicy becomes a CiliumBGPClusterConfig with the
 * same nodeSelector, one BGP instance per virtual router that runs, one CiliumBGPPeerConfig per neighbor (its session
 * settings and families) and one CiliumBGPAdvertisement per virtual router (its Services, PodCIDR and pod pools),
 * tied together by a label on the advertisement that the peer config's families select.
 *
 * The translation is proved through the rulebook, not assumed: the expected announcements (node, peer, prefix) of
 * the configuration before and after must be the same, and so must each node's own PodCIDR per peer and family
 * (exportPodCIDR); whatever differs is listed with the reason on either side.
 * No Service or pool label is needed: v2's advertisement selector sees the same Service labels (plus the synthetic
 * name/namespace keys) as v1's serviceSelector, so the v1 selector is carried over as it is.
 */
import { isIP } from "../net/index.ts";
import { expectedAdvertisements, firstDuplicateASN, podCIDRAnnouncements, v1PeerIP, type Expectation } from "./expected.ts";
import { v2InputsFromObjects } from "./inputs.ts";
import type { BgpInputs, LabelSelector, PeeringPolicyInput, V1NeighborInput, VirtualRouterInput } from "./types.ts";
import { CILIUM_API } from "./live.ts";

/** The label that ties a migrated peer config's families to its advertisement. */
export const MIGRATED_LABEL = "bgp.home-ops.io/advertisement";

/** v2 matches every Service only through an expression no Service fails (cilium#33076): the v1 `{}`. */
const MATCH_ALL: LabelSelector = { matchExpressions: [{ key: "bgp.home-ops.io/never-set", operator: "NotIn", values: ["never-used-value"] }] };

export type Manifest = { apiVersion: string; kind: string; metadata: { name: string; labels?: Record<string, string> }; spec: Record<string, unknown> };

export interface Difference {
  node: string;
  peer: string;
  prefix: string;
  /** announced before (v1) but not after (v2), or the other way round */
  change: "lost" | "gained";
  why: string;
}

export interface MigrationPlan {
  /** the policies translated */
  policies: string[];
  /** the v2 objects to apply, in apply order (peer configs and advertisements before the cluster configs) */
  objects: Manifest[];
  /** Service and pool labels the v2 objects need (none: the v1 selectors carry over) */
  labels: Array<{ kind: string; name: string; labels: Record<string, string> }>;
  /** what the translation leaves out on purpose, or cannot express */
  notes: string[];
  /** expected announcements before and after, counted */
  before: number;
  after: number;
  differences: Difference[];
  equivalent: boolean;
}

const dns = (s: string) =>
  s
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 63);

function peerConfigSpec(n: V1NeighborInput, adLabel: string): Record<string, unknown> {
  const families = (n.families ?? [{ afi: "ipv4", safi: "unicast" }, { afi: "ipv6", safi: "unicast" }]).map((f) => ({
    afi: f.afi,
    safi: f.safi,
    advertisements: { matchLabels: { [MIGRATED_LABEL]: adLabel } },
  }));
  const timers: Record<string, number> = {};
  if (n.connectRetryTimeSeconds !== undefined) timers.connectRetryTimeSeconds = n.connectRetryTimeSeconds;
  if (n.holdTimeSeconds !== undefined) timers.holdTimeSeconds = n.holdTimeSeconds;
  if (n.keepAliveTimeSeconds !== undefined) timers.keepAliveTimeSeconds = n.keepAliveTimeSeconds;
  return {
    families,
    ...(Object.keys(timers).length ? { timers } : {}),
    ...(n.peerPort !== undefined ? { transport: { peerPort: n.peerPort } } : {}),
    ...(n.eBGPMultihopTTL !== undefined ? { ebgpMultihop: n.eBGPMultihopTTL } : {}),
    ...(n.gracefulRestart ? { gracefulRestart: n.gracefulRestart } : {}),
    ...(n.authSecretRef ? { authSecretRef: n.authSecretRef } : {}),
  };
}

function advertisementSpec(vr: VirtualRouterInput): { advertisements: unknown[] } {
  const advertisements: unknown[] = [];
  if (vr.exportPodCIDR) advertisements.push({ advertisementType: "PodCIDR" });
  if (vr.podIPPoolSelector) advertisements.push({ advertisementType: "CiliumPodIPPool", selector: vr.podIPPoolSelector });
  const addresses = vr.serviceAdvertisements ?? ["LoadBalancerIP"];
  // nil serviceSelector or serviceAdvertisements: [] announce no Service in v1: no Service entry in v2 either
  if (vr.serviceSelector && addresses.length) {
    const empty = Object.keys(vr.serviceSelector.matchLabels ?? {}).length === 0 && (vr.serviceSelector.matchExpressions ?? []).length === 0;
    advertisements.push({ advertisementType: "Service", service: { addresses }, selector: empty ? MATCH_ALL : vr.serviceSelector });
  }
  return { advertisements };
}

/** The v2 objects for one policy (the routers that run: those before a repeated localASN). */
export function translatePolicy(p: PeeringPolicyInput, notes: string[]): Manifest[] {
  const out: Manifest[] = [];
  const dup = firstDuplicateASN(p);
  const routers = dup === undefined ? p.virtualRouters : p.virtualRouters.slice(0, dup);
  if (dup !== undefined)
    notes.push(`CiliumBGPPeeringPolicy ${p.name}: virtual routers ${dup}..${p.virtualRouters.length - 1} never ran (router ${dup} repeats localASN ${p.virtualRouters[dup]!.localASN}, cause 14) and are not migrated; give them their own instance deliberately if you want them`);
  const instances: unknown[] = [];
  routers.forEach((vr, i) => {
    const base = dns(`${p.name}-${vr.localASN ?? i}`);
    const adLabel = base;
    out.push({ apiVersion: CILIUM_API, kind: "CiliumBGPAdvertisement", metadata: { name: base, labels: { [MIGRATED_LABEL]: adLabel } }, spec: advertisementSpec(vr) });
    const peers: unknown[] = [];
    for (const n of vr.neighbors) {
      const ip = v1PeerIP(n);
      const pcName = dns(`${base}-${ip}`);
      out.push({ apiVersion: CILIUM_API, kind: "CiliumBGPPeerConfig", metadata: { name: pcName }, spec: peerConfigSpec(n, adLabel) });
      peers.push({ name: dns(`peer-${ip}`), peerAddress: isIP(ip) ? ip : n.peerAddress, ...(n.peerASN !== undefined ? { peerASN: n.peerASN } : {}), peerConfigRef: { name: pcName } });
      if (n.advertisedPathAttributes?.length)
        notes.push(`CiliumBGPPeeringPolicy ${p.name}: neighbor ${n.peerAddress} sets advertisedPathAttributes; v2 sets them per advertisement (spec.advertisements[].attributes) and they are not translated`);
    }
    instances.push({ name: base, ...(vr.localASN !== undefined ? { localASN: vr.localASN } : {}), peers });
  });
  out.push({ apiVersion: CILIUM_API, kind: "CiliumBGPClusterConfig", metadata: { name: dns(p.name) }, spec: { ...(p.nodeSelector ? { nodeSelector: p.nodeSelector } : {}), bgpInstances: instances } });
  return out;
}

const key = (e: Expectation) => `${e.node}|${e.slot.peerAddress ?? e.slot.peer}|${e.prefix}`;

/** Translates every policy of `inputs` and proves the result through the rulebook. */
export function migrateV1(inputs: BgpInputs): MigrationPlan {
  const notes: string[] = [];
  const objects = inputs.peeringPolicies.flatMap((p) => translatePolicy(p, notes));
  // objects of an earlier run of this migration (same names) are replaced, not doubled
  const names = new Set(objects.map((o) => `${o.kind}/${o.metadata.name}`));
  const existing: BgpInputs = {
    ...inputs,
    clusterConfigs: inputs.clusterConfigs.filter((c) => !names.has(`CiliumBGPClusterConfig/${c.name}`)),
    peerConfigs: inputs.peerConfigs.filter((c) => !names.has(`CiliumBGPPeerConfig/${c.name}`)),
    advertisements: inputs.advertisements.filter((c) => !names.has(`CiliumBGPAdvertisement/${c.name}`)),
  };
  const replaced = inputs.clusterConfigs.length + inputs.peerConfigs.length + inputs.advertisements.length - (existing.clusterConfigs.length + existing.peerConfigs.length + existing.advertisements.length);
  if (replaced) notes.push(`${replaced} BGP v2 object(s) of the same names already exist (an earlier migration): they are replaced`);
  const after: BgpInputs = { ...existing, peeringPolicies: [], ...mergeV2(existing, v2InputsFromObjects(objects)) };
  const b = expectedAdvertisements(inputs).expectations;
  const a = expectedAdvertisements(after).expectations;
  const announced = (xs: Expectation[]) => new Map(xs.filter((e) => !e.blocked).map((e) => [key(e), e]));
  const blockedWhy = (xs: Expectation[], k: string) => xs.find((e) => key(e) === k && e.blocked)?.blocked;
  const bOk = announced(b);
  const aOk = announced(a);
  const differences: Difference[] = [];
  for (const [k, e] of bOk)
    if (!aOk.has(k)) {
      const d = blockedWhy(a, k);
      differences.push({ node: e.node, peer: e.slot.peerAddress ?? e.slot.peer, prefix: e.prefix, change: "lost", why: d ? `v2: cause ${d.cause}: ${d.message}` : "v2 has no peer of that address on this node" });
    }
  for (const [k, e] of aOk)
    if (!bOk.has(k)) {
      const d = blockedWhy(b, k);
      differences.push({ node: e.node, peer: e.slot.peerAddress ?? e.slot.peer, prefix: e.prefix, change: "gained", why: d ? `v1: cause ${d.cause}: ${d.message}` : "v1 had no peer of that address on this node" });
    }
  // each node's own PodCIDR (exportPodCIDR): the same node, peer and family before and after
  const podBefore = podCIDRAnnouncements(inputs);
  const podAfter = podCIDRAnnouncements(after);
  const pod = (k: string) => k.split("|") as [string, string, string];
  for (const k of podBefore)
    if (!podAfter.has(k)) differences.push({ node: pod(k)[0], peer: pod(k)[1], prefix: `PodCIDR (${pod(k)[2]})`, change: "lost", why: "v2: no PodCIDR advertisement is selected by this peer's family" });
  for (const k of podAfter)
    if (!podBefore.has(k)) differences.push({ node: pod(k)[0], peer: pod(k)[1], prefix: `PodCIDR (${pod(k)[2]})`, change: "gained", why: "v1: this router did not export the PodCIDR" });
  if (existing.clusterConfigs.length)
    notes.push(`the repo already has CiliumBGPClusterConfig ${existing.clusterConfigs.map((c) => c.name).join(", ")}: where it selects the same nodes as a migrated policy, the two conflict (cause 8) once the policy is gone`);
  return {
    policies: inputs.peeringPolicies.map((p) => p.name),
    objects,
    labels: [],
    notes,
    before: bOk.size + podBefore.size,
    after: aOk.size + podAfter.size,
    differences,
    equivalent: differences.length === 0,
  };
}

function mergeV2(inputs: BgpInputs, add: Pick<BgpInputs, "clusterConfigs" | "peerConfigs" | "advertisements">): Pick<BgpInputs, "clusterConfigs" | "peerConfigs" | "advertisements"> {
  return {
    clusterConfigs: [...inputs.clusterConfigs, ...add.clusterConfigs],
    peerConfigs: [...inputs.peerConfigs, ...add.peerConfigs],
    advertisements: [...inputs.advertisements, ...add.advertisements],
  };
}

/** The plan's objects as one YAML file, with a header saying where they came from. */
export function renderMigration(plan: MigrationPlan, stringify: (o: unknown) => string): string {
  const head = [
    `# BGP v2 objects translated from CiliumBGPPeeringPolicy ${plan.policies.join(", ")} by scripts/bgp-migrate.ts.`,
    `# Equivalence (lib/bgp rulebook): ${plan.equivalent ? `the same ${plan.before} announcement(s) per node, peer and prefix` : `${plan.differences.length} announcement(s) differ`}.`,
    "# Apply them, then delete the policy: while it exists it wins on every node it selects.",
  ];
  return `${head.join("\n")}\n${plan.objects.map((o) => `---\n${stringify(o)}`).join("")}`;
}
