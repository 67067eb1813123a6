import { describe, expect, test } from "bun:test";
import { expectedAdvertisements, verifyBgp, type BgpInputs, type RouterState, parseBgpSummary, parseBgpRoutes, parseReceivedRoutes } from "../../lib/bgp/index.ts";

/** The correct minimal set of cilium-bgp.md, dual-stack, three nodes, two LB Services. */
function good(): BgpInputs {
  const node = (i: number) => ({
    name: `k8s-${i}`,
    labels: { "kubernetes.io/hostname": `k8s-${i}` },
    ipv4: `192.168.10.1${i}`,
    ipv6: `fd00:10::1${i}`,
  });
  return {
    controlPlaneEnabled: true,
    nodes: [node(1), node(2), node(3)],
    pools: [
      { name: "lb-v4", blocks: [{ cidr: "172.29.52.0/24" }], serviceSelector: { matchLabels: { "lb.home/pool": "main" } }, disabled: false },
      { name: "lb-v6", blocks: [{ start: "fd00:52::10", stop: "fd00:52::ff" }], serviceSelector: { matchLabels: { "lb.home/pool": "main" } }, disabled: false },
    ],
    services: [
      {
        namespace: "network",
        name: "ingress",
        type: "LoadBalancer",
        labels: { "lb.home/pool": "main", "bgp.home/advertise": "true" },
        ipFamilies: ["IPv4", "IPv6"],
        ipFamilyPolicy: "RequireDualStack",
        ingressIPs: ["172.29.52.200", "fd00:52::10"],
        requestedIPs: [],
      },
      {
        namespace: "default",
        name: "web",
        type: "LoadBalancer",
        labels: { "lb.home/pool": "main", "bgp.home/advertise": "true" },
        ipFamilies: ["IPv4"],
        ingressIPs: ["172.29.52.201"],
        requestedIPs: ["172.29.52.201"],
      },
      { namespace: "default", name: "kubernetes", type: "ClusterIP", labels: {}, requestedIPs: [] },
    ],
    clusterConfigs: [
      {
        name: "home",
        spec: {
          bgpInstances: [
            {
              name: "main",
              localASN: 64512,
              peers: [
                { name: "udm-v4", peerAddress: "192.168.10.1", peerASN: 64513, peerConfigRef: { name: "udm" } },
                { name: "udm-v6", peerAddress: "fd00:10::1", peerASN: 64513, peerConfigRef: { name: "udm" } },
              ],
            },
          ],
        },
      },
    ],
    peerConfigs: [
      {
        name: "udm",
        spec: {
          families: [
            { afi: "ipv4", safi: "unicast", advertisements: { matchLabels: { advertise: "bgp" } } },
            { afi: "ipv6", safi: "unicast", advertisements: { matchLabels: { advertise: "bgp" } } },
          ],
        },
      },
    ],
    advertisements: [
      {
        name: "lb-services",
        labels: { advertise: "bgp" },
        spec: {
          advertisements: [
            { advertisementType: "Service", service: { addresses: ["LoadBalancerIP"] }, selector: { matchLabels: { "bgp.home/advertise": "true" } } },
          ],
        },
      },
    ],
    peeringPolicies: [],
  };
}

const causes = (i: BgpInputs) => [...new Set(expectedAdvertisements(i).expectations.map((e) => e.blocked?.cause ?? "ok"))];

