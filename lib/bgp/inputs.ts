/**
 * BgpInputs from the two places they come from: the repo (lib/repo's ClusterModel: what is declared) and a live
 * cluster (raw Kubernetes objects as the API returns them: what is running, including LB-IPAM's assigned IPs and
 * each node's CiliumBGPNodeConfig status).
 */
import { loadRepo, type ClusterModel } from "../repo/model.ts";
import { announcedServices } from "./expected.ts";
import { parseNodeConfig } from "./cilium.ts";
import { isIP, family as familyOf } from "../net/index.ts";
import type { LabelSelector } from "../kube/selector.ts";
import type {
  AdvertisementInput,
  BgpInputs,
  BgpNodeInput,
  ClusterConfigInput,
  ConditionInput,
  PeerConfigInput,
  PeeringPolicyInput,
  PoolInput,
  ServiceInput,
} from "./types.ts";

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const labelsOf = (v: unknown): Record<string, string> => {
  const out: Record<string, string> = {};
  if (isObject(v)) for (const [k, x] of Object.entries(v)) if (typeof x === "string") out[k] = x;
  return out;
};
const get = (v: unknown, ...path: string[]): unknown => {
  let cur = v;
  for (const p of path) cur = isObject(cur) ? cur[p] : undefined;
  return cur;
};

function selector(v: unknown): LabelSelector | undefined {
  if (!isObject(v)) return undefined;
  const sel: LabelSelector = {};
  if (isObject(v.matchLabels)) sel.matchLabels = labelsOf(v.matchLabels);
  if (Array.isArray(v.matchExpressions))
    sel.matchExpressions = v.matchExpressions.filter(isObject).map((r) => ({
      key: str(r.key) ?? "",
      operator: str(r.operator) ?? "",
      ...(Array.isArray(r.values) ? { values: r.values.map(String) } : {}),
    }));
  return sel;
}

const num = (v: unknown): number | undefined => (typeof v === "number" ? v : undefined);

/**
 * A CiliumBGPPeeringPolicy spec as written (repo) or returned (API). Keeps the difference between an absent
 * serviceSelector (nil: no Service) and `{}` (every Service), and between absent serviceAdvertisements (default
 * [LoadBalancerIP]) and `[]` (nothing).
 */
export function peeringPolicyOf(name: string, spec: unknown): PeeringPolicyInput {
  const nodeSelector = selector(get(spec, "nodeSelector"));
  return {
    name,
    ...(nodeSelector ? { nodeSelector } : {}),
    virtualRouters: arr(get(spec, "virtualRouters"))
      .filter(isObject)
      .map((vr) => {
        const serviceSelector = selector(vr.serviceSelector);
        const podIPPoolSelector = selector(vr.podIPPoolSelector);
        return {
          ...(num(vr.localASN) !== undefined ? { localASN: num(vr.localASN)! } : {}),
          ...(typeof vr.exportPodCIDR === "boolean" ? { exportPodCIDR: vr.exportPodCIDR } : {}),
          ...(serviceSelector ? { serviceSelector } : {}),
          ...(podIPPoolSelector ? { podIPPoolSelector } : {}),
          ...(Array.isArray(vr.serviceAdvertisements) ? { serviceAdvertisements: vr.serviceAdvertisements.map(String) } : {}),
          neighbors: arr(vr.neighbors)
            .filter(isObject)
            .map((n) => {
              const gr = n.gracefulRestart;
              return {
                peerAddress: str(n.peerAddress) ?? "",
                ...(num(n.peerASN) !== undefined ? { peerASN: num(n.peerASN)! } : {}),
                ...(num(n.peerPort) !== undefined ? { peerPort: num(n.peerPort)! } : {}),
                ...(Array.isArray(n.families) ? { families: n.families.filter(isObject).map((f) => ({ afi: str(f.afi) ?? "", safi: str(f.safi) ?? "" })) } : {}),
                ...(num(n.eBGPMultihopTTL) !== undefined ? { eBGPMultihopTTL: num(n.eBGPMultihopTTL)! } : {}),
                ...(num(n.connectRetryTimeSeconds) !== undefined ? { connectRetryTimeSeconds: num(n.connectRetryTimeSeconds)! } : {}),
                ...(num(n.holdTimeSeconds) !== undefined ? { holdTimeSeconds: num(n.holdTimeSeconds)! } : {}),
                ...(num(n.keepAliveTimeSeconds) !== undefined ? { keepAliveTimeSeconds: num(n.keepAliveTimeSeconds)! } : {}),
                ...(isObject(gr) ? { gracefulRestart: { enabled: gr.enabled === true, ...(num(gr.restartTimeSeconds) !== undefined ? { restartTimeSeconds: num(gr.restartTimeSeconds)! } : {}) } } : {}),
                ...(str(n.authSecretRef) ? { authSecretRef: str(n.authSecretRef)! } : {}),
                ...(Array.isArray(n.advertisedPathAttributes) ? { advertisedPathAttributes: n.advertisedPathAttributes } : {}),
              };
            }),
        };
      }),
  };
}

