/**
 * Every known reason Cilium 1.17 silently does not get a LoadBalancer IP to the router, numbered: 1-12 as in the
 * project's reference (cilium-bgp.md, BGP v2 and LB-IPAM), 13-16 for the legacy BGP v1 control plane
 * (CiliumBGPPeeringPolicy, cilium-bgpv1-and-locks.md), plus a BGP session that is not established ("session") and a
 * shortfall nothing in the configuration explains ("unexplained").
 *
 * RULES is the one place a rule's cause number, finding id and fix text live: lib/bgp's evaluation names a rule,
 * validate (lib/checks/bgp.ts, ipam.ts) turns it into a finding `bgp/cause-<n>-<rule>` (or `ipam/<rule>`), and
 * bgp-verify prints the same cause and fix for the routes the rule keeps from the router.
 */

export type CauseId = 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 | 10 | 11 | 12 | 13 | 14 | 15 | 16 | "session" | "unexplained";

export interface CauseInfo {
  id: CauseId;
  title: string;
  /** the generic fix; a rule may give a more concrete one */
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
    title: "the Service advertisement has no selector (or no service block, or an invalid selector), which matches no Service",
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
    title: "no BGP configuration runs on the node (no CiliumBGPClusterConfig selects it, two do, or a legacy CiliumBGPPeeringPolicy wins)",
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
  "13": {
    id: 13,
    title: "BGP v1: two CiliumBGPPeeringPolicies select one node, so none applies there (and no v2 either)",
    fix: "make the CiliumBGPPeeringPolicies' nodeSelectors disjoint, or merge them into one",
  },
  "14": {
    id: 14,
    title: "BGP v1: two virtual routers share a localASN: that router and every later one never run",
    fix: "give each virtual router its own localASN, or merge their neighbors into one virtual router",
  },
  "15": {
    id: 15,
    title: "BGP v1: the virtual router has no serviceSelector, which announces no Service",
    fix: "set `serviceSelector: {}` (every Service) or a selector on a label the Services carry",
  },
  "16": {
    id: 16,
    title: "BGP v1: the CiliumBGPPeeringPolicy is rejected as a whole (invalid nodeSelector, keepAlive longer than hold time)",
    fix: "fix the policy: a valid nodeSelector, keepAliveTimeSeconds no larger than holdTimeSeconds",
  },
  session: {
    id: "session",
    title: "the BGP session between the node and the router is not established",
    fix: "check the peer's peerAddress/peerASN against the router's ASN, the router's listen range or neighbor for the node's address, and TCP 179 between them",
  },
  unexplained: {
    id: "unexplained",
    title: "the route is missing and the configuration does not say why",
    fix: "on the node run `cilium-dbg bgp routes advertised ipv4 unicast` (and ipv6) and compare with the expected prefixes; check the Service's endpoints",
  },
};

export function causeInfo(id: CauseId): CauseInfo {
  return CAUSES[String(id)]!;
}

/**
 * One rule of the rulebook. `source` cites where Cilium 1.17 (cc = cilium/cilium) does this, `family` is the validate
 * check family that reports it, `fix` overrides the cause's generic fix.
 */
export interface RuleInfo {
  cause: CauseId;
  family: "bgp" | "ipam";
  source: string;
  fix?: string;
}

