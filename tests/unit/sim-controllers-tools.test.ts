/** vtysh stand-in formats, registerControllers' wiring into a SimCluster-like host, the router env knob. */
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { applyRouterEnv, controllersOf, registerControllers, SimRouter } from "../../lib/sim/controllers/index.ts";
import { Faults } from "../../lib/sim/faults.ts";
import { SimStore } from "../../lib/sim/store.ts";
import { Timing } from "../../lib/sim/timing.ts";
import type { ToolHandler } from "../../lib/sim/tools.ts";
import { createVtyshTool } from "../../lib/sim/tools/vtysh.ts";
import { SimVault } from "../../lib/sim/vault.ts";

const call = (argv: string[], stdin = "") => ({ argv, stdin, env: {}, cwd: process.cwd() });

function routerWithSessions(): SimRouter {
  const r = new SimRouter(() => 1_700_000_000_000);
  r.configure({ asn: 64513, routerId: "172.29.51.1" });
  for (const [node, ip] of [["mini01", "172.29.51.11"], ["mini02", "172.29.51.12"]] as const) {
    expect(r.session({ node, localAddress: ip, localASN: 64512, peerAddress: "172.29.51.1", peerASN: 64513, holdTimeSeconds: 90 }).state).toBe("established");
  }
  r.setAdvertisements(
    (["172.29.51.11", "172.29.51.12"] as const).map((ip, i) => ({
      node: `mini0${i + 1}`,
      instance: "home-ops",
      peer: "udm",
      localASN: 64512,
      localAddress: ip,
      peerAddress: "172.29.51.1",
      routes: new Map([["ipv4/unicast", [{ prefix: "172.29.52.100/32", nextHop: ip }, { prefix: "10.99.0.1/32", nextHop: ip }]]]),
    })),
  );
  return r;
}

