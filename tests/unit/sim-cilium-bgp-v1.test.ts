/**
 * The simulated Cilium's legacy BGP v1 (CiliumBGPPeeringPolicy), in-process: what reaches the router for the v1
 * rules — one policy, a nil and an empty serviceSelector, serviceAdvertisements [], a repeated localASN, two policies
 * on a node, v1 next to v2 — read the way a user would, with the router's `show bgp ipv4 unicast json`.
 */
import { afterEach, describe, expect, test } from "bun:test";
import type { KObj } from "../../lib/sim/controllers/obj.ts";
import { installCilium, type Rig, rig, threeNodes } from "./sim-controllers-helpers.ts";

const lbService = (name: string, labels: Record<string, string> = {}): KObj => ({
  apiVersion: "v1",
  kind: "Service",
  metadata: { name, namespace: "default", labels },
  spec: { type: "LoadBalancer", ipFamilyPolicy: "SingleStack", ipFamilies: ["IPv4"], selector: { app: name }, ports: [{ port: 80 }] },
});

const policy = (name: string, routers: unknown[], nodeSelector?: unknown): KObj => ({
  apiVersion: "cilium.io/v2alpha1",
  kind: "CiliumBGPPeeringPolicy",
  metadata: { name },
  spec: { ...(nodeSelector ? { nodeSelector } : {}), virtualRouters: routers },
});

// the simulated UDM's side: ASN 64513 expecting the cluster's 64512, on 172.29.51.1
const router = (extra: Record<string, unknown> = {}, neighbors = [{ peerAddress: "172.29.51.1/32", peerASN: 64513 }]) => ({ localASN: 64512, neighbors, ...extra });

let current: Rig | undefined;
afterEach(() => current?.stop());

async function setup(objects: KObj[], services = [lbService("web", { tier: "front" }), lbService("dns")]): Promise<Rig> {
  const r = (current = rig());
  threeNodes(r);
  expect((await installCilium(r)).exitCode).toBe(0);
  const create = (o: KObj) => r.store.create(o, { fieldManager: "test" });
  create({ apiVersion: "cilium.io/v2alpha1", kind: "CiliumLoadBalancerIPPool", metadata: { name: "v4" }, spec: { blocks: [{ start: "172.29.52.100", stop: "172.29.52.199" }] } });
  for (const s of services) create(s);
  for (const o of objects) create(o);
  r.c.router.setInboundPolicy(["172.29.52.0/24"]);
  await r.settle();
  return r;
}

/** prefix -> the nodes (next hops) the router holds it from */
function atRouter(r: Rig): Record<string, string[]> {
  const routes = JSON.parse(r.vtysh("-c", "show bgp ipv4 unicast json").stdout).routes as Record<string, Array<{ nexthops: Array<{ ip: string }> }>>;
  return Object.fromEntries(Object.entries(routes).map(([p, paths]) => [p, paths.map((x) => x.nexthops[0]!.ip).sort()]));
}
const ALL = ["172.29.51.11", "172.29.51.12", "172.29.51.13"];

describe("simulated Cilium, BGP v1", () => {
  test("one policy, serviceSelector {}: every Service from every node; v1 writes no NodeConfig status", async () => {
    const r = await setup([policy("l3", [router({ serviceSelector: {} })])]);
    expect(atRouter(r)).toEqual({ "172.29.52.100/32": ALL, "172.29.52.101/32": ALL });
    expect(r.store.list("ciliumbgpnodeconfigs.cilium.io").items).toEqual([]);
  });

  test("nil serviceSelector: sessions up, nothing announced; a label selector announces only what it matches", async () => {
    const nil = await setup([policy("l3", [router()])]);
    expect(atRouter(nil)).toEqual({});
    expect(JSON.parse(nil.vtysh("-c", "show bgp summary json").stdout).ipv4Unicast.peers["172.29.51.11"]).toMatchObject({ state: "Established" });
    nil.stop();
    const some = await setup([policy("l3", [router({ serviceSelector: { matchLabels: { tier: "front" } } })])]);
    expect(Object.keys(atRouter(some))).toHaveLength(1);
  });

  test("serviceAdvertisements: [] announces nothing", async () => {
    const r = await setup([policy("l3", [router({ serviceSelector: {}, serviceAdvertisements: [] })])]);
    expect(atRouter(r)).toEqual({});
  });

  test("a repeated localASN: the first router runs, the repeating one and every later one never do", async () => {
    const r = await setup([
      policy("l3", [
        router({ serviceSelector: { matchLabels: { tier: "front" } } }),
        router({ serviceSelector: {} }),
      ]),
    ]);
    expect(Object.keys(atRouter(r))).toHaveLength(1); // only web, from the first router
  });

  test("two policies on a node: nothing there (not even v2); one per node: each runs", async () => {
    const r = await setup([
      policy("all", [router({ serviceSelector: {} })]),
      policy("mini02-only", [router({ serviceSelector: {} })], { matchLabels: { "kubernetes.io/hostname": "mini02" } }),
    ]);
    expect(atRouter(r)).toEqual({ "172.29.52.100/32": ["172.29.51.11", "172.29.51.13"], "172.29.52.101/32": ["172.29.51.11", "172.29.51.13"] });
  });

  test("keepAlive longer than hold time: the policy is dropped", async () => {
    const r = await setup([policy("l3", [router({ serviceSelector: {} }, [{ peerAddress: "172.29.51.1/32", peerASN: 64513, holdTimeSeconds: 9, keepAliveTimeSeconds: 30 } as never])])]);
    expect(atRouter(r)).toEqual({});
  });
});