/** What the repo declares. Node labels come from the repo model (talconfig nodeLabels, Talos, the kubelet). */
export function inputsFromModel(model: ClusterModel): BgpInputs {
  const hasCilium = model.helmReleases.some((h) => h.chart === "cilium");
  const nodes: BgpNodeInput[] = model.nodes.map((n) => ({
    name: n.hostname,
    labels: n.labels,
    ipv4: n.ipv4,
    ...(n.ipv6 ? { ipv6: n.ipv6 } : {}),
  }));
  const services: ServiceInput[] = model.services.map((s) => ({
    namespace: s.namespace ?? "default",
    name: s.name,
    type: s.type,
    labels: s.labels,
    ...(s.loadBalancerClass !== undefined ? { loadBalancerClass: s.loadBalancerClass } : {}),
    ...(s.externalTrafficPolicy !== undefined ? { externalTrafficPolicy: s.externalTrafficPolicy } : {}),
    ipFamilies: s.ipFamilies,
    ...(s.ipFamilyPolicy !== undefined ? { ipFamilyPolicy: s.ipFamilyPolicy } : {}),
    requestedIPs: s.requestedIPs,
    ...(s.sharingKey ? { sharingKey: s.sharingKey } : {}),
  }));
  const peeringPolicies = model.bgp.peeringPolicies.map((p) => peeringPolicyOf(p.name, p.spec));
  return {
    // Cilium's chart default is false: an unset value means the control plane is off
    ...(hasCilium ? { controlPlaneEnabled: model.bgp.controlPlaneEnabled?.value ?? false } : {}),
    nodes,
    pools: model.pools.map((p) => ({
      name: p.name,
      blocks: p.blocks.map((b) => ("cidr" in b ? { cidr: b.cidr } : { start: b.start, stop: b.stop })),
      ...(p.serviceSelector ? { serviceSelector: p.serviceSelector } : {}),
      disabled: p.disabled,
      ...(p.allowFirstLastIPs ? { allowFirstLastIPs: p.allowFirstLastIPs } : {}),
    })),
    services,
    clusterConfigs: model.bgp.clusterConfigs as ClusterConfigInput[],
    peerConfigs: model.bgp.peerConfigs as PeerConfigInput[],
    advertisements: model.bgp.advertisements as AdvertisementInput[],
    peeringPolicies,
  };
}

/** Raw objects from a live cluster, as lists of what the API returned. */
export interface LiveObjects {
  nodes: unknown[];
  services: unknown[];
  pools: unknown[];
  clusterConfigs: unknown[];
  peerConfigs: unknown[];
  advertisements: unknown[];
  peeringPolicies: unknown[];
  nodeConfigs: unknown[];
  /** discovery.k8s.io/v1 EndpointSlices (for externalTrafficPolicy: Local); omit when not read */
  endpointSlices?: unknown[];
  /** kube-system/cilium-config ConfigMap; omit when not read */
  ciliumConfig?: unknown;
}

function conditions(v: unknown): ConditionInput[] {
  return arr(v)
    .filter(isObject)
    .map((c) => ({
      type: str(c.type) ?? "",
      status: str(c.status) ?? "",
      ...(str(c.reason) ? { reason: str(c.reason)! } : {}),
      ...(str(c.message) ? { message: str(c.message)! } : {}),
    }));
}

function nodeFromLive(o: unknown): BgpNodeInput | undefined {
  const name = str(get(o, "metadata", "name"));
  if (!name) return undefined;
  const node: BgpNodeInput = { name, labels: labelsOf(get(o, "metadata", "labels")) };
  for (const a of arr(get(o, "status", "addresses"))) {
    if (!isObject(a) || a.type !== "InternalIP" || typeof a.address !== "string" || !isIP(a.address)) continue;
    if (familyOf(a.address) === "ipv4") node.ipv4 ??= a.address;
    else node.ipv6 ??= a.address;
  }
  return node;
}

