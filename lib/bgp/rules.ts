/**
 * The rulebook per object: every diagnosis the repo's Cilium objects carry, whether or not a Service's route runs
 * into it today (a PeerConfig without families is wrong before the first LoadBalancer Service exists). validate's
 * bgp and ipam families are translations of `bgpDiagnoses`; bgp-verify's expectations (expected.ts) block routes with
 * the same diagnoses, built by the same functions, so both name one cause for one object.
 */
import { selectorMatches } from "../kube/selector.ts";
import type { Diagnosis } from "./diagnosis.ts";
import { diagnose } from "./diagnosis.ts";
import {
  adRef,
  announcedServices,
  CILIUM_RELEASE,
  ccRef,
  duplicateASNDiagnosis,
  entryProblem,
  expectedAdvertisements,
  familyMissing,
  familySelected,
  firstDuplicateASN,
  noFamilies,
  pcRef,
  peerConfigMissing,
  policyRef,
  policyRejected,
  selectorMatchesNothing,
  selectsNoNode,
  v1RouterProblem,
} from "./expected.ts";
import { bgpAnnouncesClass, lbIpam, poolFamilies, serviceFamilies, serviceKey, serviceRef, serviceSelectorLabels } from "./lbipam.ts";
import type { BgpInputs } from "./types.ts";

function v1Diagnoses(inputs: BgpInputs): Diagnosis[] {
  const out: Diagnosis[] = [];
  const announced = announcedServices(inputs);
  for (const p of inputs.peeringPolicies) {
    const rejected = policyRejected(p);
    if (rejected) {
      out.push(rejected);
      continue;
    }
    if (selectsNoNode(p.nodeSelector, inputs.nodes))
      out.push(diagnose("no-matching-node", `CiliumBGPPeeringPolicy ${p.name}'s nodeSelector matches no node: it runs nowhere`, [policyRef(p)], { path: ["spec", "nodeSelector"] }));
    const dup = firstDuplicateASN(p);
    if (dup !== undefined) out.push(duplicateASNDiagnosis(p, dup));
    p.virtualRouters.forEach((vr, i) => {
      if (dup !== undefined && i >= dup) return;
      if (announced.length === 0) return; // a router that only exports the PodCIDR announces no Service, rightly
      const problem = v1RouterProblem(p, i);
      if (problem) out.push(problem);
      else if (vr.serviceSelector && !announced.some((s) => selectorMatches(vr.serviceSelector, serviceSelectorLabels(s), "none")))
        out.push(selectorMatchesNothing(policyRef(p), vr.serviceSelector, inputs, ["spec", "virtualRouters", i, "serviceSelector"]));
    });
  }
  // two valid policies on one node; a policy next to a ClusterConfig on one node
  const valid = inputs.peeringPolicies.filter((p) => !policyRejected(p));
  const reported = new Set<string>();
  for (const n of inputs.nodes) {
    const on = valid.filter((p) => selectorMatches(p.nodeSelector, n.labels, "all")).sort((a, b) => a.name.localeCompare(b.name));
    if (on.length > 1 && !reported.has(on.map((p) => p.name).join())) {
      reported.add(on.map((p) => p.name).join());
      out.push(diagnose("policy-conflict", `CiliumBGPPeeringPolicies ${on.map((p) => p.name).join(" and ")} both select node ${n.name}: the agent applies none of them (and no v2 configuration either)`, on.map(policyRef), { path: ["spec", "nodeSelector"] }));
    }
    if (on.length === 1 && inputs.clusterConfigs.some((cc) => selectorMatches(cc.spec.nodeSelector, n.labels, "all")) && !reported.has(`legacy|${on[0]!.name}`)) {
      reported.add(`legacy|${on[0]!.name}`);
      out.push(diagnose("legacy-peering-policy", `legacy CiliumBGPPeeringPolicy ${on[0]!.name} next to BGP v2 objects: it wins on every node it selects (${n.name} first) and the v2 configuration is ignored there`, [policyRef(on[0]!)]));
    }
  }
  return out;
}

