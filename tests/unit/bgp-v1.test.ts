/**
 * The rulebook's legacy half (CiliumBGPPeeringPolicy, cilium-bgpv1-and-locks.md A2/A3) and the verdicts that must
 * not be vacuous: small inputs, one rule at a time.
 */
import { describe, expect, test } from "bun:test";
import { bgpDiagnoses, expectedAdvertisements, parseBgpSummary, parseBgpRoutes, verifyBgp, type BgpInputs, type PeeringPolicyInput, type RouterState } from "../../lib/bgp/index.ts";

const node = (i: number, labels: Record<string, string> = {}) => ({ name: `n${i}`, labels: { "kubernetes.io/hostname": `n${i}`, ...labels }, ipv4: `10.0.0.1${i}` });

function v1(policy: Partial<PeeringPolicyInput> = {}): BgpInputs {
  return {
    controlPlaneEnabled: true,
    nodes: [node(1, { bgp: "on" }), node(2, { bgp: "on" })],
    pools: [{ name: "lb", blocks: [{ cidr: "10.0.5.0/24" }], disabled: false }],
    services: [
      { namespace: "net", name: "ingress", type: "LoadBalancer", labels: { app: "ingress" }, requestedIPs: ["10.0.5.10"] },
      { namespace: "net", name: "dns", type: "LoadBalancer", labels: { app: "dns" }, requestedIPs: ["10.0.5.11"] },
    ],
    clusterConfigs: [],
    peerConfigs: [],
    advertisements: [],
    peeringPolicies: [
      {
        name: "l3",
        nodeSelector: { matchLabels: { bgp: "on" } },
        virtualRouters: [{ localASN: 64514, serviceSelector: {}, neighbors: [{ peerAddress: "10.0.0.1/32", peerASN: 64513 }] }],
        ...policy,
      },
    ],
  };
}

const blocked = (i: BgpInputs) => [...new Set(expectedAdvertisements(i).expectations.map((e) => e.blocked?.cause ?? "ok"))].sort();
const rules = (i: BgpInputs) => bgpDiagnoses(i).map((d) => `${d.cause} ${d.rule} ${d.objects[0]!.kind}/${d.objects[0]!.name}`);

describe("BGP v1 (CiliumBGPPeeringPolicy)", () => {
  test("a v1-only configuration announces every Service from every selected node: no false alarm", () => {
    const i = v1();
    const exp = expectedAdvertisements(i);
    expect(exp.expectations.map((e) => `${e.node} ${e.slot.peer} ${e.prefix}`).sort()).toEqual([
      "n1 10.0.0.1 10.0.5.10/32",
      "n1 10.0.0.1 10.0.5.11/32",
      "n2 10.0.0.1 10.0.5.10/32",
      "n2 10.0.0.1 10.0.5.11/32",
    ]);
    expect(blocked(i)).toEqual(["ok"]);
    expect(rules(i)).toEqual([]);
  });

  test("nil serviceSelector announces nothing (15); {} announces all; a label selector only what it matches (10)", () => {
    const nil = v1();
    delete nil.peeringPolicies[0]!.virtualRouters[0]!.serviceSelector;
    expect(blocked(nil)).toEqual([15]);
    expect(rules(nil)).toEqual(["15 nil-service-selector CiliumBGPPeeringPolicy/l3"]);
    const some = v1();
    some.peeringPolicies[0]!.virtualRouters[0]!.serviceSelector = { matchLabels: { app: "dns" } };
    const exp = expectedAdvertisements(some).expectations;
    expect(exp.filter((e) => e.service === "net/dns").every((e) => !e.blocked)).toBe(true);
    expect(exp.filter((e) => e.service === "net/ingress").every((e) => e.blocked?.cause === 10)).toBe(true);
    expect(rules(some)).toEqual(["10 service-not-advertised Service/net/ingress"]);
  });

  test("serviceAdvertisements: absent = LoadBalancerIP, explicit [] = nothing (5)", () => {
    const none = v1();
    none.peeringPolicies[0]!.virtualRouters[0]!.serviceAdvertisements = [];
    expect(blocked(none)).toEqual([5]);
    const lb = v1();
    lb.peeringPolicies[0]!.virtualRouters[0]!.serviceAdvertisements = ["ClusterIP", "LoadBalancerIP"];
    expect(blocked(lb)).toEqual(["ok"]);
  });

  test("duplicate localASN: the repeating router and every later one never run (14); earlier ones do", () => {
    const i = v1({
      virtualRouters: [
        { localASN: 64514, serviceSelector: {}, neighbors: [{ peerAddress: "10.0.0.1/32", peerASN: 64513 }] },
        { localASN: 64514, serviceSelector: {}, neighbors: [{ peerAddress: "10.0.0.2/32", peerASN: 64513 }] },
        { localASN: 64515, serviceSelector: {}, neighbors: [{ peerAddress: "10.0.0.3/32", peerASN: 64513 }] },
      ],
    });
    const exp = expectedAdvertisements(i).expectations;
    const by = (peer: string) => [...new Set(exp.filter((e) => e.slot.peer === peer).map((e) => e.blocked?.cause ?? "ok"))];
    expect(by("10.0.0.1")).toEqual(["ok"]);
    expect(by("10.0.0.2")).toEqual([14]);
    expect(by("10.0.0.3")).toEqual([14]);
    expect(rules(i)).toEqual(["14 duplicate-local-asn CiliumBGPPeeringPolicy/l3"]);
  });

  test("two policies on one node: none applies there (13), and v2 does not either", () => {
    const i = v1();
    i.peeringPolicies.push({ ...i.peeringPolicies[0]!, name: "second", nodeSelector: { matchLabels: { "kubernetes.io/hostname": "n2" } } });
    i.clusterConfigs = [{ name: "cc", spec: { bgpInstances: [{ name: "x", localASN: 1, peers: [{ name: "r", peerAddress: "10.0.0.1", peerConfigRef: { name: "pc" } }] }] } }];
    const exp = expectedAdvertisements(i).expectations;
    expect([...new Set(exp.filter((e) => e.node === "n1").map((e) => e.blocked?.cause ?? "ok"))]).toEqual(["ok"]);
    expect([...new Set(exp.filter((e) => e.node === "n2").map((e) => e.blocked?.cause ?? "ok"))]).toEqual([13]);
    expect(rules(i)).toContain("13 policy-conflict CiliumBGPPeeringPolicy/l3"); // named by the first of them, by name
  });

  test("v1 wins over v2 per node: the v1 chain decides, and the override is named (8)", () => {
    const i = v1({ nodeSelector: { matchLabels: { "kubernetes.io/hostname": "n1" } } });
    i.clusterConfigs = [{ name: "cc", spec: { bgpInstances: [{ name: "x", localASN: 1, peers: [{ name: "r", peerAddress: "10.0.0.1" }] }] } }];
    const exp = expectedAdvertisements(i);
    expect(exp.speakers.map((s) => `${s.node} ${s.kind}`)).toEqual(["n1 v1", "n2 v2"]);
    expect(exp.expectations.filter((e) => e.node === "n1").every((e) => !e.blocked)).toBe(true);
    expect(exp.expectations.filter((e) => e.node === "n2").every((e) => e.blocked?.cause === 1)).toBe(true);
    expect(rules(i)).toContain("8 legacy-peering-policy CiliumBGPPeeringPolicy/l3");
  });

  test("a nodeSelector on a label the nodes do not carry: no node runs BGP (8), named on the policy", () => {
    const i = v1({ nodeSelector: { matchLabels: { rack: "a" } } });
    expect(blocked(i)).toEqual([8]);
    expect(rules(i)).toEqual(["8 no-matching-node CiliumBGPPeeringPolicy/l3"]);
  });

  test("keepAlive longer than the hold time rejects the whole policy (16)", () => {
    const i = v1();
    i.peeringPolicies[0]!.virtualRouters[0]!.neighbors[0]!.keepAliveTimeSeconds = 100;
    expect(blocked(i)).toEqual([16]);
    expect(rules(i)).toEqual(["16 policy-invalid CiliumBGPPeeringPolicy/l3"]);
  });
});

