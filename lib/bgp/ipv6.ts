/**
 * IPv6 readiness of the cluster: nodes with both an IPv4 and an IPv6 InternalIP (and the IPv6 address Talos holds),
 * dual-stack pod and service CIDRs, Services that ask for dual-stack having an IPv6 LoadBalancer IP, IPv6 pools
 * existing, and IPv6 routes advertised (the BGP verdict of verify.ts, IPv6 rows only).
 */
import { blockRange, family as familyOf, isIP, parseCidr } from "../net/index.ts";
import { line, type CheckLine } from "../storage/result.ts";
import { serviceKey } from "./expected.ts";
import type { BgpVerifyReport } from "./verify.ts";
import type { BgpInputs } from "./types.ts";

export interface Ipv6Inputs {
  bgp: BgpInputs;
  /** the verdict of verifyBgp over the same inputs (with or without the router) */
  report: BgpVerifyReport;
  /** the repo's declared pod and service CIDRs */
  podCidrs: string[];
  serviceCidrs: string[];
  /** live Node spec.podCIDRs by node; undefined when not read */
  nodePodCidrs?: Map<string, string[]>;
  /** declared IPv6 address per node (talconfig), for the Talos check */
  declaredV6?: Map<string, string>;
  /** Talos AddressStatus addresses per node (CIDR strings), or the error talosctl gave */
  talosAddresses?: Map<string, string[] | string>;
}

const fam = (cidr: string): "ipv4" | "ipv6" | undefined => {
  try {
    return parseCidr(cidr, { allowHostBits: true }).family;
  } catch {
    return undefined;
  }
};

export function checkIpv6(i: Ipv6Inputs): CheckLine[] {
  const out: CheckLine[] = [];
  for (const n of i.bgp.nodes) {
    if (n.ipv4 && n.ipv6) out.push(line(n.name, "InternalIPs", "ok", `${n.ipv4}, ${n.ipv6}`));
    else
      out.push(
        line(n.name, "InternalIPs", "fail", `${n.ipv4 ?? "no IPv4"}, ${n.ipv6 ?? "no IPv6"}`, "give the kubelet both families: machine.kubelet.nodeIP.validSubnets with one IPv4 and one IPv6 subnet, and an IPv6 address on the interface"),
      );
    const pod = i.nodePodCidrs?.get(n.name);
    if (pod && pod.length) {
      const fams = new Set(pod.map(fam));
      out.push(fams.has("ipv6") && fams.has("ipv4") ? line(n.name, "podCIDRs", "ok", pod.join(", ")) : line(n.name, "podCIDRs", "fail", pod.join(", "), "give cluster.network.podSubnets an IPv6 subnet too"));
    }
    const declared = i.declaredV6?.get(n.name);
    const talos = i.talosAddresses?.get(n.name);
    if (talos !== undefined) {
      if (typeof talos === "string") out.push(line(n.name, "Talos addresses", "warn", `not checked: ${talos}`, "check with `talosctl -n <node> get addresses`"));
      else {
        const v6 = talos.filter((a) => fam(a) === "ipv6" && !a.toLowerCase().startsWith("fe80"));
        const has = declared ? v6.some((a) => a.split("/")[0] === declared) : v6.length > 0;
        out.push(
          has
            ? line(n.name, "Talos addresses", "ok", v6.join(", "))
            : line(n.name, "Talos addresses", "fail", `${v6.length ? v6.join(", ") : "no global IPv6 address"}${declared ? ` (declared ${declared})` : ""}`, "check networkInterfaces[].addresses in talos/talconfig.yaml and apply the config"),
        );
      }
    }
  }
  for (const [what, cidrs] of [["pod CIDRs", i.podCidrs], ["service CIDRs", i.serviceCidrs]] as const) {
    const fams = new Set(cidrs.map(fam));
    out.push(
      fams.has("ipv4") && fams.has("ipv6")
        ? line("cluster", what, "ok", cidrs.join(", "))
        : line("cluster", what, "fail", cidrs.join(", ") || "none", `declare one IPv4 and one IPv6 subnet (cluster.network.${what === "pod CIDRs" ? "podSubnets" : "serviceSubnets"})`),
    );
  }
  const v6Pools = i.bgp.pools.filter((p) => p.blocks.some((b) => {
    try {
      return blockRange(b).family === "ipv6";
    } catch {
      return false;
    }
  }));
  out.push(
    v6Pools.length === 0
      ? line("cluster", "IPv6 pools", "fail", "no CiliumLoadBalancerIPPool has IPv6 addresses", "add IPv6 blocks to the LB pools (outside the node VLAN)")
      : v6Pools.every((p) => p.disabled)
        ? line("cluster", "IPv6 pools", "fail", `all disabled: ${v6Pools.map((p) => p.name).join(", ")}`, "enable the IPv6 pools")
        : line("cluster", "IPv6 pools", "ok", v6Pools.filter((p) => !p.disabled).map((p) => p.name).join(", ")),
  );
  for (const s of i.bgp.services) {
    if (s.type !== "LoadBalancer") continue;
    const key = serviceKey(s);
    const wantsDual = s.ipFamilyPolicy === "RequireDualStack" || s.ipFamilyPolicy === "PreferDualStack";
    const families = s.ipFamilies ?? [];
    const v6ip = (s.ingressIPs ?? s.requestedIPs).filter((ip) => isIP(ip) && familyOf(ip) === "ipv6");
    if (!wantsDual) {
      out.push(line(key, "dual-stack", v6Pools.length ? "warn" : "info", `ipFamilyPolicy ${s.ipFamilyPolicy ?? "SingleStack"}: IPv4 only`, "set ipFamilyPolicy: PreferDualStack and ipFamilies [IPv4, IPv6] to serve IPv6"));
      continue;
    }
    if (!families.includes("IPv6")) out.push(line(key, "dual-stack", "fail", `ipFamilies ${families.join(",") || "(none)"}`, "list IPv6 in spec.ipFamilies"));
    else if (s.ingressIPs !== undefined && v6ip.length === 0)
      out.push(line(key, "IPv6 LB IP", "fail", "no IPv6 LoadBalancer IP assigned", "make an IPv6 pool's serviceSelector match the Service (cause 7)"));
    else out.push(line(key, "dual-stack", "ok", `${families.join(", ")}${v6ip.length ? `; ${v6ip.join(", ")}` : ""}`));
  }
  const v6rows = i.report.rows.filter((r) => r.family === "ipv6");
  const v6missing = i.report.missing.filter((m) => m.family === "ipv6");
  if (v6rows.length === 0) out.push(line("bgp", "IPv6 advertised", "fail", "no node has an IPv6 BGP peer", "add a peer with an IPv6 peerAddress to the CiliumBGPClusterConfig (cause 9)"));
  for (const r of v6rows) {
    const subject = `${r.node} -> ${r.peer}`;
    const miss = v6missing.filter((m) => m.node === r.node && m.peer === r.peer);
    if (miss.length === 0)
      out.push(line(subject, "IPv6 advertised", "ok", `${r.expected} route(s)${r.ciliumSession ? `, session ${r.ciliumSession}` : ""}${r.receivedAtRouter !== undefined ? `, ${r.receivedAtRouter} at the router` : ""}`));
    else {
      const m = miss[0]!;
      out.push(line(subject, "IPv6 advertised", "fail", `${miss.length} of ${r.expected} missing: ${typeof m.cause === "number" ? `cause ${m.cause}` : m.cause}: ${m.message}`, m.fix));
    }
  }
  return out;
}
