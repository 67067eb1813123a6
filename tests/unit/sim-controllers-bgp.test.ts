/**
 * The Cilium BGP v2 / LB-IPAM emulation and the router model, against the store in-process: the correct
 * configuration advertises every LB IP to the router; each silent-failure cause of cilium-bgp.md leaves the
 * session established with nothing advertised (or no session for 8 and 12); the router's ebgp-requires-policy
 * shows (Policy) and accepts nothing (11).
 */
import { afterEach, describe, expect, test } from "bun:test";
import type { KObj } from "../../lib/sim/controllers/obj.ts";
import { CILIUM_VALUES, installCilium, type Rig, rig, threeNodes } from "./sim-controllers-helpers.ts";

const NC = "ciliumbgpnodeconfigs.cilium.io";

function clusterConfig(peers?: unknown[], extra: Record<string, unknown> = {}): KObj {
  return {
    apiVersion: "cilium.io/v2alpha1",
    kind: "CiliumBGPClusterConfig",
    metadata: { name: "home-ops" },
    spec: {
      ...extra,
      bgpInstances: [
        {
          name: "home-ops",
          localASN: 64512,
          peers: peers ?? [
            { name: "udm-pro-v4", peerAddress: "172.29.51.1", peerASN: 64513, peerConfigRef: { name: "udm-pro" } },
            { name: "udm-pro-v6", peerAddress: "fd47:25e1:2f96:51::1", peerASN: 64513, peerConfigRef: { name: "udm-pro" } },
          ],
        },
      ],
    },
  };
}

const FAMILIES = [
  { afi: "ipv4", safi: "unicast", advertisements: { matchLabels: { advertise: "bgp" } } },
  { afi: "ipv6", safi: "unicast", advertisements: { matchLabels: { advertise: "bgp" } } },
];

const peerConfig = (families: unknown = FAMILIES): KObj => ({
  apiVersion: "cilium.io/v2alpha1",
  kind: "CiliumBGPPeerConfig",
  metadata: { name: "udm-pro" },
  spec: { ...(families === null ? {} : { families }) },
});

const SELECT_ALL = { matchExpressions: [{ key: "home-ops.io/bgp", operator: "NotIn", values: ["never-used-value"] }] };
const advertisement = (entry: Record<string, unknown> = { advertisementType: "Service", service: { addresses: ["LoadBalancerIP"] }, selector: SELECT_ALL }, labels: Record<string, string> = { advertise: "bgp" }): KObj => ({
  apiVersion: "cilium.io/v2alpha1",
  kind: "CiliumBGPAdvertisement",
  metadata: { name: "lb-services", labels },
  spec: { advertisements: [entry] },
});

const pool = (name: string, start: string, stop: string, extra: Record<string, unknown> = {}): KObj => ({
  apiVersion: "cilium.io/v2alpha1",
  kind: "CiliumLoadBalancerIPPool",
  metadata: { name },
  spec: { blocks: [{ start, stop }], ...extra },
});

const lbService = (name: string, extra: Record<string, unknown> = {}, labels: Record<string, string> = {}): KObj => ({
  apiVersion: "v1",
  kind: "Service",
  metadata: { name, namespace: "default", labels },
  spec: { type: "LoadBalancer", ipFamilyPolicy: "PreferDualStack", ipFamilies: ["IPv4", "IPv6"], selector: { app: name }, ports: [{ port: 80 }], ...extra },
});

interface Setup {
  values?: string;
  objects?: KObj[];
  skip?: ("cluster" | "peer" | "advert")[];
  cluster?: KObj;
  peer?: KObj;
  advert?: KObj;
  services?: KObj[];
}

async function setup(s: Setup = {}): Promise<Rig> {
  const r = rig();
  threeNodes(r);
  const res = await installCilium(r, s.values ?? CILIUM_VALUES);
  expect(res.exitCode).toBe(0);
  const create = (o: KObj) => r.store.create(o, { fieldManager: "test" });
  create(pool("v4", "172.29.52.100", "172.29.52.199"));
  create(pool("v6", "fd47:25e1:2f96:52::100", "fd47:25e1:2f96:52::1ff"));
  for (const svc of s.services ?? [lbService("web"), lbService("dns")]) create(svc);
  if (!s.skip?.includes("cluster")) create(s.cluster ?? clusterConfig());
  if (!s.skip?.includes("peer")) create(s.peer ?? peerConfig());
  if (!s.skip?.includes("advert")) create(s.advert ?? advertisement());
  for (const o of s.objects ?? []) create(o);
  await r.settle();
  return r;
}

