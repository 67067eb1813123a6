/**
 * lib/bgp, the one Cilium 1.17 rulebook: LB-IPAM (lbipam.ts), which BGP speaker runs on a node (v1
 * CiliumBGPPeeringPolicy or v2 CiliumBGPClusterConfig) and what must be advertised to whom (expected.ts), the
 * numbered causes with their rules and fixes (causes.ts), every diagnosis per object (rules.ts: validate's view) and
 * per route (verify.ts: bgp-verify's view), v1 -> v2 migration proved through the same rules (migrate.ts), the
 * router's FRR configuration (router-config.ts), and parsers for FRR (frr.ts) and Cilium (cilium.ts) status.
 * Inputs come from the repo or a live cluster (inputs.ts, live.ts); the router is read with vtysh (router.ts).
 */
export * from "./causes.ts";
export * from "./diagnosis.ts";
export * from "./lbipam.ts";
export * from "./rules.ts";
export * from "../kube/selector.ts";
export * from "./types.ts";
export * from "./frr.ts";
export * from "./cilium.ts";
export * from "./expected.ts";
export * from "./verify.ts";
export * from "./inputs.ts";
export * from "./router.ts";
export * from "./router-config.ts";
export * from "./live.ts";
export * from "./report.ts";
export * from "./ipv6.ts";
export * from "./migrate.ts";
