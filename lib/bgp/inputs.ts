/**
 * BgpInputs from the two places they come from: the repo (lib/repo's ClusterModel: what is declared) and a live
 * cluster (raw Kubernetes objects as the API returns them: what is running, including LB-IPAM's assigned IPs and
 * each node's CiliumBGPNodeConfig status).
 */
import type { ClusterModel } from "../repo/model.ts";
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

/** What the repo declares. Node labels are the ones the kubelet sets (hostname, control-plane role). */
export function inputsFromModel(model: ClusterModel): BgpInputs {
  const hasCilium = model.helmReleases.some((h) => h.chart === "cilium");
  const nodes: BgpNodeInput[] = model.nodes.map((n) => ({
    name: n.hostname,
    labels: {
      "kubernetes.io/hostname": n.hostname,
      "kubernetes.io/os": "linux",
      ...(n.controlPlane ? { "node-role.kubernetes.io/control-plane": "" } : {}),
    },
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
  }));
  const peeringPolicies: PeeringPolicyInput[] = model.bgp.peeringPolicies.map((p) => ({
    name: p.name,
    ...(selector(p.spec.nodeSelector) ? { nodeSelector: selector(p.spec.nodeSelector)! } : {}),
  }));
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
        if (!name) return undefined;
        const sel = selector(get(p, "spec", "nodeSelector"));
        return { name, ...(sel ? { nodeSelector: sel } : {}) };
      })
      .filter(defined),
    nodeConfigs: live.nodeConfigs.map(parseNodeConfig),
  };
}