interface PeerStatus {
  name: string;
  peeringState: string;
  routeCount?: { afi: string; safi: string; advertised: number; received: number }[];
}
function peers(r: Rig, node: string): PeerStatus[] {
  return (r.get(NC, node)?.status?.bgpInstances?.[0]?.peers ?? []) as PeerStatus[];
}
const adv = (p: PeerStatus | undefined, afi: string) => p?.routeCount?.find((c) => c.afi === afi)?.advertised;
const totalAdvertised = (r: Rig) =>
  ["mini01", "mini02", "mini03"].flatMap((n) => peers(r, n)).flatMap((p) => p.routeCount ?? []).reduce((a, c) => a + c.advertised, 0);
const allEstablished = (r: Rig) => ["mini01", "mini02", "mini03"].every((n) => peers(r, n).length === 2 && peers(r, n).every((p) => p.peeringState === "established"));

let current: Rig | undefined;
afterEach(() => current?.stop());

describe("LB-IPAM", () => {
  test("assigns v4 and v6 from matching pools, sets the satisfied condition", async () => {
    const r = (current = await setup());
    const web = r.get("services", "web", "default");
    // same creation second: LB-IPAM takes them in namespace/name order (dns, then web)
    expect(web?.status?.loadBalancer?.ingress).toEqual([{ ip: "172.29.52.101" }, { ip: "fd47:25e1:2f96:52::101" }]);
    const cond = web?.status?.conditions?.find((c: { type: string }) => c.type === "cilium.io/IPAMRequestSatisfied");
    expect(cond).toMatchObject({ status: "True", reason: "satisfied" });
    expect(r.get("services", "dns", "default")?.status?.loadBalancer?.ingress?.[0]?.ip).toBe("172.29.52.100");
    const p = r.get("ciliumloadbalancerippools.cilium.io", "v4");
    expect(p?.status?.conditions?.find((c: { type: string }) => c.type === "cilium.io/IPsAvailable")?.message).toBe("98");
  });

  test("respects lbipam.cilium.io/ips, a selector no Service matches, disabled pools and exhaustion", async () => {
    const r = (current = rig());
    threeNodes(r);
    await installCilium(r);
    const c = (o: KObj) => r.store.create(o, { fieldManager: "test" });
    c(pool("tiny", "172.29.52.10", "172.29.52.10", { serviceSelector: { matchLabels: { pool: "tiny" } } }));
    await r.settle();
    c(pool("off", "172.29.52.20", "172.29.52.29", { disabled: true, serviceSelector: { matchLabels: { pool: "off" } } }));
    await r.settle();
    c(pool("main", "172.29.52.100", "172.29.52.110", { serviceSelector: { matchLabels: { pool: "main" } } }));
    await r.settle();
    c(lbService("pinned", { ipFamilyPolicy: "SingleStack", ipFamilies: ["IPv4"] }, { pool: "main" }));
    await r.settle();
    r.store.patch("services", "pinned", "default", { metadata: { annotations: { "lbipam.cilium.io/ips": "172.29.52.105" } } }, { type: "merge", fieldManager: "test" });
    await r.settle();
    c(lbService("first", { ipFamilyPolicy: "SingleStack", ipFamilies: ["IPv4"] }, { pool: "tiny" }));
    await r.settle();
    c(lbService("second", { ipFamilyPolicy: "SingleStack", ipFamilies: ["IPv4"] }, { pool: "tiny" }));
    await r.settle();
    c(lbService("nopool", { ipFamilyPolicy: "SingleStack", ipFamilies: ["IPv4"] }, { pool: "nothing" }));
    await r.settle();
    c(lbService("disabled", { ipFamilyPolicy: "SingleStack", ipFamilies: ["IPv4"] }, { pool: "off" }));
    await r.settle();
    c({ ...lbService("clusterip"), spec: { type: "ClusterIP", ports: [{ port: 80 }] } });
    await r.settle();
    const ing = (n: string) => r.get("services", n, "default")?.status?.loadBalancer?.ingress;
    const reason = (n: string) => r.get("services", n, "default")?.status?.conditions?.find((x: { type: string }) => x.type === "cilium.io/IPAMRequestSatisfied")?.reason;
    expect(ing("pinned")).toEqual([{ ip: "172.29.52.105" }]);
    expect(ing("first")).toEqual([{ ip: "172.29.52.10" }]);
    expect(ing("second")).toBeUndefined();
    expect(reason("second")).toBe("out_of_ips");
    expect(reason("nopool")).toBe("no_pool");
    expect(reason("disabled")).toBe("no_pool");
    expect(r.get("services", "clusterip", "default")?.status?.conditions).toBeUndefined();
  });
});