function serviceFromLive(o: unknown, slices: unknown[] | undefined): ServiceInput | undefined {
  const name = str(get(o, "metadata", "name"));
  if (!name) return undefined;
  const namespace = str(get(o, "metadata", "namespace")) ?? "default";
  const spec = get(o, "spec");
  const annotations = labelsOf(get(o, "metadata", "annotations"));
  const requested = [
    ...(annotations["lbipam.cilium.io/ips"] ?? annotations["io.cilium/lb-ipam-ips"] ?? "").split(","),
    str(get(spec, "loadBalancerIP")) ?? "",
  ]
    .map((x) => x.trim())
    .filter(Boolean);
  const ingress = arr(get(o, "status", "loadBalancer", "ingress"))
    .map((i) => str(get(i, "ip")))
    .filter((x): x is string => x !== undefined);
  const s: ServiceInput = {
    namespace,
    name,
    type: str(get(spec, "type")) ?? "ClusterIP",
    labels: labelsOf(get(o, "metadata", "labels")),
    ipFamilies: arr(get(spec, "ipFamilies")).map(String),
    ingressIPs: ingress,
    requestedIPs: requested,
    conditions: conditions(get(o, "status", "conditions")),
  };
  const sharingKey = annotations["lbipam.cilium.io/sharing-key"];
  if (sharingKey) s.sharingKey = sharingKey;
  const cls = str(get(spec, "loadBalancerClass"));
  if (cls !== undefined) s.loadBalancerClass = cls;
  const etp = str(get(spec, "externalTrafficPolicy"));
  if (etp !== undefined) s.externalTrafficPolicy = etp;
  const ifp = str(get(spec, "ipFamilyPolicy"));
  if (ifp !== undefined) s.ipFamilyPolicy = ifp;
  if (slices !== undefined && etp === "Local") {
    const nodes = new Set<string>();
    for (const sl of slices) {
      if (str(get(sl, "metadata", "namespace")) !== namespace) continue;
      if (labelsOf(get(sl, "metadata", "labels"))["kubernetes.io/service-name"] !== name) continue;
      for (const ep of arr(get(sl, "endpoints"))) {
        const ready = get(ep, "conditions", "ready");
        const nodeName = str(get(ep, "nodeName"));
        if (nodeName && ready !== false) nodes.add(nodeName);
      }
    }
    s.localEndpointNodes = [...nodes];
  }
  return s;
}

function poolFromLive(o: unknown): PoolInput | undefined {
  const name = str(get(o, "metadata", "name"));
  if (!name) return undefined;
  const spec = get(o, "spec");
  const blocks = arr(get(spec, "blocks") ?? get(spec, "cidrs"))
    .filter(isObject)
    .map((b) => (str(b.cidr) ? { cidr: str(b.cidr)! } : { start: str(b.start) ?? "", ...(str(b.stop) ? { stop: str(b.stop)! } : {}) }));
  const alf = str(get(spec, "allowFirstLastIPs"));
  const sel = selector(get(spec, "serviceSelector"));
  return {
    name,
    blocks,
    disabled: get(spec, "disabled") === true,
    ...(sel ? { serviceSelector: sel } : {}),
    ...(alf === "Yes" || alf === "No" ? { allowFirstLastIPs: alf } : {}),
  };
}

function clusterConfigFromLive(o: unknown): ClusterConfigInput | undefined {
  const name = str(get(o, "metadata", "name"));
  if (!name) return undefined;
  const spec = get(o, "spec");
  const nodeSelector = selector(get(spec, "nodeSelector"));
  return {
    name,
    spec: {
      ...(nodeSelector ? { nodeSelector } : {}),
      bgpInstances: arr(get(spec, "bgpInstances"))
        .filter(isObject)
        .map((i) => ({
          name: str(i.name) ?? "",
          ...(typeof i.localASN === "number" ? { localASN: i.localASN } : {}),
          peers: arr(i.peers)
            .filter(isObject)
            .map((p) => ({
              name: str(p.name) ?? "",
              ...(str(p.peerAddress) ? { peerAddress: str(p.peerAddress)! } : {}),
              ...(typeof p.peerASN === "number" ? { peerASN: p.peerASN } : {}),
              ...(isObject(p.peerConfigRef) && str(p.peerConfigRef.name) ? { peerConfigRef: { name: str(p.peerConfigRef.name)! } } : {}),
            })),
        })),
    },
    conditions: conditions(get(o, "status", "conditions")),
  };
}