describe("vtysh stand-in", () => {
  test("summary json (wrapped), family summary (unwrapped), routes, text, unknown command", () => {
    const router = routerWithSessions();
    router.setInboundPolicy(["172.29.52.0/24"]);
    const vtysh = createVtyshTool(router);
    const all = JSON.parse(vtysh(call(["-c", "show bgp summary json"])).stdout);
    expect(Object.keys(all)).toEqual(["ipv4Unicast"]);
    const fam = JSON.parse(vtysh(call(["-c", "show bgp ipv4 unicast summary json"])).stdout);
    expect(fam).toMatchObject({ routerId: "172.29.51.1", as: 64513, vrfName: "default", totalPeers: 2, dynamicPeers: 0 });
    expect(fam.peers["172.29.51.12"]).toMatchObject({ remoteAs: 64512, localAs: 64513, version: 4, state: "Established", peerState: "OK", pfxRcd: 1, pfxSnt: 0, idType: "ipv4" });
    expect(typeof fam.peers["172.29.51.12"].peerUptimeMsec).toBe("number");
    const routes = JSON.parse(vtysh(call(["-c", "show ip bgp json"])).stdout);
    expect(routes).toMatchObject({ vrfName: "default", routerId: "172.29.51.1", localAS: 64513 });
    expect(Object.keys(routes.routes)).toEqual(["172.29.52.100/32"]); // 10.99.0.1 rejected by the prefix-list
    expect(routes.routes["172.29.52.100/32"][0]).toMatchObject({ valid: true, bestpath: true, pathFrom: "external", prefix: "172.29.52.100", prefixLen: 32, path: "64512", origin: "IGP" });
    expect(routes.totalRoutes).toBeUndefined(); // FRR 10.3+ only
    const text = vtysh(call(["-c", "show bgp summary"])).stdout;
    expect(text).toContain("IPv4 Unicast Summary (VRF default):\nBGP router identifier 172.29.51.1, local AS number 64513 vrf-id 0\n");
    expect(text).toContain("Neighbor        V         AS   MsgRcvd   MsgSent   TblVer  InQ OutQ  Up/Down State/PfxRcd   PfxSnt Desc\n");
    const bad = vtysh(call(["-c", "show bgp bogus"]));
    expect(bad).toMatchObject({ exitCode: 1, stdout: "% Unknown command: show bgp bogus\n" });
    expect(vtysh(call(["--nope"])).exitCode).toBe(1);
  });

  test("loading a config through -b on stdin or -f; unknown lines are reported", () => {
    const router = routerWithSessions();
    const vtysh = createVtyshTool(router);
    expect(JSON.parse(vtysh(call(["-c", "show bgp ipv4 unicast summary json"])).stdout).peers["172.29.51.11"].peerState).toBe("Policy");
    const conf = "router bgp 64513\n neighbor 172.29.51.11 remote-as 64512\n no bgp ebgp-requires-policy\n";
    expect(vtysh(call(["-b"], conf)).exitCode).toBe(0);
    const s = JSON.parse(vtysh(call(["-c", "show bgp ipv4 unicast summary json"])).stdout);
    expect(s.peers["172.29.51.11"]).toMatchObject({ peerState: "OK", pfxRcd: 2 });
    const dir = mkdtempSync(path.join(tmpdir(), "vtysh-"));
    try {
      writeFileSync(path.join(dir, "frr.conf"), "router bgp 64513\n frobnicate now\n");
      const res = vtysh({ argv: ["-f", "frr.conf"], stdin: "", env: {}, cwd: dir });
      expect(res.exitCode).toBe(2);
      expect(res.stderr).toContain("% Unknown command: frobnicate now");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("the IPv6 family activated on an IPv4 peer-group (address-family ipv6 unicast / activate)", () => {
    const router = new SimRouter();
    router.loadConfig("router bgp 64513\n bgp listen range 172.29.51.0/24 peer-group CILIUM\n address-family ipv6 unicast\n  neighbor CILIUM activate\n exit-address-family\n");
    expect(router.config.ipv6OnIpv4Sessions).toBe(true);
    expect(router.session({ node: "n", localAddress: "172.29.51.11", localASN: 64512, peerAddress: "172.29.51.1", peerASN: 64513, holdTimeSeconds: 90 }).families).toEqual(["ipv4/unicast", "ipv6/unicast"]);
    expect(router.session({ node: "n", localAddress: "10.0.0.5", localASN: 64512, peerAddress: "172.29.51.1", peerASN: 64513, holdTimeSeconds: 90 }).state).toBe("active");
  });

  test("HOMEOPS_SIM_ROUTER_POLICY", () => {
    const r = routerWithSessions();
    applyRouterEnv(r, undefined);
    expect(r.summaryFamily("ipv4/unicast").peers).toMatchObject({ "172.29.51.11": { peerState: "Policy" } });
    applyRouterEnv(r, "accept");
    expect(r.summaryFamily("ipv4/unicast").peers).toMatchObject({ "172.29.51.11": { peerState: "OK", pfxRcd: 2 } });
    applyRouterEnv(r, "172.29.52.0/24");
    expect(r.summaryFamily("ipv4/unicast").peers).toMatchObject({ "172.29.51.11": { pfxRcd: 1 } });
  });
});

describe("registerControllers", () => {
  let stop: (() => Promise<void> | void) | undefined;
  afterEach(async () => {
    await stop?.();
  });

  test("registers helm, flux and vtysh and one controller that starts everything", async () => {
    const tools = new Map<string, ToolHandler>();
    const controllers: { name: string; start(c: unknown): void | Promise<void>; stop(): void | Promise<void> }[] = [];
    const cluster = {
      store: new SimStore(),
      timing: new Timing({ scale: 0 }),
      faults: new Faults(),
      vault: new SimVault(),
      registerTool: (name: string, h: ToolHandler) => void tools.set(name, h),
      addController: (c: (typeof controllers)[number]) => void controllers.push(c),
    };
    const handle = registerControllers(cluster);
    expect([...tools.keys()].sort()).toEqual(["flux", "helm", "vtysh"]);
    expect(controllers.map((c) => c.name)).toEqual(["sim-controllers"]);
    expect(controllersOf(cluster)).toBe(handle);
    await controllers[0]?.start(cluster);
    stop = () => controllers[0]?.stop();
    expect(cluster.store.options.autoEstablishCrds).toBe(false);
    const v = await tools.get("vtysh")?.({ argv: ["-c", "show bgp summary json"], stdin: "", env: {}, cwd: process.cwd() });
    expect(v?.stdout.trim()).toBe("{}");
  });
});