describe("expectedAdvertisements", () => {
  test("the correct minimal set: every node advertises v4 prefixes to the v4 peer and v6 to the v6 peer", () => {
    const exp = expectedAdvertisements(good());
    expect(exp.serviceIssues).toEqual([]);
    expect(exp.expectations.every((e) => !e.blocked)).toBe(true);
    // 3 nodes x (2 v4 prefixes on udm-v4 + 1 v6 prefix on udm-v6)
    expect(exp.expectations).toHaveLength(9);
    const k1 = exp.expectations.filter((e) => e.node === "k8s-1").map((e) => `${e.slot.peer} ${e.prefix}`).sort();
    expect(k1).toEqual(["udm-v4 172.29.52.200/32", "udm-v4 172.29.52.201/32", "udm-v6 fd00:52::10/128"]);
    expect(exp.slots).toHaveLength(6);
  });

  test("cause 1: peer without peerConfigRef, or a missing PeerConfig", () => {
    const a = good();
    delete a.clusterConfigs[0]!.spec.bgpInstances[0]!.peers![0]!.peerConfigRef;
    const exp = expectedAdvertisements(a).expectations;
    expect(exp.filter((e) => e.slot.peer === "udm-v4").every((e) => e.blocked?.cause === 1)).toBe(true);
    expect(exp.filter((e) => e.slot.peer === "udm-v6").every((e) => !e.blocked)).toBe(true);
    const b = good();
    b.peerConfigs[0]!.name = "other";
    const e = expectedAdvertisements(b).expectations[0]!;
    expect(e.blocked?.cause).toBe(1);
    expect(e.blocked?.message).toContain("CiliumBGPPeerConfig udm, which does not exist");
  });

  test("cause 2: no families, or a family without advertisements", () => {
    const a = good();
    delete a.peerConfigs[0]!.spec.families;
    expect(causes(a)).toEqual([2]);
    const b = good();
    delete b.peerConfigs[0]!.spec.families![0]!.advertisements;
    const exp = expectedAdvertisements(b).expectations;
    expect(exp.filter((e) => e.afi === "ipv4").every((e) => e.blocked?.cause === 2)).toBe(true);
    expect(exp.filter((e) => e.afi === "ipv6").every((e) => !e.blocked)).toBe(true);
  });

  test("cause 3: the family selector matches no advertisement labels (the haystack's mistake)", () => {
    const a = good();
    a.advertisements[0]!.labels = { advertise: "yes" };
    expect(causes(a)).toEqual([3]);
    expect(expectedAdvertisements(a).expectations[0]!.blocked!.message).toContain("advertise=bgp");
  });

  test("cause 4: a Service advertisement without selector, an invalid NotIn, or none at all", () => {
    const a = good();
    delete a.advertisements[0]!.spec.advertisements[0]!.selector;
    expect(causes(a)).toEqual([4]);
    const b = good();
    b.advertisements[0]!.spec.advertisements[0]!.selector = { matchExpressions: [{ key: "x", operator: "NotIn", values: [] }] };
    expect(causes(b)).toEqual([4]);
    expect(expectedAdvertisements(b).expectations[0]!.blocked!.message).toContain("cilium#23280");
    const c = good();
    c.advertisements[0]!.spec.advertisements = [{ advertisementType: "PodCIDR" }];
    expect(causes(c)).toEqual([4]);
    // the documented match-all selector works
    const d = good();
    d.advertisements[0]!.spec.advertisements[0]!.selector = { matchExpressions: [{ key: "somekey", operator: "NotIn", values: ["never-used-value"] }] };
    expect(causes(d)).toEqual(["ok"]);
  });

  test("cause 5: addresses without LoadBalancerIP; a Service that asks for an IP but is not a LoadBalancer", () => {
    const a = good();
    a.advertisements[0]!.spec.advertisements[0]!.service = { addresses: ["ClusterIP"] };
    expect(causes(a)).toEqual([5]);
    const b = good();
    b.services[1]!.type = "ClusterIP";
    const exp = expectedAdvertisements(b);
    expect(exp.serviceIssues.map((i) => [i.service, i.diagnosis.cause])).toEqual([["default/web", 5]]);
    const c = good();
    c.services[1]!.loadBalancerClass = "io.cilium/l2-announcer";
    const ce = expectedAdvertisements(c);
    expect(ce.notes.join("\n")).toContain("io.cilium/l2-announcer");
    expect(ce.expectations.some((e) => e.service === "default/web")).toBe(false);
  });

  test("cause 6: externalTrafficPolicy Local without endpoints; with endpoints only those nodes advertise", () => {
    const a = good();
    a.services[1]!.externalTrafficPolicy = "Local";
    a.services[1]!.localEndpointNodes = [];
    expect(expectedAdvertisements(a).serviceIssues.map((i) => i.diagnosis.cause)).toEqual([6]);
    a.services[1]!.localEndpointNodes = ["k8s-2"];
    const exp = expectedAdvertisements(a);
    expect(exp.serviceIssues).toEqual([]);
    expect(exp.expectations.filter((e) => e.service === "default/web").map((e) => e.node)).toEqual(["k8s-2"]);
  });

  test("cause 7: no IP assigned, with the pool reason", () => {
    const a = good();
    a.services[0]!.ingressIPs = ["172.29.52.200"];
    a.services[0]!.labels = { "bgp.home/advertise": "true" };
    const issues = expectedAdvertisements(a).serviceIssues;
    expect(issues.map((i) => [i.service, i.family, i.diagnosis.cause])).toEqual([["network/ingress", "ipv6", 7]]);
    expect(issues[0]!.diagnosis.message).toContain("no ipv6 pool selects LoadBalancer Service network/ingress");
    const b = good();
    b.services[1]!.ingressIPs = [];
    b.pools[0]!.disabled = true;
    expect(expectedAdvertisements(b).serviceIssues[0]!.diagnosis.message).toContain("disabled: lb-v4");
  });

  test("cause 7 quotes LB-IPAM's Service condition under the name Cilium 1.17 writes, and the older one", () => {
    for (const type of ["cilium.io/IPAMRequestSatisfied", "io.cilium/lb-ipam-request-satisfied"]) {
      const b = good();
      b.services[1]!.ingressIPs = [];
      b.services[1]!.conditions = [{ type, status: "False", reason: "out_of_ips" }];
      expect(expectedAdvertisements(b).serviceIssues[0]!.diagnosis.message).toContain("(Service condition: out_of_ips)");
    }
  });

  test("cause 8: no ClusterConfig selects the node, two do, or a legacy PeeringPolicy", () => {
    const a = good();
    a.clusterConfigs[0]!.spec.nodeSelector = { matchLabels: { bgp: "on" } };
    a.nodes[0]!.labels.bgp = "on";
    const exp = expectedAdvertisements(a).expectations;
    expect(exp.filter((e) => e.node === "k8s-1").every((e) => !e.blocked)).toBe(true);
    const k2 = exp.filter((e) => e.node === "k8s-2");
    expect(k2.length).toBeGreaterThan(0);
    expect(k2.every((e) => e.blocked?.cause === 8)).toBe(true);
    expect(k2[0]!.blocked!.message).toContain("k8s-2");
    const b = good();
    b.clusterConfigs.push({ ...b.clusterConfigs[0]!, name: "dup" });
    expect(causes(b)).toEqual([8]);
    const c = good();
    c.peeringPolicies = [{ name: "legacy", virtualRouters: [] }];
    expect(causes(c)).toEqual([8]);
  });

  test("cause 9: a PeerConfig without ipv6, and IPv6 over an IPv4 session", () => {
    const a = good();
    a.peerConfigs[0]!.spec.families = [a.peerConfigs[0]!.spec.families![0]!];
    const exp = expectedAdvertisements(a).expectations;
    expect(exp.filter((e) => e.afi === "ipv6").every((e) => e.blocked?.cause === 9)).toBe(true);
    expect(exp.filter((e) => e.afi === "ipv4").every((e) => !e.blocked)).toBe(true);
    const b = good();
    b.clusterConfigs[0]!.spec.bgpInstances[0]!.peers!.pop();
    const v6 = expectedAdvertisements(b).expectations.filter((e) => e.afi === "ipv6");
    expect(v6.length).toBe(3);
    expect(v6.every((e) => e.blocked?.cause === 9 && e.slot.peer === "udm-v4")).toBe(true);
  });

  test("cause 10: the advertisement selector matches no Service label (selecting by pool)", () => {
    const a = good();
    a.advertisements[0]!.spec.advertisements[0]!.selector = { matchLabels: { pool: "lb-v4" } };
    expect(causes(a)).toEqual([10]);
    expect(expectedAdvertisements(a).expectations[0]!.blocked!.message).toContain("pool=lb-v4");
    // the synthetic name/namespace keys do match
    a.advertisements[0]!.spec.advertisements[0]!.selector = { matchLabels: { "io.kubernetes.service.namespace": "default" } };
    const exp = expectedAdvertisements(a).expectations;
    expect(exp.filter((e) => e.service === "default/web").every((e) => !e.blocked)).toBe(true);
    expect(exp.filter((e) => e.service === "network/ingress").every((e) => e.blocked?.cause === 10)).toBe(true);
  });

  test("cause 12: control plane disabled", () => {
    const a = good();
    a.controlPlaneEnabled = false;
    expect(causes(a)).toEqual([12]);
  });
});

