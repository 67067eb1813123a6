/**
 * lib/bgp: what must be advertised to whom (expected.ts), why it is not (the numbered causes of causes.ts,
 * verify.ts), the router's FRR configuration (router-config.ts), and parsers for FRR (frr.ts) and Cilium
 * (cilium.ts) status. Inputs come from the repo or a live cluster (inputs.ts); the router is read with vtysh
 * (router.ts).
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