function v2Diagnoses(inputs: BgpInputs): Diagnosis[] {
  const out: Diagnosis[] = [];
  const announced = announcedServices(inputs);
  for (const cc of inputs.clusterConfigs) {
    if (selectsNoNode(cc.spec.nodeSelector, inputs.nodes))
      out.push(diagnose("no-matching-node", `CiliumBGPClusterConfig ${cc.name}'s nodeSelector matches no node: no node runs BGP from it`, [ccRef(cc)], { path: ["spec", "nodeSelector"] }));
    cc.spec.bgpInstances.forEach((inst, i) =>
      (inst.peers ?? []).forEach((_, j) => {
        const d = peerConfigMissing(cc, i, j, inputs);
        if (d) out.push(d);
      }),
    );
  }
  const reported = new Set<string>();
  for (const n of inputs.nodes) {
    const on = inputs.clusterConfigs.filter((cc) => selectorMatches(cc.spec.nodeSelector, n.labels, "all")).sort((a, b) => a.name.localeCompare(b.name));
    if (on.length < 2 || reported.has(on.map((c) => c.name).join())) continue;
    reported.add(on.map((c) => c.name).join());
    out.push(diagnose("conflicting-cluster-configs", `node ${n.name} is selected by CiliumBGPClusterConfigs ${on.map((c) => c.name).join(" and ")}: Cilium applies neither (ConflictingClusterConfig)`, on.map(ccRef)));
  }
  const referenced = new Set(inputs.clusterConfigs.flatMap((cc) => cc.spec.bgpInstances.flatMap((i) => (i.peers ?? []).map((p) => p.peerConfigRef?.name))));
  const wantsV6 = inputs.pools.some((p) => poolFamilies(p).has("ipv6")) && announced.some((s) => serviceFamilies(s).includes("ipv6"));
  const v6Peer = inputs.clusterConfigs.some((cc) => cc.spec.bgpInstances.some((i) => (i.peers ?? []).some((p) => p.peerAddress?.includes(":"))));
  for (const pc of inputs.peerConfigs) {
    const fams = pc.spec.families ?? [];
    if (fams.length === 0) {
      out.push(noFamilies(pc.name));
      continue;
    }
    // the first family that selects nothing speaks for the PeerConfig
    for (const [i, f] of fams.entries()) {
      const r = familySelected(pc.name, i, f, inputs);
      if (!Array.isArray(r)) {
        out.push(r);
        break;
      }
    }
    if (referenced.has(pc.name) && wantsV6) {
      const v6 = fams.some((f) => f.afi === "ipv6");
      if (!v6) out.push(familyMissing(pc.name, fams, "ipv6"));
      else if (!v6Peer)
        out.push(diagnose("ipv6-over-ipv4", `IPv6 routes of CiliumBGPPeerConfig ${pc.name} travel only over IPv4 sessions and get an IPv4-mapped next hop the router cannot use (cilium#37831)`, [pcRef(pc.name)], { path: ["spec", "families"] }));
    }
  }
  for (const ad of inputs.advertisements)
    ad.spec.advertisements.forEach((e, i) => {
      if (e.advertisementType !== "Service") return;
      const problem = entryProblem(ad, i, e);
      if (problem) out.push(problem);
      else if (announced.length > 0 && !announced.some((s) => selectorMatches(e.selector, serviceSelectorLabels(s), "none")))
        out.push(selectorMatchesNothing(adRef(ad), e.selector!, inputs, ["spec", "advertisements", i, "selector"]));
    });
  return out;
}

function serviceDiagnoses(inputs: BgpInputs): Diagnosis[] {
  const out: Diagnosis[] = [];
  for (const s of inputs.services)
    if (s.type === "LoadBalancer" && !bgpAnnouncesClass(s))
      out.push(diagnose("load-balancer-class", `Service ${serviceKey(s)} has loadBalancerClass ${s.loadBalancerClass}: Cilium's BGP control plane ignores it`, [serviceRef(s)]));
  return out;
}

/**
 * Every diagnosis of the configuration: per object (above) and per route (expected.ts), each (rule, object) once —
 * the per-object wording first. `controlPlaneEnabled === false` with BGP objects is cause 12 and nothing else.
 */
export function bgpDiagnoses(inputs: BgpInputs): Diagnosis[] {
  const hasBgp = inputs.clusterConfigs.length + inputs.peerConfigs.length + inputs.advertisements.length + inputs.peeringPolicies.length > 0;
  const all: Diagnosis[] = [];
  if (hasBgp && inputs.controlPlaneEnabled === false)
    all.push(diagnose("control-plane-disabled", `bgpControlPlane.enabled is false or not set (default false) in the Cilium HelmRelease: the BGP objects do nothing`, [CILIUM_RELEASE]));
  const ipam = lbIpam(inputs);
  all.push(...ipam.poolProblems, ...serviceDiagnoses(inputs));
  if (hasBgp) all.push(...v1Diagnoses(inputs), ...v2Diagnoses(inputs));
  const exp = expectedAdvertisements(inputs);
  for (const i of exp.serviceIssues) all.push(i.diagnosis);
  if (hasBgp) {
    for (const e of exp.expectations) if (e.blocked) all.push(e.blocked);
    for (const s of exp.speakers) if (s.warning) all.push(s.warning);
  }
  const seen = new Set<string>();
  return all.filter((d) => {
    if (!d.rule || d.objects.length === 0) return false;
    const k = `${d.rule}|${d.objects[0]!.kind}|${d.objects[0]!.name}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
