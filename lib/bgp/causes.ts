/**
 * Every known reason Cilium's BGP control plane (1.17, BGP v2) silently does not get a LoadBalancer IP to the
 * router, numbered as in the project's reference (cilium-bgp.md), plus two that are not in that list: a BGP
 * session that is not established ("session"), and a shortfall the configuration does not explain ("unexplained"). Each diagnosis names one of these ids, a message about the concrete objects,
 * and the fix.
 */

export type CauseId = 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 | 10 | 11 | 12 | "session" | "unexplained";

export interface CauseInfo {
  id: CauseId;
  title: string;
  /** the generic fix; diagnoses add a concrete one */
  fix: string;
}

export const CAUSES: Readonly<Record<string, CauseInfo>> = {
  "1": {
    id: 1,
    title: "peer has no peerConfigRef, or the referenced CiliumBGPPeerConfig does not exist",
    fix: "give the peer `peerConfigRef: {name: <peer config>}` in the CiliumBGPClusterConfig and create that CiliumBGPPeerConfig",
  },
  "2": {
    id: 2,
    title: "the CiliumBGPPeerConfig has no families, or a family has no advertisements selector",
    fix: "add `families: [{afi: ipv4, safi: unicast, advertisements: {matchLabels: {advertise: bgp}}}]` (and ipv6) to the CiliumBGPPeerConfig",
  },
  "3": {
    id: 3,
    title: "the family's advertisements selector matches no CiliumBGPAdvertisement labels",
    fix: "make the family's `advertisements` selector match the labels of a CiliumBGPAdvertisement (e.g. label it `advertise: bgp`)",
  },
  "4": {
    id: 4,
    title: "the Service advertisement has no selector (or no service block), which matches no Service",
    fix: "give the Service advertisement `service: {addresses: [LoadBalancerIP]}` and a `selector`; to match every Service use `selector: {matchExpressions: [{key: somekey, operator: NotIn, values: [never-used-value]}]}`",
  },
  "5": {
    id: 5,
    title: "the Service does not qualify (addresses lacks LoadBalancerIP, not type LoadBalancer, or another loadBalancerClass)",
    fix: "make the Service `type: LoadBalancer` without a foreign loadBalancerClass, and list `LoadBalancerIP` in the advertisement's `service.addresses`",
  },
  "6": {
    id: 6,
    title: "externalTrafficPolicy: Local and no node has a local endpoint",
    fix: "start the Service's pods (or use externalTrafficPolicy: Cluster)",
  },
  "7": {
    id: 7,
    title: "LB-IPAM never assigned an IP (no pool selects the Service, pool disabled or exhausted)",
    fix: "make a CiliumLoadBalancerIPPool's serviceSelector match the Service, enable the pool, or enlarge it",
  },
  "8": {
    id: 8,
    title: "no CiliumBGPClusterConfig selects the node (or two do, or a legacy CiliumBGPPeeringPolicy does)",
    fix: "make exactly one CiliumBGPClusterConfig's nodeSelector match the node and delete CiliumBGPPeeringPolicy objects",
  },
  "9": {
    id: 9,
    title: "IPv6: the peer config lacks the ipv6 family, or IPv6 rides an IPv4 session (IPv4-mapped next hop)",
    fix: "add the ipv6 unicast family to the CiliumBGPPeerConfig and peer with the router over IPv6 (a second peer with an IPv6 peerAddress)",
  },
  "10": {
    id: 10,
    title: "the advertisement selector matches no Service labels (it cannot select by pool)",
    fix: "label the Services and use that label in both the pool's serviceSelector and the advertisement's selector",
  },
  "11": {
    id: 11,
    title: "the router drops the routes: FRR's ebgp-requires-policy without a matching inbound route-map",
    fix: "upload the router config from `bun scripts/bgp-router-config.ts` (inbound route-maps permitting the LB pools)",
  },
  "12": {
    id: 12,
    title: "the BGP control plane is not enabled in Cilium's Helm values",
    fix: "set `bgpControlPlane.enabled: true` in the Cilium HelmRelease values",
  },
  session: {
    id: "session",
    title: "the BGP session between the node and the router is not established",
    fix: "check the peer's peerAddress/peerASN against the router's ASN, the router's listen range or neighbor for the node's address, and TCP 179 between them",
  },
  unexplained: {
    id: "unexplained",
    title: "Cilium advertises fewer routes than its configuration says it should",
    fix: "on the node run `cilium-dbg bgp routes advertised ipv4 unicast` (and ipv6) and compare with the expected prefixes; check the Service's endpoints",
  },
};

export function causeInfo(id: CauseId): CauseInfo {
  return CAUSES[String(id)]!;
}