describe("BGP v2 with a router that has an inbound policy", () => {
  test("the correct configuration advertises every LB IP to the router on every node", async () => {
    const r = (current = await setup());
    r.c.router.setInboundPolicy(["172.29.52.0/24", "fd47:25e1:2f96:52::/64"]);
    await r.settle();
    expect(allEstablished(r)).toBe(true);
    const [v4, v6] = peers(r, "mini01");
    expect(adv(v4, "ipv4")).toBe(2);
    expect(adv(v4, "ipv6")).toBe(0); // not negotiated on the IPv4 session
    expect(adv(v6, "ipv6")).toBe(2);
    const summary = JSON.parse(r.vtysh("-c", "show bgp summary json").stdout);
    expect(Object.keys(summary)).toEqual(["ipv4Unicast", "ipv6Unicast"]);
    expect(summary.ipv4Unicast.as).toBe(64513);
    expect(summary.ipv4Unicast.peers["172.29.51.11"]).toMatchObject({ remoteAs: 64512, state: "Established", peerState: "OK", pfxRcd: 2 });
    expect(summary.ipv6Unicast.peers["fd47:25e1:2f96:51::12"]).toMatchObject({ state: "Established", pfxRcd: 2 });
    const routes = JSON.parse(r.vtysh("-c", "show bgp ipv4 unicast json").stdout);
    expect(Object.keys(routes.routes)).toEqual(["172.29.52.100/32", "172.29.52.101/32"]);
    const paths = routes.routes["172.29.52.100/32"];
    expect(paths).toHaveLength(3);
    expect(paths.filter((p: { bestpath?: boolean }) => p.bestpath)).toHaveLength(1);
    expect(paths[0].nexthops[0]).toMatchObject({ afi: "ipv4", used: true });
    expect(paths.map((p: { nexthops: { ip: string }[] }) => p.nexthops[0]?.ip).sort()).toEqual(["172.29.51.11", "172.29.51.12", "172.29.51.13"]);
    const v6routes = JSON.parse(r.vtysh("-c", "show bgp ipv6 unicast json").stdout);
    expect(v6routes.routes["fd47:25e1:2f96:52::100/128"][0].nexthops[0]).toMatchObject({ afi: "ipv6", scope: "global" });
  });

  test("a prefix outside the router's prefix-list is not accepted", async () => {
    const r = (current = await setup());
    r.c.router.setInboundPolicy(["172.29.52.101/32"]);
    await r.settle();
    const routes = JSON.parse(r.vtysh("-c", "show bgp ipv4 unicast json").stdout);
    expect(Object.keys(routes.routes)).toEqual(["172.29.52.101/32"]);
  });

  test("a loaded FRR config (vtysh -b) sets the policy; without it the router is in (Policy)", async () => {
    const r = (current = await setup());
    const conf = [
      "router bgp 64513",
      " bgp router-id 172.29.51.1",
      " bgp listen range 172.29.51.0/24 peer-group CILIUM",
      " neighbor CILIUM peer-group",
      " neighbor CILIUM remote-as 64512",
      " address-family ipv4 unicast",
      "  neighbor CILIUM activate",
      "  neighbor CILIUM route-map CILIUM-IN in",
      "  neighbor CILIUM route-map CILIUM-OUT out",
      "  neighbor CILIUM soft-reconfiguration inbound",
      " exit-address-family",
      "ip prefix-list CILIUM-LB seq 10 permit 172.29.52.0/24 ge 32",
      "route-map CILIUM-IN permit 10",
      " match ip address prefix-list CILIUM-LB",
      "route-map CILIUM-OUT deny 10",
    ].join("\n");
    const load = r.c.router.loadConfig(conf);
    expect(load).toEqual([]);
    const s = JSON.parse(r.vtysh("-c", "show bgp ipv4 unicast summary json").stdout);
    expect(s.peers["172.29.51.11"]).toMatchObject({ peerState: "OK", pfxRcd: 2, dynamicPeer: true });
    const rr = JSON.parse(r.vtysh("-c", "show bgp ipv4 unicast neighbors 172.29.51.11 received-routes json").stdout);
    expect(rr.totalPrefixCounter).toBe(2);
  });
});

