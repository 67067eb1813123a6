/**
 * Issue 7 (a): the router configuration that `bgp-router-config` renders from this repo loads into the REAL FRR
 * bgpd, three REAL gobgpd "nodes" establish sessions through its `bgp listen range`, the nodes' LoadBalancer host
 * routes are accepted (with ECMP over the three), and prefixes outside the pools are rejected by its inbound
 * policy. Addresses are moved onto loopback: router 127.0.0.2, nodes 127.0.0.3-5 (listen range 127.0.0.0/29);
 * IPv6 runs as a real IPv6 session over ::1 for the first node (listen range ::1/128), since loopback has one v6
 * address; its routes carry node 1's IPv6 address as next hop (::1 is a martian next hop to FRR).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import path from "node:path";
import { BgpLab, labEnabled, toLoopback } from "../fixtures/frr/lab.ts";
import { loadRepo } from "../../lib/repo/model.ts";
import { intendedPrefixes, inputsFromModel, planRouterConfig } from "../../lib/bgp/index.ts";

const ROOT = path.resolve(import.meta.dir, "../..");
const enabled = labEnabled("frr-router-config");
const NODES = ["127.0.0.3", "127.0.0.4", "127.0.0.5"];

describe.skipIf(!enabled)("router config from bgp-router-config in real FRR bgpd with three gobgpd nodes", () => {
  let lab: BgpLab;
  let v4Pool: string[] = [];
  let v6Pool: string[] = [];
  let clusterAsn = 0;
  const outside = ["10.99.0.1/32", "172.29.52.99/32", "172.29.52.0/24"];
  const outside6 = ["fd00:99::1/128"];

  beforeAll(async () => {
    const model = loadRepo(ROOT);
    const plan = planRouterConfig(model);
    clusterAsn = plan.clusterAsn;
    const intended = intendedPrefixes(inputsFromModel(model)).intended.flatMap((s) => s.prefixes);
    v4Pool = intended.filter((p) => p.afi === "ipv4").map((p) => p.prefix);
    v6Pool = intended.filter((p) => p.afi === "ipv6").map((p) => p.prefix);
    expect(v4Pool.length).toBeGreaterThan(0);

    // the script itself renders the config (stdout), as a user would run it
    const proc = Bun.spawn(["bun", path.join(ROOT, "scripts/bgp-router-config.ts")], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
    const [config, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    if (code !== 0) throw new Error(`bgp-router-config failed (${code}): ${err}`);
    const v4Range = plan.families.find((f) => f.afi === "ipv4")!.listenRanges[0]!;
    const v6Range = plan.families.find((f) => f.afi === "ipv6")?.listenRanges[0];
    const listen: Array<[string, string]> = [[v4Range, "127.0.0.0/29"]];
    if (v6Range) listen.push([v6Range, "::1/128"]);
    const lbConfig = toLoopback(config, { routerId: "127.0.0.2", listen });

    // IPv6 routes carry node 1's real IPv6 address as next hop (a BGP attribute only, see BgpLab.announce)
    const v6NextHop = model.nodes[0]?.ipv6 ?? "fd00::11";
    lab = new BgpLab();
    await lab.startRouter(lbConfig, ["127.0.0.2", "::1"]);
    for (const [i, addr] of NODES.entries())
      await lab.startNode({
        name: `node${i + 1}`,
        asn: plan.clusterAsn,
        address: addr,
        routerAddress: "127.0.0.2",
        routerAsn: plan.routerAsn,
        ...(i === 0 && v6Range ? { v6: { address: "::1", routerAddress: "::1" } } : {}),
      });
    for (const [i] of NODES.entries()) {
      for (const p of [...v4Pool, ...outside]) await lab.announce(`node${i + 1}`, p);
      if (i === 0) for (const p of [...v6Pool, ...outside6]) await lab.announce("node1", p, v6NextHop);
    }
  }, 600_000);

  afterAll(async () => {
    await lab?.stop();
  });

  test("the rendered config loads: bgpd runs it as written", async () => {
    const running = await lab.vtysh("show running-config");
    expect(running).toContain("bgp listen range 127.0.0.0/29 peer-group CILIUM-V4");
    expect(running).toContain("neighbor CILIUM-V4 route-map CILIUM-V4-IN in");
    expect(running).toMatch(/ip prefix-list CILIUM-LB-V4 seq 10 permit \S+ ge 32/);
  }, 30_000);

  test("three IPv4 sessions establish, none held by ebgp-requires-policy", async () => {
    const s = await lab.waitEstablished("ipv4", NODES).catch((e) => {
      throw new Error(`${e}\n${lab.logs()}`);
    });
    for (const a of NODES) {
      expect(s.ipv4Unicast.peers[a].peerState).toBe("OK");
      expect(s.ipv4Unicast.peers[a].dynamicPeer).toBe(true);
      expect(s.ipv4Unicast.peers[a].remoteAs).toBe(clusterAsn);
    }
  }, 30_000);

  test("every node's pool host routes are accepted, with ECMP over the three nodes", async () => {
    const t = await lab.waitTable("ipv4", "the LB host routes from all three nodes", (t) =>
      v4Pool.every((p) => (t.routes[p] ?? []).length === NODES.length),
    );
    for (const p of v4Pool) {
      const paths = t.routes[p] as Array<{ peerId: string; bestpath?: boolean; multipath?: boolean }>;
      expect(paths.map((x) => x.peerId).sort()).toEqual([...NODES].sort());
      expect(paths.filter((x) => x.bestpath || x.multipath)).toHaveLength(NODES.length);
    }
  }, 30_000);

  test("prefixes outside the pools (and a pool-sized aggregate) are rejected, though received", async () => {
    const t = await lab.vtyshJson("show bgp ipv4 unicast json");
    for (const p of outside) expect(t.routes[p]).toBeUndefined();
    const rcv = await lab.vtyshJson(`show bgp ipv4 unicast neighbors ${NODES[0]} received-routes json`);
    for (const p of outside) expect(Object.keys(rcv.receivedRoutes)).toContain(p);
    expect(rcv.filteredPrefixCounter).toBe(outside.length);
  }, 30_000);

  test("IPv6: a real IPv6 session accepts the v6 pool host routes and rejects others", async () => {
    if (v6Pool.length === 0) return;
    await lab.waitEstablished("ipv6", ["::1"]);
    const t = await lab.waitTable("ipv6", "the v6 LB host routes", (t) => v6Pool.every((p) => t.routes[p]));
    for (const p of outside6) expect(t.routes[p]).toBeUndefined();
    expect(t.routes[v6Pool[0]!][0].peerId).toBe("::1");
  }, 30_000);

  test("nothing is advertised to the cluster (outbound route-map denies all)", async () => {
    const running = await lab.vtysh("show running-config");
    expect(running).toContain("neighbor CILIUM-V4 route-map CILIUM-OUT out");
    for (const a of NODES) {
      const adv = await lab.vtyshJson(`show bgp ipv4 unicast neighbors ${a} advertised-routes json`);
      expect(Object.keys(adv.advertisedRoutes ?? {})).toEqual([]);
    }
    const s = await lab.vtyshJson("show bgp summary json");
    for (const a of NODES) expect(s.ipv4Unicast.peers[a].pfxSnt).toBe(0);
  }, 30_000);
});
