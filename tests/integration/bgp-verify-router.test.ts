/**
 * Issue 7 (b): a router WITHOUT inbound policy (the generated config with its inbound route-maps removed) in the
 * REAL FRR bgpd, three REAL gobgpd nodes announcing the repo's LoadBalancer IPs: bgp-verify, reading the router
 * through `--router-cmd` (the real vtysh on the lab's socket, node addresses mapped lab <-> real), reports every
 * prefix missing with cause 11 and the fix, and exits 1. Then the inbound route-maps are put back on the running
 * router (what uploading the generated config does): then only what the lab cannot carry is missing (the IPv6
 * sessions of nodes 2 and 3: loopback has a single IPv6 address), reported as "session".
 * Lab addresses: router 127.0.1.2, nodes 127.0.1.3-5, IPv6 over ::1 for the first node.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import path from "node:path";
import { runScript } from "../helpers/script.ts";
import { BgpLab, labEnabled, toLoopback, until } from "../fixtures/frr/lab.ts";
import { loadRepo } from "../../lib/repo/model.ts";
import { inputsFromModel, intendedPrefixes, planRouterConfig, renderPlan } from "../../lib/bgp/index.ts";

const ROOT = path.resolve(import.meta.dir, "../..");
const enabled = labEnabled("bgp-verify-router");
const LAB_NODES = ["127.0.1.3", "127.0.1.4", "127.0.1.5"];

const bgpVerify = (args: string[]) => runScript("bgp-verify", args, { env: { ROUTER_SSH: "" } });

describe.skipIf(!enabled)("bgp-verify against a real FRR router without inbound policy", () => {
  let lab: BgpLab;
  let routerCmd = "";
  let expectedCount = 0;

  beforeAll(async () => {
    const model = loadRepo(ROOT);
    const plan = planRouterConfig(model);
    const intended = intendedPrefixes(inputsFromModel(model)).intended.flatMap((s) => s.prefixes);
    const v4 = intended.filter((p) => p.afi === "ipv4").map((p) => p.prefix);
    const v6 = intended.filter((p) => p.afi === "ipv6").map((p) => p.prefix);
    expectedCount = v4.length * model.nodes.length + v6.length * model.nodes.length;
    const full = renderPlan(plan);
    // the mistake of the old Taskfile's router config: no inbound policy, so ebgp-requires-policy drops everything
    const noPolicy = full
      .split("\n")
      .filter((l) => !/^ {2}neighbor \S+ route-map \S+ in$/.test(l))
      .join("\n");
    expect(noPolicy).not.toContain("-IN in");
    const listen: Array<[string, string]> = [[plan.families.find((f) => f.afi === "ipv4")!.listenRanges[0]!, "127.0.1.0/29"]];
    const v6Range = plan.families.find((f) => f.afi === "ipv6")?.listenRanges[0];
    if (v6Range) listen.push([v6Range, "::1/128"]);

    lab = new BgpLab();
    await lab.startRouter(toLoopback(noPolicy, { routerId: "127.0.1.2", listen }), ["127.0.1.2", "::1"]);
    const map: Array<[string, string]> = [];
    for (const [i, node] of model.nodes.entries()) {
      const labAddr = LAB_NODES[i]!;
      map.push([labAddr, node.ipv4]);
      const withV6 = i === 0 && v6Range !== undefined && node.ipv6 !== undefined;
      if (withV6) map.push(["::1", node.ipv6!]);
      await lab.startNode({
        name: node.hostname,
        asn: plan.clusterAsn,
        address: labAddr,
        routerAddress: "127.0.1.2",
        routerAsn: plan.routerAsn,
        ...(withV6 ? { v6: { address: "::1", routerAddress: "::1" } } : {}),
      });
      for (const p of v4) await lab.announce(node.hostname, p);
      if (withV6) for (const p of v6) await lab.announce(node.hostname, p, node.ipv6);
    }
    routerCmd = lab.writeRouterWrapper(map);
    await lab.waitEstablished("ipv4", LAB_NODES, 30_000);
    if (v6Range) await lab.waitEstablished("ipv6", ["::1"], 30_000);
  }, 600_000);

  afterAll(async () => {
    await lab?.stop();
  });

  test("(b) every expected prefix is missing with cause 11 and the fix; exit 1", async () => {
    // the sessions are up but held in (Policy): wait until the router has seen the nodes' updates
    await until("the nodes' updates", 10_000, async () => {
      const r = await lab.vtyshJson(`show bgp ipv4 unicast neighbors ${LAB_NODES[0]} received-routes json`).catch(() => undefined);
      return r && (r.totalPrefixCounter ?? 0) > 0 ? true : undefined;
    });
    const { stdout, stderr, code } = await bgpVerify(["--repo-only", "--router-cmd", routerCmd, "--json"]);
    expect(code, stderr).toBe(1);
    const report = JSON.parse(stdout);
    expect(report.routerChecked).toBe(true);
    const v4missing = report.missing.filter((m: any) => m.family === "ipv4");
    expect(v4missing.length).toBeGreaterThan(0);
    expect(report.missing.length).toBe(expectedCount);
    for (const m of report.missing.filter((x: any) => x.node === "mini01" || x.family === "ipv4")) {
      expect(m.cause).toBe(11);
      expect(m.message).toContain("(Policy)");
      expect(m.fix).toContain("bun scripts/bgp-router-config.ts");
    }
    expect(report.rows.find((r: any) => r.node === "mini01" && r.family === "ipv4").routerSession).toBe("Established (Policy)");
  }, 30_000);

  test("(b) the human table names the router state and the cause once per group", async () => {
    const { stdout, code } = await bgpVerify(["--repo-only", "--router-cmd", routerCmd]);
    expect(code).toBe(1);
    expect(stdout).toContain("Established (Policy)");
    expect(stdout).toMatch(/cause 11: the router holds node mini0\d \(172\.29\.51\.1\d\) in the \(Policy\) state/);
    expect(stdout).toContain("fix: upload the router config from `bun scripts/bgp-router-config.ts`");
  }, 30_000);

  test("after the inbound route-maps are applied on the router, only what the lab cannot carry is missing", async () => {
    for (const [afi, group] of [["ipv4", "CILIUM-V4"], ["ipv6", "CILIUM-V6"]] as const)
      await lab.configure(["router bgp 64513", `address-family ${afi} unicast`, `neighbor ${group} route-map ${group}-IN in`]);
    let last = { stdout: "", stderr: "", code: -1 };
    const report = await until("bgp-verify seeing the accepted routes", 20_000, async () => {
      last = await bgpVerify(["--repo-only", "--router-cmd", routerCmd, "--json"]);
      const r = JSON.parse(last.stdout || "{}");
      return r.missing && r.missing.every((m: any) => m.cause === "session") ? r : undefined;
    }).catch((e) => {
      throw new Error(`${e}\n${last.stdout.slice(0, 3000)}\n${last.stderr}`);
    });
    // every IPv4 route and node 1's IPv6 routes are at the router now; loopback has one IPv6 address, so the other
    // two nodes have no IPv6 session in the lab and bgp-verify says exactly that
    expect(report.rows.filter((r: any) => r.family === "ipv4").every((r: any) => r.missing === 0 && r.receivedAtRouter === r.expected)).toBe(true);
    expect(report.rows.find((r: any) => r.node === "mini01" && r.family === "ipv6").missing).toBe(0);
    expect([...new Set(report.missing.map((m: any) => `${m.node} ${m.family} ${m.cause}`))].sort()).toEqual(["mini02 ipv6 session", "mini03 ipv6 session"]);
    expect(last.code).toBe(1);
  }, 60_000);
});