describe("the router without inbound policy (cause 11)", () => {
  test("Cilium advertises, FRR shows (Policy) and accepts nothing", async () => {
    const r = (current = await setup());
    expect(totalAdvertised(r)).toBeGreaterThan(0);
    const s = JSON.parse(r.vtysh("-c", "show bgp summary json").stdout);
    expect(s.ipv4Unicast.peers["172.29.51.13"]).toMatchObject({ state: "Established", peerState: "Policy", pfxRcd: 0 });
    expect(JSON.parse(r.vtysh("-c", "show bgp ipv4 unicast json").stdout).routes).toEqual({});
    expect(r.vtysh("-c", "show bgp summary").stdout).toContain("(Policy)");
  });

  test("the router-rejects-routes fault forces it even with a policy", async () => {
    const r = (current = await setup());
    r.c.router.setInboundPolicy(true);
    await r.settle();
    r.faults.add("router-rejects-routes");
    await r.settle();
    expect(JSON.parse(r.vtysh("-c", "show bgp ipv4 unicast json").stdout).routes).toEqual({});
    r.faults.clear("router-rejects-routes");
    await r.settle();
    expect(Object.keys(JSON.parse(r.vtysh("-c", "show bgp ipv4 unicast json").stdout).routes)).toHaveLength(2);
  });
});

