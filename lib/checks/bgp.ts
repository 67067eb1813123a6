import { isIP } from "../net/index.ts";
import type { BgpAdvertisement, BgpPeerConfig, ClusterModel, LabelSelector, RepoDocument, Service, Source } from "../repo/model.ts";
import { isKustomizationDoc } from "./kustomize.ts";
import { at, docAt, get, isObj, type PathSeg } from "./locate.ts";
import { ciliumServiceLabels, isLoadBalancerService, matchesSelector } from "../repo/select.ts";
import { describeSelector } from "./selectors.ts";
import { finding, type Finding } from "./types.ts";

/**
 * bgp: the silent-failure causes of Cilium's BGP control plane that can be seen without a cluster (numbers are the
 * causes of cilium-bgp.md: 1-5, 8-10, 12; cause 7 — no pool gives the Service an IP — is found by the ipam family,
 * cause 6 and 11 need the live cluster / router), plus API versions, a legacy PeeringPolicy next to v2 objects and
 * cluster-scoped kinds given a namespace.
 */

const BGP_KINDS = new Set([
  "CiliumBGPClusterConfig", "CiliumBGPPeerConfig", "CiliumBGPAdvertisement", "CiliumBGPNodeConfigOverride",
  "CiliumBGPNodeConfig", "CiliumBGPPeeringPolicy", "CiliumLoadBalancerIPPool",
]);

function where(model: ClusterModel, src: Source, p: PathSeg[]): Source {
  const d = docAt(model, src);
  return d ? at(d, p) : src;
}

