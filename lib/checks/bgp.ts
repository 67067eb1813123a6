import { isIP } from "../net/index.ts";
import { writtenObject } from "../repo/load.ts";
import type { ClusterModel, Source } from "../repo/model.ts";
import { bgpDiagnoses, findingIdOf, inputsFromModel, ruleInfo, type Diagnosis, type ObjectRef } from "../bgp/index.ts";
import { at, docAt, get, type PathSeg } from "./locate.ts";
import { finding, type Finding } from "./types.ts";

/**
 * bgp: validate's view of the Cilium rulebook (lib/bgp): every BGP v2 and v1 diagnosis lib/bgp finds in the repo's
 * objects (causes 1-5, 8-10, 12-16; cause 7 is the ipam family's, 6 and 11 need the live cluster and the router),
 * placed at the object's line, plus what the rulebook does not judge: API versions, cluster-scoped kinds given a
 * namespace, instance and peer shapes.
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
    // only a namespace written on the object itself: the one a kustomization `namespace:` or a Flux
    // targetNamespace stamps on every object it builds is dropped by the API server for a cluster-scoped kind, so
    // the repo is right as it is (cluster-template's pools live under a Flux Kustomization with targetNamespace)
    const ns = get(writtenObject(d), "metadata", "namespace");
    if (typeof ns === "string")
      out.push(finding("bgp/cluster-scoped-namespace", "warning", at(d, ["metadata", "namespace"]), `${d.kind} ${d.name ?? ""} is cluster-scoped: its namespace "${ns}" is ignored`, "remove metadata.namespace"));
  }
  return out;
}

/** Non-cause shape problems of a ClusterConfig's instances and peers (the causes are the rulebook's). */
function clusterConfigShape(model: ClusterModel): Finding[] {
  const out: Finding[] = [];
  for (const cc of model.bgp.clusterConfigs)
    cc.spec.bgpInstances.forEach((inst, i) => {
      if (inst.localASN === undefined)
        out.push(finding("bgp/local-asn", "error", where(model, cc.source, ["spec", "bgpInstances", i]), `BGP instance ${inst.name} has no localASN`, "set localASN (the cluster's private ASN)"));
      (inst.peers ?? []).forEach((p, j) => {
        if (p.peerAddress !== undefined && !isIP(p.peerAddress))
          out.push(finding("bgp/peer-address", "error", where(model, cc.source, ["spec", "bgpInstances", i, "peers", j, "peerAddress"]), `peer ${p.name}: "${p.peerAddress}" is not an IP address`, "write the router's address"));
      });
    });
  return out;
}

/** Where a rulebook object lives in the repo (file and line of the object, or of `path` inside it). */
export function locateObject(model: ClusterModel, ref: ObjectRef, path: PathSeg[] = []): Source | undefined {
  const named = <T extends { name: string; source: Source }>(xs: T[]) => xs.find((x) => x.name === ref.name)?.source;
  let src: Source | undefined;
  switch (ref.kind) {
    case "CiliumBGPClusterConfig":
      src = named(model.bgp.clusterConfigs);
      break;
    case "CiliumBGPPeerConfig":
      src = named(model.bgp.peerConfigs);
      break;
    case "CiliumBGPAdvertisement":
      src = named(model.bgp.advertisements);
      break;
    case "CiliumBGPPeeringPolicy":
      src = named(model.bgp.peeringPolicies);
      break;
    case "CiliumLoadBalancerIPPool":
      src = named(model.pools);
      break;
    case "Service":
      src = model.services.find((s) => `${s.namespace ?? "default"}/${s.name}` === ref.name)?.source;
      break;
    case "HelmRelease": {
      if (model.bgp.controlPlaneEnabled?.source) return model.bgp.controlPlaneEnabled.source;
      const cilium = model.helmReleases.find((h) => h.chart === "cilium");
      return cilium ? where(model, cilium.source, ["spec", "values"]) : model.versions.cilium.source;
    }
  }
  if (!src) return undefined;
  const d = docAt(model, src);
  if (!d) return src;
  // a path the document does not have (`spec` of an empty object) points at its nearest existing parent
  let p = path;
  while (p.length && get(d.object, ...p) === undefined) p = p.slice(0, -1);
  return at(d, p);
}

/** A rulebook diagnosis as a validate finding at its first object. */
export function ruleFinding(model: ClusterModel, d: Diagnosis): Finding | undefined {
  if (!d.rule || d.objects.length === 0) return undefined;
  const src = locateObject(model, d.objects[0]!, d.path ?? []);
  if (!src) return undefined;
  return finding(findingIdOf(d.rule), "error", src, `cause ${d.cause}: ${d.message}`, d.fix);
}

// the bgp and ipam families both read the rulebook's answer for one model: evaluate it once
const diagnosesOf = new WeakMap<ClusterModel, Diagnosis[]>();

/** The rulebook's diagnoses of one validate family (bgp or ipam), as findings. */
export function rulebookFindings(model: ClusterModel, family: "bgp" | "ipam"): Finding[] {
  let all = diagnosesOf.get(model);
  if (!all) diagnosesOf.set(model, (all = bgpDiagnoses(inputsFromModel(model))));
  return all
    .filter((d) => d.rule && ruleInfo(d.rule).family === family)
    .map((d) => ruleFinding(model, d))
    .filter((f): f is Finding => f !== undefined);
}

export function bgpCheck(model: ClusterModel): Finding[] {
  return [...apiVersions(model), ...clusterConfigShape(model), ...rulebookFindings(model, "bgp")];
}