describe("every silent cause: peering established, nothing advertised", () => {
  const cases: [string, Setup][] = [
    ["1: peer without peerConfigRef", { cluster: clusterConfig([{ name: "udm-pro-v4", peerAddress: "172.29.51.1", peerASN: 64513 }, { name: "udm-pro-v6", peerAddress: "fd47:25e1:2f96:51::1", peerASN: 64513 }]) }],
    ["1: peerConfigRef to a missing PeerConfig", { skip: ["peer"] }],
    ["2: PeerConfig without families", { peer: peerConfig(null) }],
    ["2: families without an advertisements selector", { peer: peerConfig([{ afi: "ipv4", safi: "unicast" }, { afi: "ipv6", safi: "unicast" }]) }],
    ["3: advertisements selector matches no advertisement labels", { advert: advertisement(undefined, { advertise: "other" }) }],
    ["4: Service advertisement without selector", { advert: advertisement({ advertisementType: "Service", service: { addresses: ["LoadBalancerIP"] } }) }],
    ["4: Service advertisement without service block", { advert: advertisement({ advertisementType: "Service", selector: SELECT_ALL }) }],
    ["4: NotIn with empty values is an invalid selector", { advert: advertisement({ advertisementType: "Service", service: { addresses: ["LoadBalancerIP"] }, selector: { matchExpressions: [{ key: "x", operator: "NotIn", values: [] }] } }) }],
    ["5: addresses lack LoadBalancerIP", { advert: advertisement({ advertisementType: "Service", service: { addresses: ["ExternalIP"] }, selector: SELECT_ALL }) }],
    ["5: Services not of type LoadBalancer", { services: [{ ...lbService("web"), spec: { type: "ClusterIP", clusterIP: "None", ports: [{ port: 80 }] } }] }],
    ["5: foreign loadBalancerClass", { services: [lbService("web", { loadBalancerClass: "metallb" })] }],
    ["6: externalTrafficPolicy Local without local endpoints", { services: [lbService("web", { externalTrafficPolicy: "Local" })] }],
    ["7: no pool matches (no ingress IP)", { services: [lbService("web", {}, {})].map((s) => s), objects: [] }],
    ["10: selecting by pool label (not a Service label)", { advert: advertisement({ advertisementType: "Service", service: { addresses: ["LoadBalancerIP"] }, selector: { matchLabels: { "io.cilium/pool": "v4" } } }) }],
  ];
  for (const [name, s] of cases) {
    test(name, async () => {
      const setupArgs = name.startsWith("7:") ? { ...s, services: [lbService("web", {}, { nopool: "x" })] } : s;
      const r = (current = await setup(setupArgs));
      if (name.startsWith("7:")) {
        // pools that select a label the Service does not carry
        for (const p of ["v4", "v6"]) r.store.patch("ciliumloadbalancerippools.cilium.io", p, undefined, { spec: { serviceSelector: { matchLabels: { pool: p } } } }, { type: "merge", fieldManager: "test" });
        await r.settle();
        expect(r.get("services", "web", "default")?.status?.loadBalancer?.ingress).toBeUndefined();
      }
      r.c.router.setInboundPolicy(true);
      await r.settle();
      expect(allEstablished(r)).toBe(true);
      expect(totalAdvertised(r)).toBe(0);
      expect(JSON.parse(r.vtysh("-c", "show bgp ipv4 unicast json").stdout).routes).toEqual({});
    });
  }

  test("9: a v4-only PeerConfig never sends the IPv6 LB IPs", async () => {
    const r = (current = await setup({ peer: peerConfig([FAMILIES[0]]) }));
    r.c.router.setInboundPolicy(true);
    await r.settle();
    expect(allEstablished(r)).toBe(true);
    const [v4, v6] = peers(r, "mini02");
    expect(adv(v4, "ipv4")).toBe(2);
    expect(adv(v6, "ipv6")).toBeUndefined();
    expect(JSON.parse(r.vtysh("-c", "show bgp ipv6 unicast json").stdout).routes).toEqual({});
  });

  test("9: IPv6 over the IPv4 session arrives with an IPv4-mapped next hop the router cannot use", async () => {
    const r = (current = await setup({ cluster: clusterConfig([{ name: "udm-pro-v4", peerAddress: "172.29.51.1", peerASN: 64513, peerConfigRef: { name: "udm-pro" } }]) }));
    r.c.router.setInboundPolicy(true);
    await r.settle();
    r.c.router.configure({ ipv6OnIpv4Sessions: true });
    await r.settle();
    const [v4] = peers(r, "mini01");
    expect(adv(v4, "ipv6")).toBe(2);
    const paths = JSON.parse(r.vtysh("-c", "show bgp ipv6 unicast json").stdout).routes["fd47:25e1:2f96:52::100/128"];
    expect(paths[0].nexthops[0].ip).toBe("::ffff:172.29.51.11");
    expect(paths.some((p: { bestpath?: boolean }) => p.bestpath)).toBe(false);
  });

  test("8: nodeSelector matching no node: no node configs, condition NoMatchingNode", async () => {
    const r = (current = await setup({ cluster: clusterConfig(undefined, { nodeSelector: { matchLabels: { bgp: "yes" } } }) }));
    expect(r.list(NC)).toHaveLength(0);
    const cc = r.get("ciliumbgpclusterconfigs.cilium.io", "home-ops");
    expect(cc?.status?.conditions?.find((c: { type: string }) => c.type === "cilium.io/NoMatchingNode")?.status).toBe("True");
    expect(r.vtysh("-c", "show bgp summary json").stdout.trim()).toBe("{}");
  });

  test("8: a legacy CiliumBGPPeeringPolicy selecting the node wins over v2", async () => {
    const r = (current = await setup({ objects: [{ apiVersion: "cilium.io/v2alpha1", kind: "CiliumBGPPeeringPolicy", metadata: { name: "legacy" }, spec: { nodeSelector: { matchLabels: { "kubernetes.io/hostname": "mini01" } }, virtualRouters: [] } }] }));
    expect(peers(r, "mini01")).toEqual([]);
    expect(peers(r, "mini02")).toHaveLength(2);
  });

  test("12: bgpControlPlane disabled: no node configs and no sessions", async () => {
    const r = (current = await setup({ values: CILIUM_VALUES.replace("enabled: true", "enabled: false") }));
    expect(r.list(NC)).toHaveLength(0);
    expect(r.vtysh("-c", "show bgp summary json").stdout.trim()).toBe("{}");
  });

  test("1: the ClusterConfig reports the missing PeerConfig", async () => {
    const r = (current = await setup({ skip: ["peer"] }));
    const cc = r.get("ciliumbgpclusterconfigs.cilium.io", "home-ops");
    expect(cc?.status?.conditions?.find((c: { type: string }) => c.type === "cilium.io/MissingPeerConfigs")).toMatchObject({ status: "True" });
  });
});

