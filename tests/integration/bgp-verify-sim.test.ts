/**
 * Issue 7 (c): one node advertising nothing. The router is the REAL FRR bgpd loaded with the generated config,
 * the nodes are REAL gobgpd speakers (mini01 and mini02 announce the LoadBalancer IPs the simulated cluster
 * assigned; mini03 peers but announces nothing), and the cluster side is the simulated cluster (lib/sim) whose
 * CiliumBGPClusterConfig no longer selects mini03. bgp-verify (Kubernetes API of the simulation + `--router-cmd`
 * on the real vtysh) names mini03 and, from the simulated cluster's objects, cause 8.
 * Lab addresses: router 127.0.2.2, nodes 127.0.2.3-5 mapped to the nodes' real IPv4 addresses; no IPv6 sessions
 * in this lab (loopback has one IPv6 address), so only the IPv4 rows are asserted for the nodes that do advertise.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import path from "node:path";
import { BgpLab, labEnabled, toLoopback, until } from "../fixtures/frr/lab.ts";
import { deployed, runScript, type Deployed } from "../fixtures/frr/sim-harness.ts";
import { loadRepo } from "../../lib/repo/model.ts";
import { planRouterConfig, renderPlan } from "../../lib/bgp/index.ts";

const ROOT = path.resolve(import.meta.dir, "../..");
const enabled = labEnabled("bgp-verify-sim");
const LAB = ["127.0.2.3", "127.0.2.4", "127.0.2.5"];

describe.skipIf(!enabled)("(c) a node advertising nothing: real FRR + gobgpd, cluster side simulated", () => {
  let d: Deployed;
  let lab: BgpLab;
  let routerCmd = "";

  beforeAll(async () => {
    const model = loadRepo(ROOT);
    d = await deployed();
    // the broken state, in the cluster's objects: the ClusterConfig leaves mini03 out
    await d.client.patch(
      { apiVersion: "cilium.io/v2alpha1", kind: "CiliumBGPClusterConfig", name: "home-ops" },
      { spec: { nodeSelector: { matchExpressions: [{ key: "kubernetes.io/hostname", operator: "NotIn", values: ["mini03"] }] } } },
      "merge",
    );
    await until("mini03's CiliumBGPNodeConfig removed", 30_000, async () =>
      (await d.client.tryGet({ apiVersion: "cilium.io/v2alpha1", kind: "CiliumBGPNodeConfig", name: "mini03" })) ? undefined : true,
    );
    const services = await d.client.list({ apiVersion: "v1", kind: "Service" });
    const lbIPs = services.items
      .filter((s) => s.spec?.type === "LoadBalancer")
      .flatMap((s) => (s.status?.loadBalancer?.ingress ?? []).map((i: { ip: string }) => i.ip))
      .filter((ip: string) => !ip.includes(":"));
    expect(lbIPs.length).toBeGreaterThan(0);

    const plan = planRouterConfig(model);
    const v4Range = plan.families.find((f) => f.afi === "ipv4")!.listenRanges[0]!;
    lab = new BgpLab();
    await lab.startRouter(toLoopback(renderPlan(plan), { routerId: "127.0.2.2", listen: [[v4Range, "127.0.2.0/29"]] }), ["127.0.2.2"]);
    const map: Array<[string, string]> = [];
    for (const [i, node] of model.nodes.entries()) {
      map.push([LAB[i]!, node.ipv4]);
      await lab.startNode({ name: node.hostname, asn: plan.clusterAsn, address: LAB[i]!, routerAddress: "127.0.2.2", routerAsn: plan.routerAsn });
      if (node.hostname !== "mini03") for (const ip of lbIPs) await lab.announce(node.hostname, `${ip}/32`);
    }
    routerCmd = lab.writeRouterWrapper(map);
    await lab.waitEstablished("ipv4", LAB, 30_000);
    await lab.waitTable("ipv4", "the LB routes of mini01 and mini02", (t) => lbIPs.every((ip: string) => (t.routes[`${ip}/32`] ?? []).length === 2));
  }, 600_000);

  afterAll(async () => {
    await lab?.stop();
    await d?.stop();
  });

  test("bgp-verify names mini03 with cause 8 from the cluster's objects; the others' IPv4 routes are at the router", async () => {
    const r = await runScript(d, "bgp-verify", ["--router-cmd", routerCmd, "--json"]);
    expect(r.code, r.stderr).toBe(1);
    const j = JSON.parse(r.stdout);
    const v4 = j.missing.filter((m: any) => m.family === "ipv4");
    expect(v4.length).toBeGreaterThan(0);
    expect(new Set(v4.map((m: any) => m.node))).toEqual(new Set(["mini03"]));
    expect(new Set(j.missing.filter((m: any) => m.node === "mini03").map((m: any) => m.cause))).toEqual(new Set([8]));
    expect(v4[0].message).toContain("mini03");
    const rows = j.rows.filter((x: any) => x.family === "ipv4");
    for (const node of ["mini01", "mini02"]) {
      const row = rows.find((x: any) => x.node === node);
      expect(row.routerSession).toBe("Established");
      expect(row.receivedAtRouter).toBe(row.expected);
    }
    // the router does see mini03's session: it is up, it just carries nothing
    expect(rows.find((x: any) => x.node === "mini03").routerSession).toBe("Established");
  }, 60_000);

  test("the human report names the node, the cause and the fix", async () => {
    const r = await runScript(d, "bgp-verify", ["--router-cmd", routerCmd]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("mini03 -> udm-pro-v4 ipv4:");
    expect(r.stdout).toMatch(/cause 8: no nodeSelector matches node mini03 \(.*\): it runs no BGP/);
    expect(r.stdout).toContain("fix: widen a CiliumBGPClusterConfig's nodeSelector to the node");
  }, 60_000);
});