// ------------------------------------------------------------------------------------------------------------
// verifyBgp: with Cilium status and the router

function statuses(i: BgpInputs, state = "established", adv?: (node: string, afi: string) => number) {
  return i.nodes.map((n) => ({
    node: n.name,
    peers: [
      { instance: "main", name: "udm-v4", peerAddress: "192.168.10.1", peeringState: state, routeCount: [{ afi: "ipv4", safi: "unicast", advertised: adv ? adv(n.name, "ipv4") : 2, received: 0 }] },
      { instance: "main", name: "udm-v6", peerAddress: "fd00:10::1", peeringState: state, routeCount: [{ afi: "ipv6", safi: "unicast", advertised: adv ? adv(n.name, "ipv6") : 1, received: 0 }] },
    ],
  }));
}

function frrPeer(addr: string, peerState = "OK", state = "Established", pfx = 0) {
  return { remoteAs: 64512, localAs: 64513, state, peerState, pfxRcd: pfx, pfxSnt: 0, dynamicPeer: true };
}

function routerFor(i: BgpInputs, opts: { policy?: boolean; dropNode?: string; onlyV4Prefixes?: string[] } = {}): RouterState {
  const v4peers: Record<string, unknown> = {};
  const v6peers: Record<string, unknown> = {};
  const v4routes: Record<string, unknown[]> = {};
  const v6routes: Record<string, unknown[]> = {};
  for (const n of i.nodes) {
    v4peers[n.ipv4!] = frrPeer(n.ipv4!, opts.policy ? "Policy" : "OK");
    v6peers[n.ipv6!] = frrPeer(n.ipv6!, opts.policy ? "Policy" : "OK");
    if (opts.policy || n.name === opts.dropNode) continue;
    for (const p of opts.onlyV4Prefixes ?? ["172.29.52.200/32", "172.29.52.201/32"]) (v4routes[p] ??= []).push({ valid: true, peerId: n.ipv4, nexthops: [{ ip: n.ipv4 }] });
    (v6routes["fd00:52::10/128"] ??= []).push({ valid: true, peerId: n.ipv6, nexthops: [{ ip: n.ipv6 }] });
  }
  return {
    summary: parseBgpSummary({ ipv4Unicast: { routerId: "192.168.10.1", as: 64513, peers: v4peers }, ipv6Unicast: { routerId: "192.168.10.1", as: 64513, peers: v6peers } }),
    tables: { ipv4: parseBgpRoutes({ routes: v4routes }, "ipv4"), ipv6: parseBgpRoutes({ routes: v6routes }, "ipv6") },
    received: new Map(),
  };
}

