import { describe, expect, test } from "bun:test";
import { checkIpv6, verifyBgp, type BgpInputs } from "../../lib/bgp/index.ts";

function inputs(): BgpInputs {
  return {
    controlPlaneEnabled: true,
    nodes: [1, 2].map((i) => ({ name: `n${i}`, labels: {}, ipv4: `10.0.0.${i}`, ipv6: `fd00::${i}` })),
    pools: [
      { name: "v4", blocks: [{ cidr: "10.1.0.0/24" }], disabled: false },
      { name: "v6", blocks: [{ cidr: "fd01::/120" }], disabled: false },
    ],
    services: [
      { namespace: "a", name: "dual", type: "LoadBalancer", labels: { x: "y" }, ipFamilyPolicy: "RequireDualStack", ipFamilies: ["IPv4", "IPv6"], ingressIPs: ["10.1.0.5", "fd01::5"], requestedIPs: [] },
      { namespace: "a", name: "single", type: "LoadBalancer", labels: { x: "y" }, ipFamilies: ["IPv4"], ingressIPs: ["10.1.0.6"], requestedIPs: [] },
    ],
    clusterConfigs: [{ name: "c", spec: { bgpInstances: [{ name: "i", localASN: 1, peers: [{ name: "r4", peerAddress: "10.0.0.254", peerASN: 2, peerConfigRef: { name: "pc" } }, { name: "r6", peerAddress: "fd00::fe", peerASN: 2, peerConfigRef: { name: "pc" } }] }] } }],
    peerConfigs: [{ name: "pc", spec: { families: ["ipv4", "ipv6"].map((afi) => ({ afi, safi: "unicast", advertisements: { matchLabels: { ad: "bgp" } } })) } }],
    advertisements: [{ name: "ad", labels: { ad: "bgp" }, spec: { advertisements: [{ advertisementType: "Service", service: { addresses: ["LoadBalancerIP"] }, selector: { matchLabels: { x: "y" } } }] } }],
    peeringPolicies: [],
  };
}

function run(i: BgpInputs, extra: Partial<Parameters<typeof checkIpv6>[0]> = {}) {
  return checkIpv6({ bgp: i, report: verifyBgp(i), podCidrs: ["10.42.0.0/16", "fd42::/56"], serviceCidrs: ["10.43.0.0/16", "fd43::/112"], ...extra });
}
const bad = (lines: ReturnType<typeof run>, status = "fail") => lines.filter((l) => l.status === status).map((l) => `${l.subject} ${l.check}`);

describe("checkIpv6", () => {
  test("dual-stack everything: no failure; a single-stack Service is a warning when IPv6 pools exist", () => {
    const lines = run(inputs());
    expect(bad(lines)).toEqual([]);
    expect(bad(lines, "warn")).toEqual(["a/single dual-stack"]);
    expect(lines.filter((l) => l.check === "IPv6 advertised").map((l) => l.subject)).toEqual(["n1 -> r6", "n2 -> r6"]);
  });
  test("a node without IPv6, single-stack CIDRs, no IPv6 pool", () => {
    const i = inputs();
    delete i.nodes[1]!.ipv6;
    i.pools = i.pools.slice(0, 1);
    i.services[0]!.ingressIPs = ["10.1.0.5"];
    const lines = run(i, { podCidrs: ["10.42.0.0/16"] });
    expect(bad(lines)).toEqual(["n2 InternalIPs", "cluster pod CIDRs", "cluster IPv6 pools", "a/dual IPv6 LB IP"]);
  });
  test("the IPv6 family missing from the peer config: IPv6 not advertised, cause 9", () => {
    const i = inputs();
    i.peerConfigs[0]!.spec.families = i.peerConfigs[0]!.spec.families!.slice(0, 1);
    const lines = run(i);
    const adv = lines.filter((l) => l.check === "IPv6 advertised");
    expect(adv.every((l) => l.status === "fail" && l.detail.includes("cause 9"))).toBe(true);
  });
  test("no IPv6 peer at all: IPv6 would ride the IPv4 sessions (cause 9)", () => {
    const i = inputs();
    i.clusterConfigs[0]!.spec.bgpInstances[0]!.peers!.pop();
    const lines = run(i);
    expect(bad(lines)).toEqual(["n1 -> r4 IPv6 advertised", "n2 -> r4 IPv6 advertised"]);
    expect(lines.find((l) => l.subject === "n1 -> r4")!.detail).toContain("cause 9");
    // no peer at all: the ClusterConfig's own cause
    i.clusterConfigs[0]!.spec.bgpInstances[0]!.peers!.pop();
    expect(run(i).find((l) => l.subject === "n1 -> (none)")!.detail).toContain("cause 1: CiliumBGPClusterConfig c defines no peers");
  });
  test("no IPv6 LoadBalancer IP anywhere: nothing IPv6 to advertise is a failure", () => {
    const i = inputs();
    i.services = [i.services[1]!];
    i.clusterConfigs[0]!.spec.bgpInstances[0]!.peers!.pop();
    expect(bad(run(i))).toEqual(["bgp IPv6 advertised"]);
  });
  test("Talos addresses and node podCIDRs when read", () => {
    const lines = run(inputs(), {
      declaredV6: new Map([["n1", "fd00::1"], ["n2", "fd00::2"]]),
      talosAddresses: new Map<string, string[] | string>([["n1", ["10.0.0.1/24", "fd00::1/64", "fe80::1/64"]], ["n2", ["10.0.0.2/24", "fe80::2/64"]]]),
      nodePodCidrs: new Map([["n1", ["10.42.0.0/24", "fd42::/64"]], ["n2", ["10.42.1.0/24"]]]),
    });
    expect(bad(lines)).toEqual(["n2 podCIDRs", "n2 Talos addresses"]);
    expect(lines.find((l) => l.subject === "n1" && l.check === "Talos addresses")!.detail).toBe("fd00::1/64");
  });
});