export const RULES = {
  // cause 1
  "missing-peer-config": { cause: 1, family: "bgp", source: "cc operator/pkg/bgpv2 cluster.go: MissingPeerConfigs condition; agent reconcilerv2/neighbor.go: no PeerConfig -> defaults, no advertisements", fix: "add peerConfigRef: {name: <CiliumBGPPeerConfig>} to the peer and create that CiliumBGPPeerConfig" },
  "no-peers": { cause: 1, family: "bgp", source: "cc pkg/bgpv1/manager/reconcilerv2/neighbor.go: an instance without peers announces to no one", fix: "add a peer with peerAddress, peerASN and peerConfigRef" },
  // cause 2
  "no-families": { cause: 2, family: "bgp", source: "cc pkg/k8s/apis/cilium.io/v2alpha1/bgp_peer_types.go: default families carry no advertisements selector" },
  "family-without-advertisements": { cause: 2, family: "bgp", source: "cc pkg/bgpv1/manager/reconcilerv2/advertisements.go: a nil selector selects no CiliumBGPAdvertisement", fix: "add advertisements: {matchLabels: {advertise: bgp}} and the same label on the CiliumBGPAdvertisement" },
  "no-ipv4-family": { cause: 2, family: "bgp", source: "cc reconcilerv2/advertisements.go: advertisements are per configured family" },
  // cause 3
  "advertisement-not-selected": { cause: 3, family: "bgp", source: "cc reconcilerv2/advertisements.go: the family selector is matched against CiliumBGPAdvertisement metadata.labels" },
  // cause 4
  "no-selector": { cause: 4, family: "bgp", source: "cc reconcilerv2/service.go (cilium#33076): a Service advertisement without selector matches no Service" },
  "no-service-block": { cause: 4, family: "bgp", source: "cc reconcilerv2/service.go: no service.addresses -> no address type is announced", fix: "add service: {addresses: [LoadBalancerIP]}" },
  "empty-values": { cause: 4, family: "bgp", source: "k8s.io/apimachinery labels.Parse via slim_metav1.LabelSelectorAsSelector (cilium#23280): In/NotIn without values is an error, the selector matches nothing", fix: "give values at least one entry (e.g. [never-used-value])" },
  "no-service-advertisement": { cause: 4, family: "bgp", source: "cc reconcilerv2/service.go: only advertisementType Service entries announce LoadBalancer IPs", fix: "add an advertisement `{advertisementType: Service, service: {addresses: [LoadBalancerIP]}, selector: ...}`" },
  // cause 5
  "no-loadbalancerip": { cause: 5, family: "bgp", source: "cc reconcilerv2/service.go: LoadBalancerIP routes only when service.addresses lists LoadBalancerIP", fix: "add LoadBalancerIP to service.addresses" },
  "v1-service-advertisements": { cause: 5, family: "bgp", source: "cc pkg/bgpv1/manager/reconciler/service.go: serviceAdvertisements decides the address types; an explicit [] announces nothing", fix: "remove serviceAdvertisements (default [LoadBalancerIP]) or list LoadBalancerIP in it" },
  "load-balancer-class": { cause: 5, family: "bgp", source: "cc reconciler/service.go and reconcilerv2/service.go: only loadBalancerClass unset or io.cilium/bgp-control-plane", fix: "remove loadBalancerClass or set io.cilium/bgp-control-plane" },
  "not-load-balancer": { cause: 5, family: "bgp", source: "cc pkg/ipam/lbipam: only type LoadBalancer Services get LB-IPAM addresses", fix: "set `type: LoadBalancer` on the Service" },
  // cause 6
  "no-local-endpoint": { cause: 6, family: "bgp", source: "cc reconciler/service.go, reconcilerv2/service.go: eTP=Local announces only from nodes with a local endpoint" },
  // cause 7
  "service-no-pool": { cause: 7, family: "ipam", source: "cc pkg/ipam/lbipam/lbipam.go: a pool's serviceSelector (nil = all) must match the Service labels + io.kubernetes.service.{name,namespace}", fix: "label the Service for a pool, or give a pool a serviceSelector that matches it" },
  "requested-ip-unsatisfied": { cause: 7, family: "ipam", source: "cc pkg/ipam/lbipam/lbipam.go: a requested IP (lbipam.cilium.io/ips, spec.loadBalancerIP) is taken only from an enabled pool that selects the Service", fix: "request an address inside one of the pools that select the Service" },
  "pool-exhausted": { cause: 7, family: "ipam", source: "cc pkg/ipam/lbipam/lbipam.go: out_of_ips when the selected pools have no free address", fix: "widen the pool's blocks or move Services to another pool" },
  "no-ip-assigned": { cause: 7, family: "ipam", source: "cc pkg/ipam/lbipam/lbipam.go: the Service condition cilium.io/IPAMRequestSatisfied says why" },
  // cause 8
  "no-matching-node": { cause: 8, family: "bgp", source: "cc operator/pkg/bgpv2/cluster.go: NoMatchingNode condition; pkg/bgpv1/agent/controller.go: a policy whose nodeSelector matches no node runs nowhere", fix: "remove the nodeSelector (all nodes) or use labels the nodes carry (talconfig nodeLabels)" },
  "conflicting-cluster-configs": { cause: 8, family: "bgp", source: "cc operator/pkg/bgpv2/cluster.go: ConflictingClusterConfig, the node keeps neither", fix: "give the ClusterConfigs disjoint nodeSelectors or merge them" },
  "node-not-selected": { cause: 8, family: "bgp", source: "cc operator/pkg/bgpv2/cluster.go: no CiliumBGPNodeConfig for a node no ClusterConfig selects", fix: "widen a CiliumBGPClusterConfig's nodeSelector to the node (or label the node in talconfig nodeLabels)" },
  "legacy-peering-policy": { cause: 8, family: "bgp", source: "cc Documentation/network/bgp-control-plane/bgp-control-plane-v2.rst; pkg/bgpv1/agent/controller.go returns before reading v2 when a policy selects the node", fix: "migrate with `bun scripts/bgp-migrate.ts`, then delete the CiliumBGPPeeringPolicy" },
  "no-bgp-config": { cause: 8, family: "bgp", source: "cc pkg/bgpv1/agent/controller.go: without a policy or ClusterConfig the node runs no BGP", fix: "add a CiliumBGPClusterConfig (see kubernetes/apps/kube-system/cilium/config/bgp.yaml)" },
  // cause 9
  "no-ipv6-family": { cause: 9, family: "bgp", source: "cc reconcilerv2/advertisements.go: a family only ever carries its own AFI", fix: "add the family {afi: ipv6, safi: unicast, advertisements: ...}" },
  "ipv6-over-ipv4": { cause: 9, family: "bgp", source: "cilium#37831: IPv6 NLRI over an IPv4 session get an IPv4-mapped next hop", fix: "add a second peer with the router's IPv6 peerAddress" },
  // cause 10
  "selector-matches-no-service": { cause: 10, family: "bgp", source: "cc reconcilerv2/service.go, reconciler/service.go: the selector sees Service labels + io.kubernetes.service.{name,namespace} only", fix: "use a label the Services carry, or match all with {key: somekey, operator: NotIn, values: [never-used-value]}" },
  "selects-by-pool": { cause: 10, family: "bgp", source: "cc reconcilerv2/service.go: no pool key exists among the labels a Service selector sees" },
  "service-not-advertised": { cause: 10, family: "bgp", source: "cc reconcilerv2/service.go, reconciler/service.go: a Service no selector matches is not announced", fix: "widen the advertisement selector, or label the Service" },
  // cause 12
  "control-plane-disabled": { cause: 12, family: "bgp", source: "cc install/kubernetes/cilium/values.yaml: bgpControlPlane.enabled defaults to false (enable-bgp-control-plane)", fix: "set values.bgpControlPlane.enabled: true" },
  // BGP v1 (13-16)
  "policy-conflict": { cause: 13, family: "bgp", source: "cc pkg/bgpv1/agent/controller.go: \"more then one CiliumBGPPeeringPolicy applies\" -> no policy (and no v2) on the node" },
  "duplicate-local-asn": { cause: 14, family: "bgp", source: "cc pkg/bgpv1/manager/workdiff.go registerOrReconcileDiff stops at the first repeated ASN; manager.go ConfigurePeers ignores the error" },
  "nil-service-selector": { cause: 15, family: "bgp", source: "cc pkg/bgpv1/manager/reconciler/service.go: a nil serviceSelector selects no Service ({} selects all)" },
  "policy-invalid": { cause: 16, family: "bgp", source: "cc pkg/bgpv1/agent/controller.go: an invalid nodeSelector or keepAlive > hold rejects the policy" },
} as const satisfies Record<string, RuleInfo>;

export type RuleId = keyof typeof RULES;

export function ruleInfo(rule: RuleId): RuleInfo {
  return RULES[rule];
}

/** validate's finding id for a rule: `bgp/cause-<n>-<rule>` or `ipam/<rule>`. */
export function findingIdOf(rule: RuleId): string {
  const r: RuleInfo = RULES[rule];
  return r.family === "ipam" ? `ipam/${rule}` : `bgp/cause-${String(r.cause)}-${rule}`;
}

/** The rule behind a validate finding id (for tests and --json consumers), or undefined for non-rulebook findings. */
export function ruleOfFindingId(id: string): RuleId | undefined {
  for (const rule of Object.keys(RULES) as RuleId[]) if (findingIdOf(rule) === id) return rule;
  return undefined;
}
