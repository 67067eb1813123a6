/**
 * What lib/bgp reasons about, in one shape whether it came from the repo (lib/repo's ClusterModel) or from a live
 * cluster (the Kubernetes API): Cilium's BGP v2 objects and legacy v1 policies, LB-IPAM pools, LoadBalancer
 * Services, nodes and each node's CiliumBGPNodeConfig status. Structural subsets of the model's types, so model
 * objects pass as they are.
 */
import type { LabelSelector } from "../kube/selector.ts";
import type { Afi } from "./frr.ts";

export type { Afi } from "./frr.ts";
export type { LabelSelector } from "../kube/selector.ts";

export interface BgpNodeInput {
  name: string;
  labels: Record<string, string>;
  /** InternalIP addresses: the node dials the router from these */
  ipv4?: string;
  ipv6?: string;
}

export interface PoolBlockInput {
  cidr?: string;
  start?: string;
  stop?: string;
}

export interface PoolInput {
  name: string;
  blocks: PoolBlockInput[];
  serviceSelector?: LabelSelector;
  disabled: boolean;
  allowFirstLastIPs?: "Yes" | "No";
}

export interface ConditionInput {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

export interface ServiceInput {
  namespace: string;
  name: string;
  type: string;
  labels: Record<string, string>;
  loadBalancerClass?: string;
  externalTrafficPolicy?: string;
  /** spec.ipFamilies (IPv4 / IPv6) */
  ipFamilies?: string[];
  ipFamilyPolicy?: string;
  /** `.status.loadBalancer.ingress[].ip`; undefined when unknown (read from the repo, not a live cluster) */
  ingressIPs?: string[];
  /** `lbipam.cilium.io/ips` and spec.loadBalancerIP */
  requestedIPs: string[];
  conditions?: ConditionInput[];
  /** nodes with a ready local endpoint (for externalTrafficPolicy: Local); undefined = not known */
  localEndpointNodes?: string[];
  /** `lbipam.cilium.io/sharing-key`: Services with one key may share an address */
  sharingKey?: string;
}

export interface PeerInput {
  name: string;
  peerAddress?: string;
  peerASN?: number;
  peerConfigRef?: { name: string };
}

export interface ClusterConfigInput {
  name: string;
  spec: {
    nodeSelector?: LabelSelector;
    bgpInstances: Array<{ name: string; localASN?: number; peers?: PeerInput[] }>;
  };
  conditions?: ConditionInput[];
}

export interface PeerConfigInput {
  name: string;
  spec: {
    families?: Array<{ afi: string; safi: string; advertisements?: LabelSelector }>;
    gracefulRestart?: { enabled: boolean; restartTimeSeconds?: number };
    authSecretRef?: string;
    timers?: Record<string, number>;
  };
}

export interface AdvertisementInput {
  name: string;
  labels: Record<string, string>;
  spec: {
    advertisements: Array<{
      advertisementType: string;
      selector?: LabelSelector;
      service?: { addresses: string[] };
    }>;
  };
}

/** One neighbor of a v1 virtual router (cilium.io/v2alpha1 CiliumBGPNeighbor). */
export interface V1NeighborInput {
  /** as written: a CIDR, `x/32` or `x/128` */
  peerAddress: string;
  peerASN?: number;
  peerPort?: number;
  /** undefined = the default ipv4 + ipv6 unicast */
  families?: Array<{ afi: string; safi: string }>;
  eBGPMultihopTTL?: number;
  connectRetryTimeSeconds?: number;
  holdTimeSeconds?: number;
  keepAliveTimeSeconds?: number;
  gracefulRestart?: { enabled: boolean; restartTimeSeconds?: number };
  authSecretRef?: string;
  advertisedPathAttributes?: unknown[];
}

/** One virtual router of a CiliumBGPPeeringPolicy. A nil serviceSelector is `undefined`, `{}` is an empty object. */
export interface VirtualRouterInput {
  localASN?: number;
  exportPodCIDR?: boolean;
  podIPPoolSelector?: LabelSelector;
  serviceSelector?: LabelSelector;
  /** undefined = the default [LoadBalancerIP]; an explicit [] announces nothing */
  serviceAdvertisements?: string[];
  neighbors: V1NeighborInput[];
}

/** The legacy BGP v1 control plane's one object (cilium.io/v2alpha1 CiliumBGPPeeringPolicy, cluster-scoped). */
export interface PeeringPolicyInput {
  name: string;
  /** undefined or `{}` = every node */
  nodeSelector?: LabelSelector;
  virtualRouters: VirtualRouterInput[];
}

export interface RouteCount {
  afi: string;
  safi: string;
  advertised?: number;
  received?: number;
}

/** One peer of one instance in a CiliumBGPNodeConfig status. */
export interface NodePeerStatus {
  instance: string;
  name: string;
  peerAddress?: string;
  peerASN?: number;
  /** unknown | idle | connect | active | open_sent | open_confirm | established */
  peeringState?: string;
  routeCount: RouteCount[];
}

export interface NodeConfigStatus {
  node: string;
  peers: NodePeerStatus[];
}

export interface BgpInputs {
  /** `bgpControlPlane.enabled` of Cilium's Helm values; undefined = not known */
  controlPlaneEnabled?: boolean;
  nodes: BgpNodeInput[];
  pools: PoolInput[];
  services: ServiceInput[];
  clusterConfigs: ClusterConfigInput[];
  peerConfigs: PeerConfigInput[];
  advertisements: AdvertisementInput[];
  peeringPolicies: PeeringPolicyInput[];
  /** live only: the operator's CiliumBGPNodeConfig per node (absent for a node = the operator made none) */
  nodeConfigs?: NodeConfigStatus[];
}

export const BGP_LB_CLASS = "io.cilium/bgp-control-plane";

/** An object a diagnosis names: kind and name (`namespace/name` for Services). */
export interface ObjectRef {
  kind: string;
  name: string;
}

export function afiOfFamilyName(name: string): Afi | undefined {
  const n = name.toLowerCase();
  return n === "ipv4" ? "ipv4" : n === "ipv6" ? "ipv6" : undefined;
}