function peerConfigFromLive(o: unknown): PeerConfigInput | undefined {
  const name = str(get(o, "metadata", "name"));
  if (!name) return undefined;
  const spec = get(o, "spec");
  const families = get(spec, "families");
  const gr = get(spec, "gracefulRestart");
  return {
    name,
    spec: {
      ...(Array.isArray(families)
        ? {
            families: families.filter(isObject).map((f) => {
              const adv = selector(f.advertisements);
              return { afi: str(f.afi) ?? "", safi: str(f.safi) ?? "", ...(adv ? { advertisements: adv } : {}) };
            }),
          }
        : {}),
      ...(isObject(gr) ? { gracefulRestart: { enabled: gr.enabled === true } } : {}),
      ...(str(get(spec, "authSecretRef")) ? { authSecretRef: str(get(spec, "authSecretRef"))! } : {}),
    },
  };
}

function advertisementFromLive(o: unknown): AdvertisementInput | undefined {
  const name = str(get(o, "metadata", "name"));
  if (!name) return undefined;
  return {
    name,
    labels: labelsOf(get(o, "metadata", "labels")),
    spec: {
      advertisements: arr(get(o, "spec", "advertisements"))
        .filter(isObject)
        .map((a) => {
          const sel = selector(a.selector);
          const svc = a.service;
          return {
            advertisementType: str(a.advertisementType) ?? "",
            ...(sel ? { selector: sel } : {}),
            ...(isObject(svc) ? { service: { addresses: arr(svc.addresses).map(String) } } : {}),
          };
        }),
    },
  };
}

const defined = <T>(x: T | undefined): x is T => x !== undefined;

/** What a live cluster runs. `enable-bgp-control-plane` of the cilium-config ConfigMap decides cause 12. */
export function inputsFromLive(live: LiveObjects): BgpInputs {
  const cfgValue = str(get(live.ciliumConfig, "data", "enable-bgp-control-plane"));
  return {
    ...(cfgValue !== undefined ? { controlPlaneEnabled: cfgValue.trim().toLowerCase() === "true" } : {}),
    nodes: live.nodes.map(nodeFromLive).filter(defined),
    pools: live.pools.map(poolFromLive).filter(defined),
    services: live.services.map((s) => serviceFromLive(s, live.endpointSlices)).filter(defined),
    clusterConfigs: live.clusterConfigs.map(clusterConfigFromLive).filter(defined),
    peerConfigs: live.peerConfigs.map(peerConfigFromLive).filter(defined),
    advertisements: live.advertisements.map(advertisementFromLive).filter(defined),
    peeringPolicies: live.peeringPolicies
      .map((p) => {
        const name = str(get(p, "metadata", "name"));
        return name ? peeringPolicyOf(name, get(p, "spec")) : undefined;
      })
      .filter(defined),
    nodeConfigs: live.nodeConfigs.map(parseNodeConfig),
  };
}

/**
 * The LoadBalancer Services the repo at `root` declares for BGP (namespace/name), to tell a live cluster with none
 * from a repo without any. A repo that does not load declares none as far as this check goes.
 */
export function declaredLoadBalancers(root: string, load: (root: string) => ClusterModel = (r) => loadRepo(r, { mode: "lenient" })): string[] {
  try {
    return announcedServices(inputsFromModel(load(root))).map((s) => `${s.namespace}/${s.name}`);
  } catch {
    return [];
  }
}

/** BGP v2 objects as written (manifests, e.g. the ones bgp-migrate renders) as rulebook inputs. */
export function v2InputsFromObjects(objects: unknown[]): Pick<BgpInputs, "clusterConfigs" | "peerConfigs" | "advertisements"> {
  const of = (kind: string) => objects.filter((o) => get(o, "kind") === kind);
  return {
    clusterConfigs: of("CiliumBGPClusterConfig").map(clusterConfigFromLive).filter(defined),
    peerConfigs: of("CiliumBGPPeerConfig").map(peerConfigFromLive).filter(defined),
    advertisements: of("CiliumBGPAdvertisement").map(advertisementFromLive).filter(defined),
  };
}