describe("verifyBgp", () => {
  test("all good with Cilium status and router: ok, a row per node x peer x family", () => {
    const i = good();
    i.nodeConfigs = statuses(i);
    const r = verifyBgp(i, routerFor(i));
    expect(r.missing).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.rows).toHaveLength(6);
    const row = r.rows.find((x) => x.node === "k8s-1" && x.family === "ipv4")!;
    expect(row).toMatchObject({ peer: "udm-v4", ciliumSession: "established", routerSession: "Established", expected: 2, advertised: 2, receivedAtRouter: 2, missing: 0, nodeAddress: "192.168.10.11" });
    expect(r.unexpectedAtRouter).toEqual([]);
  });

  test("cause 11: router without inbound policy: every prefix missing with the fix", () => {
    const i = good();
    i.nodeConfigs = statuses(i);
    const r = verifyBgp(i, routerFor(i, { policy: true }));
    expect(r.ok).toBe(false);
    expect(r.missing).toHaveLength(9);
    expect(new Set(r.missing.map((m) => m.cause))).toEqual(new Set([11]));
    expect(r.missing[0]!.message).toContain("(Policy)");
    expect(r.missing[0]!.fix).toContain("bgp-router-config");
    expect(r.rows[0]!.routerSession).toBe("Established (Policy)");
  });

  test("cause 11 (prefix-list): router received a prefix but its policy rejected it", () => {
    const i = good();
    i.nodeConfigs = statuses(i);
    const router = routerFor(i, { onlyV4Prefixes: ["172.29.52.200/32"] });
    router.received!.set("ipv4|192.168.10.11", parseReceivedRoutes({ receivedRoutes: { "172.29.52.201/32": { network: "172.29.52.201/32" } } }));
    const r = verifyBgp(i, router);
    expect(r.missing.map((m) => [m.node, m.prefix, m.cause])).toEqual([
      ["k8s-1", "172.29.52.201/32", 11],
      ["k8s-2", "172.29.52.201/32", 11],
      ["k8s-3", "172.29.52.201/32", 11],
    ]);
    expect(r.missing[0]!.message).toContain("received 172.29.52.201/32");
  });

  test("a node advertising nothing: named, with the cause from its objects (8: not selected)", () => {
    const i = good();
    i.clusterConfigs[0]!.spec.nodeSelector = { matchExpressions: [{ key: "kubernetes.io/hostname", operator: "NotIn", values: ["k8s-3"] }] };
    i.nodeConfigs = statuses(i).filter((s) => s.node !== "k8s-3");
    const r = verifyBgp(i, routerFor(i, { dropNode: "k8s-3" }));
    expect(new Set(r.missing.map((m) => m.node))).toEqual(new Set(["k8s-3"]));
    expect(new Set(r.missing.map((m) => m.cause))).toEqual(new Set([8]));
  });

  test("session not established on the Cilium side", () => {
    const i = good();
    i.nodeConfigs = statuses(i);
    i.nodeConfigs[1]!.peers[0]!.peeringState = "active";
    const r = verifyBgp(i, routerFor(i, { dropNode: "k8s-2" }));
    const m = r.missing.filter((x) => x.family === "ipv4");
    expect(m.map((x) => [x.node, x.cause])).toEqual([
      ["k8s-2", "session"],
      ["k8s-2", "session"],
    ]);
    expect(m[0]!.message).toContain("active");
  });

  test("router has no session with the node", () => {
    const i = good();
    const router = routerFor(i);
    i.nodes[0]!.ipv4 = "192.168.10.99";
    const r = verifyBgp(i, router);
    expect(r.missing.filter((m) => m.node === "k8s-1" && m.family === "ipv4").every((m) => m.cause === "session")).toBe(true);
  });

  test("without the router: judged from Cilium's counts only", () => {
    const i = good();
    i.nodeConfigs = statuses(i, "established", (node, afi) => (node === "k8s-2" && afi === "ipv4" ? 1 : afi === "ipv4" ? 2 : 1));
    const r = verifyBgp(i);
    expect(r.routerChecked).toBe(false);
    expect(r.missing.map((m) => [m.node, m.cause])).toEqual([
      ["k8s-2", "unexplained"],
      ["k8s-2", "unexplained"],
    ]);
    expect(r.notes.join(" ")).toContain("ROUTER_SSH");
  });

  test("no NodeConfig at all means the control plane is not running (12)", () => {
    const i = good();
    i.nodeConfigs = [];
    const r = verifyBgp(i);
    expect(new Set(r.missing.map((m) => m.cause))).toEqual(new Set([12]));
  });

  test("prefixes the router holds that nothing expects are listed", () => {
    const i = good();
    const router = routerFor(i);
    i.services.pop();
    i.services.splice(1, 1);
    const r = verifyBgp(i, router);
    expect(r.ok).toBe(true);
    expect(r.unexpectedAtRouter.map((u) => u.prefix)).toEqual(["172.29.52.201/32", "172.29.52.201/32", "172.29.52.201/32"]);
  });
});