function router(i: BgpInputs, opts: { policy?: boolean; held?: string[] } = {}): RouterState {
  const peers: Record<string, unknown> = {};
  const routes: Record<string, unknown[]> = {};
  for (const n of i.nodes) {
    peers[n.ipv4!] = { remoteAs: 64514, localAs: 64513, state: "Established", peerState: opts.policy ? "Policy" : "OK", pfxRcd: 0, pfxSnt: 0 };
    for (const p of opts.held ?? []) (routes[p] ??= []).push({ valid: true, peerId: n.ipv4, nexthops: [{ ip: n.ipv4 }] });
  }
  return {
    summary: parseBgpSummary({ ipv4Unicast: { routerId: "10.0.0.1", as: 64513, peers } }),
    tables: { ipv4: parseBgpRoutes({ routes }, "ipv4") },
    received: new Map(),
  };
}

describe("no vacuous verdict", () => {
  test("LoadBalancer Services but 0 expected routes: a failure that says why", () => {
    const i = v1();
    i.peeringPolicies = [];
    const r = verifyBgp(i);
    expect(r.ok).toBe(false);
    expect([...new Set(r.missing.map((m) => m.cause))]).toEqual([8]);
    expect(r.missing[0]!.message).toContain("there is no CiliumBGPClusterConfig");
    const off = v1();
    off.services = [];
    const empty = verifyBgp(off, undefined, { declaredServices: ["net/ingress"] });
    expect(empty.ok).toBe(false);
    expect(empty.nothingChecked).toContain("declares 1 LoadBalancer Service");
    const none = verifyBgp(off);
    expect(none.ok).toBe(true);
    expect(none.nothingChecked).toContain("no LoadBalancer Service");
  });

  test("a router session in (Policy) fails even when no route is expected", () => {
    const i = v1();
    i.services = [];
    const r = verifyBgp(i, router(i, { policy: true }));
    expect(r.ok).toBe(false);
    expect(r.sessionProblems.map((p) => `${p.node} ${p.diagnosis.cause}`)).toEqual(["n1 11", "n2 11"]);
  });

  test("repo-only with the router: a missing route is not blamed on the router when Cilium's side is unknown", () => {
    const i = v1();
    const r = verifyBgp(i, router(i, { held: ["10.0.5.10/32"] }));
    expect(r.ok).toBe(false);
    expect([...new Set(r.missing.map((m) => `${m.prefix} ${m.cause}`))]).toEqual(["10.0.5.11/32 unexplained"]);
  });

  test("an address LB-IPAM picks at run time counts when the router holds any address of its pool", () => {
    const i = v1();
    i.services[1]!.requestedIPs = [];
    const r = verifyBgp(i, router(i, { held: ["10.0.5.10/32", "10.0.5.77/32"] }));
    expect(r.missing).toEqual([]);
    expect(r.expectedTotal).toBe(4);
  });
});
