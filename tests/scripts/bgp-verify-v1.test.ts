/**
 * bgp-verify live against the simulated cluster (the state `--simulate` starts, here driven by the test) on the
 * legacy BGP v1 control plane: the simulated cluster (lib/sim, whose Cilium
 * models v1 independently of lib/bgp) runs a CiliumBGPPeeringPolicy built from this repo's own peers and ASN
 * instead of the v2 ClusterConfig. A working policy raises no alarm (the Taskfile cluster's 17 false alarms); a
 * repeated localASN leaves the second router's routes out, and bgp-verify names cause 14 for exactly those; with no
 * BGP configuration at all it fails and says why instead of "ok". bgp-migrate --live proves the running policy's
 * v2 translation equivalent.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { loadRepo } from "../../lib/repo/model.ts";
import { controllersOf } from "../../lib/sim/controllers/index.ts";
import { deployed, REPO, runScript, type Deployed } from "../fixtures/frr/sim-harness.ts";
import { until } from "../fixtures/frr/lab.ts";

const model = loadRepo(REPO);
const localASN = model.bgp.localASN!.value;
const peers = model.bgp.peers;
const v4 = peers.find((p) => p.family === "ipv4")!;
const v6 = peers.find((p) => p.family === "ipv6")!;
const neighbor = (p: typeof v4) => ({ peerAddress: `${p.peerAddress}/${p.family === "ipv6" ? 128 : 32}`, peerASN: p.peerASN });
const POLICY = { apiVersion: "cilium.io/v2alpha1", kind: "CiliumBGPPeeringPolicy", metadata: { name: "legacy" } };
const CC = { apiVersion: "cilium.io/v2alpha1", kind: "CiliumBGPClusterConfig", name: model.bgp.clusterConfigs[0]!.name };

describe("bgp-verify --simulate on BGP v1", () => {
  let d: Deployed;
  const routes = (afi: "ipv4/unicast" | "ipv6/unicast") => Object.keys((controllersOf(d.sim.cluster)!.router.routesJson(afi) as { routes: Record<string, unknown> }).routes);
  let v2Routes: { v4: string[]; v6: string[] };

  beforeAll(async () => {
    d = await deployed();
    v2Routes = { v4: routes("ipv4/unicast").sort(), v6: routes("ipv6/unicast").sort() };
    // v1 instead of v2: the ClusterConfig goes, the policy comes
    await d.client.delete(CC);
    await until("the v2 NodeConfigs gone", 30_000, async () => ((await d.client.list({ apiVersion: "cilium.io/v2alpha1", kind: "CiliumBGPNodeConfig" })).items.length === 0 ? true : undefined));
  }, 180_000);
  afterAll(async () => {
    await d?.stop();
  });

  async function withPolicy(virtualRouters: unknown[], expectV4: number, expectV6: number) {
    await d.client.apply({ ...POLICY, spec: { virtualRouters } }, { force: true });
    await until("the router's routes from the v1 speakers", 30_000, () => (routes("ipv4/unicast").length === expectV4 && routes("ipv6/unicast").length === expectV6 ? true : undefined));
  }

  test("a working v1 policy: every route at the router and no false alarm, exit 0", async () => {
    expect(v2Routes.v4.length).toBeGreaterThan(0);
    await withPolicy([{ localASN, serviceSelector: {}, neighbors: [neighbor(v4), neighbor(v6)] }], v2Routes.v4.length, v2Routes.v6.length);
    const r = await runScript(d, "bgp-verify", ["--router-cmd", "vtysh", "--json"]);
    expect(r.code, r.stderr + r.stdout.slice(0, 2000)).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.missing).toEqual([]);
    expect(j.expectedTotal).toBe((v2Routes.v4.length + v2Routes.v6.length) * model.nodes.length);
    expect(j.rows.every((row: { ciliumSession?: string }) => row.ciliumSession === "v1 (no status)")).toBe(true);
  }, 90_000);

  test("bgp-migrate --live reads the running policy and proves its v2 translation equivalent (nothing written with --dry-run)", async () => {
    const r = await runScript(d, "bgp-migrate", ["--live", "--dry-run", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const plan = JSON.parse(r.stdout);
    expect(plan).toMatchObject({ policies: ["legacy"], equivalent: true, differences: [] });
    expect(plan.before).toBe((v2Routes.v4.length + v2Routes.v6.length) * model.nodes.length);
    expect(plan.wrote).toBeUndefined();
  }, 90_000);

  test("a repeated localASN: the IPv6 router never runs; bgp-verify names cause 14 for the IPv6 routes only, exit 1", async () => {
    await withPolicy(
      [
        { localASN, serviceSelector: {}, neighbors: [neighbor(v4)] },
        { localASN, serviceSelector: {}, neighbors: [neighbor(v6)] },
      ],
      v2Routes.v4.length,
      0,
    );
    const r = await runScript(d, "bgp-verify", ["--router-cmd", "vtysh", "--json"]);
    expect(r.code).toBe(1);
    const j = JSON.parse(r.stdout);
    expect([...new Set(j.missing.map((m: { family: string; cause: unknown }) => `${m.family} ${m.cause}`))]).toEqual(["ipv6 14"]);
    expect(j.missing).toHaveLength(v2Routes.v6.length * model.nodes.length);
    const human = await runScript(d, "bgp-verify", ["--router-cmd", "vtysh"]);
    expect(human.stdout).toContain("cause 14: CiliumBGPPeeringPolicy legacy: virtual router 1 repeats localASN");
  }, 90_000);

  test("no BGP configuration at all: a failure that names why, never ok", async () => {
    await d.client.delete({ apiVersion: "cilium.io/v2alpha1", kind: "CiliumBGPPeeringPolicy", name: "legacy" });
    await until("the router empty", 30_000, () => (routes("ipv4/unicast").length === 0 ? true : undefined));
    const r = await runScript(d, "bgp-verify", ["--router-cmd", "vtysh"]);
    expect(r.code).toBe(1);
    expect(r.stdout).not.toMatch(/^ok /m);
    expect(r.stdout).toContain("there is no CiliumBGPClusterConfig (nor CiliumBGPPeeringPolicy)");
  }, 90_000);
});