describe("sessions", () => {
  test("a wrong peer ASN or router address leaves the peer active", async () => {
    const r = (current = await setup({ cluster: clusterConfig([{ name: "bad-asn", peerAddress: "172.29.51.1", peerASN: 65000, peerConfigRef: { name: "udm-pro" } }]) }));
    r.c.router.configure({ asn: 64513, addresses: ["172.29.51.1", "fd47:25e1:2f96:51::1"] });
    await r.settle();
    expect(peers(r, "mini01")[0]?.peeringState).toBe("active");
    r.store.patch("ciliumbgpclusterconfigs.cilium.io", "home-ops", undefined, { spec: { bgpInstances: [{ name: "home-ops", localASN: 64512, peers: [{ name: "bad-addr", peerAddress: "172.29.51.254", peerASN: 64513, peerConfigRef: { name: "udm-pro" } }] }] } }, { type: "merge", fieldManager: "test" });
    await r.settle();
    expect(peers(r, "mini01")).toMatchObject([{ name: "bad-addr", peeringState: "active" }]);
  });

  test("a node whose agent stops keeps its stale status but the router drops its session", async () => {
    const r = (current = await setup());
    r.c.router.setInboundPolicy(true);
    await r.settle();
    r.setNodeReady("mini02", "Unknown");
    await r.settle();
    expect(peers(r, "mini02")[0]?.peeringState).toBe("established");
    const s = JSON.parse(r.vtysh("-c", "show bgp ipv4 unicast summary json").stdout);
    expect(Object.keys(s.peers)).toEqual(["172.29.51.11", "172.29.51.13"]);
  });

  test("established waits for the (scaled) session set-up time", async () => {
    const r = (current = rig({ scale: 1, delays: { podStart: 0, ciliumAgent: 0, ciliumOperatorCrds: 0, crdEstablish: 0, bgpSession: 2000 } }));
    threeNodes(r);
    await installCilium(r);
    for (const o of [pool("v4", "172.29.52.100", "172.29.52.199"), lbService("web"), clusterConfig(), peerConfig(), advertisement()]) r.store.create(o, { fieldManager: "test" });
    // 2 s of set-up: long enough that a loaded machine still sees the session opening, then (polled) established
    await r.settle();
    expect(peers(r, "mini01")[0]?.peeringState).toBe("open_confirm");
    const end = Date.now() + 20_000;
    while (peers(r, "mini01")[0]?.peeringState !== "established" && Date.now() < end) await Bun.sleep(10);
    expect(peers(r, "mini01")[0]?.peeringState).toBe("established");
  });

  test("300 nodes: every node gets its node config and session; the router sees 300 peers", async () => {
    const r = (current = rig());
    for (let i = 0; i < 300; i++) r.addNode(`node${String(i).padStart(3, "0")}`, `172.29.${50 + Math.floor(i / 200)}.${(i % 200) + 10}`);
    const res = await installCilium(r);
    expect(res.exitCode).toBe(0);
    for (const o of [pool("v4", "172.29.52.100", "172.29.52.199"), lbService("web"), clusterConfig([{ name: "udm", peerAddress: "172.29.51.1", peerASN: 64513, peerConfigRef: { name: "udm-pro" } }]), peerConfig(), advertisement()]) r.store.create(o, { fieldManager: "test" });
    r.c.router.setInboundPolicy(true);
    await r.settle();
    expect(r.list(NC)).toHaveLength(300);
    expect(r.list(NC).every((n) => n.status?.bgpInstances?.[0]?.peers?.[0]?.peeringState === "established")).toBe(true);
    const s = JSON.parse(r.vtysh("-c", "show bgp ipv4 unicast summary json").stdout);
    expect(s.totalPeers).toBe(300);
    expect(JSON.parse(r.vtysh("-c", "show bgp ipv4 unicast json").stdout).routes["172.29.52.100/32"]).toHaveLength(300);
  }, 30_000);
});