function minorOf(v: string): [number, number] | undefined {
  const m = /^v?(\d+)\.(\d+)/.exec(v);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

function apiVersions(model: ClusterModel): Finding[] {
  const out: Finding[] = [];
  const cil = minorOf(model.versions.cilium.value);
  const servesV2 = cil ? cil[0] > 1 || cil[1] >= 18 : false;
  for (const d of model.documents) {
    if (!d.kind || !BGP_KINDS.has(d.kind) || !d.apiVersion?.startsWith("cilium.io/")) continue;
    if (d.apiVersion === "cilium.io/v2" && !servesV2)
      out.push(finding("bgp/api-version", "error", at(d, ["apiVersion"]), `${d.kind} cilium.io/v2 does not exist in Cilium ${model.versions.cilium.value || "1.17"}: the object is rejected`, "use apiVersion: cilium.io/v2alpha1 (v2 arrives with Cilium 1.18)"));
    else if (d.apiVersion !== "cilium.io/v2alpha1" && d.apiVersion !== "cilium.io/v2")
      out.push(finding("bgp/api-version", "error", at(d, ["apiVersion"]), `${d.kind} ${d.apiVersion} is not served by Cilium ${model.versions.cilium.value}`, "use apiVersion: cilium.io/v2alpha1"));
    const ns = get(d.object, "metadata", "namespace");
    if (typeof ns === "string")
      out.push(finding("bgp/cluster-scoped-namespace", "warning", at(d, ["metadata", "namespace"]), `${d.kind} ${d.name ?? ""} is cluster-scoped: its namespace "${ns}" is ignored`, "remove metadata.namespace"));
  }
  // a kustomization `namespace:` stamps a namespace on the cluster-scoped Cilium objects it builds
  for (const k of model.documents) {
    if (!isKustomizationDoc(k) || typeof get(k.object, "namespace") !== "string") continue;
    const dir = k.file.slice(0, k.file.lastIndexOf("/") + 1);
    const hit = model.documents.find((d) => d.kind && BGP_KINDS.has(d.kind) && d.file.startsWith(dir) && d.namespace === undefined);
    if (hit)
      out.push(finding("bgp/cluster-scoped-namespace", "warning", at(k, ["namespace"]), `this kustomization sets namespace "${String(get(k.object, "namespace"))}" on cluster-scoped ${hit.kind} objects`, "move the Cilium BGP/pool objects to a kustomization without `namespace:`"));
  }
  if (model.bgp.peeringPolicies.length > 0 && (model.bgp.clusterConfigs.length > 0 || model.bgp.advertisements.length > 0))
    for (const p of model.bgp.peeringPolicies)
      out.push(finding("bgp/cause-8-legacy-peering-policy", "error", p.source, `cause 8: legacy CiliumBGPPeeringPolicy ${p.name} next to BGP v2 objects: it wins for every node it selects and the v2 configuration is ignored there`, "delete the CiliumBGPPeeringPolicy"));
  return out;
}

/** Node labels as the kubelet registers them on Talos (well-known labels + talconfig nodeLabels). */
function nodeLabels(model: ClusterModel): Array<{ name: string; labels: Record<string, string> }> {
  const cfg = model.talos.config;
  const common = isObj(get(cfg, "controlPlane", "nodeLabels")) ? (get(cfg, "controlPlane", "nodeLabels") as Record<string, string>) : {};
  const rawNodes = Array.isArray(get(cfg, "nodes")) ? (get(cfg, "nodes") as unknown[]) : [];
  return model.nodes.map((n) => {
    const raw = rawNodes.find((r) => get(r, "hostname") === n.hostname);
    const own = isObj(get(raw, "nodeLabels")) ? (get(raw, "nodeLabels") as Record<string, string>) : {};
    return {
      name: n.hostname,
      labels: {
        "kubernetes.io/hostname": n.hostname,
        "kubernetes.io/os": "linux",
        ...(n.controlPlane ? { "node-role.kubernetes.io/control-plane": "", ...common } : {}),
        ...own,
      },
    };
  });
}

function clusterConfigs(model: ClusterModel): Finding[] {
  const out: Finding[] = [];
  const nodes = nodeLabels(model);
  const selectedBy = new Map<string, string[]>();
  for (const cc of model.bgp.clusterConfigs) {
    const sel = cc.spec.nodeSelector as LabelSelector | undefined;
    const hit = nodes.filter((n) => matchesSelector(n.labels, sel, true));
    if (nodes.length > 0 && hit.length === 0)
      out.push(finding("bgp/cause-8-no-matching-node", "error", where(model, cc.source, ["spec", "nodeSelector"]), `cause 8: CiliumBGPClusterConfig ${cc.name}'s nodeSelector (${describeSelector(sel)}) matches no node: no node runs BGP`, "remove the nodeSelector (all nodes) or use labels the nodes carry (talconfig nodeLabels)"));
    for (const n of hit) selectedBy.set(n.name, [...(selectedBy.get(n.name) ?? []), cc.name]);
  }
  const reported = new Set<string>();
  for (const [node, ccs] of selectedBy) {
    if (ccs.length < 2 || reported.has(ccs.join())) continue;
    reported.add(ccs.join());
    const second = model.bgp.clusterConfigs.find((c) => c.name === ccs[1])!;
    out.push(finding("bgp/cause-8-conflicting-cluster-configs", "error", second.source, `cause 8: node ${node} is selected by CiliumBGPClusterConfigs ${ccs.join(" and ")}: Cilium applies neither (ConflictingClusterConfig)`, "give the ClusterConfigs disjoint nodeSelectors or merge them"));
  }
  // cause 1: every peer references an existing PeerConfig
  const peerConfigs = new Set(model.bgp.peerConfigs.map((p) => p.name));
  for (const cc of model.bgp.clusterConfigs) {
    cc.spec.bgpInstances.forEach((inst, i) => {
      if (inst.localASN === undefined)
        out.push(finding("bgp/local-asn", "error", where(model, cc.source, ["spec", "bgpInstances", i]), `BGP instance ${inst.name} has no localASN`, "set localASN (the cluster's private ASN)"));
      (inst.peers ?? []).forEach((p, j) => {
        const base: PathSeg[] = ["spec", "bgpInstances", i, "peers", j];
        if (p.peerAddress !== undefined && !isIP(p.peerAddress))
          out.push(finding("bgp/peer-address", "error", where(model, cc.source, [...base, "peerAddress"]), `peer ${p.name}: "${p.peerAddress}" is not an IP address`, "write the router's address"));
        if (!p.peerConfigRef?.name)
          out.push(finding("bgp/cause-1-missing-peer-config", "error", where(model, cc.source, base), `cause 1: peer ${p.name} has no peerConfigRef: the session comes up but no family and no route is configured`, "add peerConfigRef: {name: <CiliumBGPPeerConfig>}"));
        else if (!peerConfigs.has(p.peerConfigRef.name))
          out.push(finding("bgp/cause-1-missing-peer-config", "error", where(model, cc.source, [...base, "peerConfigRef", "name"]), `cause 1: peer ${p.name} references CiliumBGPPeerConfig ${p.peerConfigRef.name}, which does not exist (MissingPeerConfigs)`, `create CiliumBGPPeerConfig ${p.peerConfigRef.name} or fix the name`));
      });
    });
  }
  return out;
}

interface Chain {
  /** advertisements selected by some family of some referenced peer config */
  selected: Set<BgpAdvertisement>;
}

function peerConfigFindings(model: ClusterModel): { out: Finding[]; chain: Chain } {
  const out: Finding[] = [];
  const selected = new Set<BgpAdvertisement>();
  const referenced = new Set(model.bgp.peers.map((p) => p.peerConfigRef).filter(Boolean));
  const hasV6Pools = model.pools.some((p) => p.blocks.some((b) => ("cidr" in b ? b.cidr : b.start).includes(":")));
  const hasV6Peer = model.bgp.peers.some((p) => p.family === "ipv6");
  for (const pc of model.bgp.peerConfigs) {
    const fams = pc.spec.families;
    if (!fams || fams.length === 0) {
      out.push(finding("bgp/cause-2-no-families", "error", where(model, pc.source, pc.spec && Object.keys(pc.spec).length ? ["spec"] : []), `cause 2: CiliumBGPPeerConfig ${pc.name} has no families: the defaults (ipv4 + ipv6 unicast) select NO advertisements, so nothing is announced`, "add families: [{afi: ipv4, safi: unicast, advertisements: {matchLabels: {advertise: bgp}}}] (and the ipv6 family)"));
      continue;
    }
    const unselected: number[] = [];
    fams.forEach((f, i) => {
      const fp: PathSeg[] = ["spec", "families", i];
      if (!f.advertisements) {
        out.push(finding("bgp/cause-2-family-without-advertisements", "error", where(model, pc.source, fp), `cause 2: family ${f.afi}/${f.safi} of CiliumBGPPeerConfig ${pc.name} has no advertisements selector: nothing is announced for it`, "add advertisements: {matchLabels: {advertise: bgp}} and the same label on the CiliumBGPAdvertisement"));
        return;
      }
      const hits = model.bgp.advertisements.filter((a) => matchesSelector(a.labels, f.advertisements as LabelSelector, false));
      if (hits.length === 0) unselected.push(i);
      for (const h of hits) selected.add(h);
    });
    if (unselected.length > 0) {
      const first = unselected[0]!;
      const sel = fams[first]!.advertisements as LabelSelector;
      out.push(finding("bgp/cause-3-advertisement-not-selected", "error", where(model, pc.source, ["spec", "families", first, "advertisements"]), `cause 3: the advertisements selector (${describeSelector(sel)}) of CiliumBGPPeerConfig ${pc.name} (${unselected.map((i) => fams[i]!.afi).join(", ")}) matches no CiliumBGPAdvertisement's labels`, `label the CiliumBGPAdvertisement with ${describeSelector(sel)} (metadata.labels)`));
    }
    if (referenced.has(pc.name)) {
      const v6 = fams.some((f) => f.afi === "ipv6");
      if (hasV6Pools && !v6)
        out.push(finding("bgp/cause-9-no-ipv6-family", "error", where(model, pc.source, ["spec", "families"]), `cause 9: CiliumBGPPeerConfig ${pc.name} has only ${fams.map((f) => f.afi).join(", ")} while IPv6 LB pools exist: IPv6 LB IPs are never sent`, "add the family {afi: ipv6, safi: unicast, advertisements: ...}"));
      if (v6 && !hasV6Peer && hasV6Pools)
        out.push(finding("bgp/cause-9-ipv6-over-ipv4", "error", where(model, pc.source, ["spec", "families"]), `cause 9: IPv6 routes of CiliumBGPPeerConfig ${pc.name} travel only over IPv4 sessions and get an IPv4-mapped next hop the router cannot use (cilium#37831)`, "add a second peer with the router's IPv6 peerAddress"));
    }
  }
  return { out, chain: { selected } };
}

function advertisementFindings(model: ClusterModel, chain: Chain): Finding[] {
  const out: Finding[] = [];
  const lb = model.services.filter(isLoadBalancerService);
  const poolNames = new Set(model.pools.map((p) => p.name));
  const advertised = new Set<Service>();
  for (const a of model.bgp.advertisements) {
    a.spec.advertisements.forEach((entry, i) => {
      if (entry.advertisementType !== "Service") return;
      const ep: PathSeg[] = ["spec", "advertisements", i];
      if (!entry.service) {
        out.push(finding("bgp/cause-4-no-service-block", "error", where(model, a.source, ep), `cause 4: Service advertisement ${i} of ${a.name} has no \`service\` block: no address type is announced`, "add service: {addresses: [LoadBalancerIP]}"));
        return;
      }
      if (!entry.service.addresses.includes("LoadBalancerIP")) {
        out.push(finding("bgp/cause-5-no-loadbalancerip", "error", where(model, a.source, [...ep, "service", "addresses"]), `cause 5: advertisement ${a.name} announces ${entry.service.addresses.join(", ") || "no addresses"} but not LoadBalancerIP: LB IPs are never announced`, "add LoadBalancerIP to service.addresses"));
        return;
      }
      if (!entry.selector) {
        out.push(finding("bgp/cause-4-no-selector", "error", where(model, a.source, ep), `cause 4: Service advertisement ${i} of ${a.name} has no selector: it matches NO Service (cilium#33076)`, "match every Service with selector: {matchExpressions: [{key: somekey, operator: NotIn, values: [never-used-value]}]}"));
        return;
      }
      const exprs = entry.selector.matchExpressions ?? [];
      const badNotIn = exprs.findIndex((e) => (e.operator === "NotIn" || e.operator === "In") && (e.values ?? []).length === 0);
      if (badNotIn >= 0) {
        out.push(finding("bgp/cause-4-empty-values", "error", where(model, a.source, [...ep, "selector", "matchExpressions", badNotIn]), `cause 4: ${exprs[badNotIn]!.operator} with empty values is an invalid selector (cilium#23280): the advertisement matches nothing`, "give values at least one entry (e.g. [never-used-value])"));
        return;
      }
      const hits = lb.filter((s) => matchesSelector(ciliumServiceLabels(s), entry.selector as LabelSelector, false));
      if (chain.selected.has(a)) for (const s of hits) advertised.add(s);
      if (lb.length > 0 && hits.length === 0) {
        const sel = entry.selector as LabelSelector;
        const mentionsPool =
          Object.entries(sel.matchLabels ?? {}).some(([k, v]) => poolNames.has(v) || /pool/i.test(k)) ||
          exprs.some((e) => /pool/i.test(e.key) || (e.values ?? []).some((v) => poolNames.has(v)));
        if (mentionsPool)
          out.push(finding("bgp/cause-10-selects-by-pool", "error", where(model, a.source, [...ep, "selector"]), `cause 10: advertisement ${a.name} tries to select by pool (${describeSelector(sel)}), but the selector matches Service labels only and no LoadBalancer Service carries them`, "label the Services, and use that label in both the pool's serviceSelector and this selector"));
        else
          out.push(finding("bgp/cause-4-selector-matches-no-service", "error", where(model, a.source, [...ep, "selector"]), `cause 4: advertisement ${a.name}'s selector (${describeSelector(sel)}) matches no LoadBalancer Service: nothing is announced`, "use a label the Services carry, or match all with {key: somekey, operator: NotIn, values: [never-used-value]}"));
      }
    });
  }
  // every LB Service is advertised by a selected advertisement (once some advertisement works at all)
  if (advertised.size > 0)
    for (const s of lb) {
      if (advertised.has(s)) continue;
      out.push(finding("bgp/service-not-advertised", "error", s.source, `LoadBalancer Service ${s.namespace ? s.namespace + "/" : ""}${s.name} is matched by no advertisement a peer selects: its IP is never announced`, "widen the advertisement selector, or label the Service"));
    }
  // cause 5: a load balancer class Cilium's BGP does not serve
  for (const s of model.services)
    if (s.type === "LoadBalancer" && s.loadBalancerClass !== undefined && s.loadBalancerClass !== "io.cilium/bgp-control-plane")
      out.push(finding("bgp/cause-5-load-balancer-class", "error", s.source, `cause 5: Service ${s.name} has loadBalancerClass ${s.loadBalancerClass}: Cilium's BGP control plane ignores it`, "remove loadBalancerClass or set io.cilium/bgp-control-plane"));
  return out;
}

function controlPlane(model: ClusterModel): Finding[] {
  const hasBgp = model.bgp.clusterConfigs.length + model.bgp.advertisements.length + model.bgp.peerConfigs.length > 0;
  if (!hasBgp) return [];
  const cp = model.bgp.controlPlaneEnabled;
  if (cp?.value === true) return [];
  const cilium = model.helmReleases.find((h) => h.chart === "cilium");
  const src = cp?.source ?? (cilium ? where(model, cilium.source, ["spec", "values"]) : model.versions.cilium.source);
  return [finding("bgp/cause-12-control-plane-disabled", "error", src, `cause 12: bgpControlPlane.enabled is ${cp ? "false" : "not set (default false)"} in the Cilium HelmRelease: the BGP objects do nothing`, "set values.bgpControlPlane.enabled: true")];
}

export function bgpCheck(model: ClusterModel): Finding[] {
  const pc = peerConfigFindings(model);
  return [...apiVersions(model), ...clusterConfigs(model), ...pc.out, ...advertisementFindings(model, pc.chain), ...controlPlane(model)];
}

export type { BgpPeerConfig };
