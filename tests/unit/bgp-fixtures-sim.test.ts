/**
 * The labelled BGP fixtures (tests/fixtures/bgp) against the oracle: the simulated Cilium (lib/sim, written
 * independently of lib/bgp) runs each configuration on nodes that carry the labels the fixture's repo gives them,
 * with a simulated router at the fixture's peer address that accepts everything. What the router then holds must be
 * exactly the labelled announcements, and bgp-verify's live diagnosis (verifyBgp over what the simulated API and
 * router return) must name the same causes as its repo-only diagnosis of the same repo.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { parseAllDocuments } from "yaml";
import { inputsFromLive, inputsFromModel, parseBgpRoutes, parseBgpSummary, verifyBgp, type BgpVerifyReport, type RouterState } from "../../lib/bgp/index.ts";
import { loadRepo } from "../../lib/repo/model.ts";
import type { KObj } from "../../lib/sim/controllers/obj.ts";
import { cleanup, fixtureRepo, loadBgpFixtures, type BgpFixture } from "../fixtures/bgp/harness.ts";
import { CILIUM_VALUES, installCilium, rig, type Rig } from "./sim-controllers-helpers.ts";

const fixtures = loadBgpFixtures();
let current: Rig | undefined;
afterEach(() => current?.stop());

function repoFacts(f: BgpFixture) {
  const dir = fixtureRepo(f);
  try {
    const model = loadRepo(dir, { mode: "lenient" });
    return { nodes: model.nodes.map((n) => ({ name: n.hostname, ipv4: n.ipv4, ipv6: n.ipv6, labels: n.labels })), repoOnly: verifyBgp(inputsFromModel(model)) };
  } finally {
    cleanup(dir);
  }
}

/** Every peer address and ASN the fixture's BGP objects dial (v1 neighbors, v2 peers). */
function peersOf(objects: KObj[]): Array<{ ip: string; asn?: number }> {
  const out: Array<{ ip: string; asn?: number }> = [];
  for (const o of objects) {
    if (o.kind === "CiliumBGPPeeringPolicy")
      for (const vr of o.spec?.virtualRouters ?? []) for (const n of vr.neighbors ?? []) out.push({ ip: String(n.peerAddress).split("/")[0]!, asn: n.peerASN });
    if (o.kind === "CiliumBGPClusterConfig") for (const i of o.spec?.bgpInstances ?? []) for (const p of i.peers ?? []) out.push({ ip: p.peerAddress, asn: p.peerASN });
  }
  return out;
}

const causes = (r: BgpVerifyReport) =>
  [...new Set([...r.missing.filter((m) => m.objects.length).map((m) => `${m.cause} ${m.objects[0]!.kind}/${m.objects[0]!.name}`), ...r.serviceIssues.map((i) => `${i.diagnosis.cause} ${i.service}`)])].sort();

describe("the simulated Cilium announces what every fixture's label says", () => {
  for (const f of fixtures) {
    test(`${f.name} (${f.version}, ${f.verdict})`, async () => {
      const facts = repoFacts(f);
      const r = (current = rig());
      for (const n of facts.nodes) r.addNode(n.name, n.ipv4, n.ipv6);
      const values = f.controlPlaneEnabled === false ? CILIUM_VALUES.replace("enabled: true", "enabled: false") : CILIUM_VALUES;
      expect((await installCilium(r, values)).exitCode).toBe(0);
      for (const n of facts.nodes) r.store.patch("nodes", n.name, undefined, { metadata: { labels: n.labels } }, { type: "merge", fieldManager: "kubelet" });
      const objects = parseAllDocuments(f.manifests)
        .map((d) => d.toJS() as KObj | null)
        .filter((o): o is KObj => !!o?.kind);
      for (const ns of new Set(objects.filter((o) => o.kind === "Service").map((o) => o.metadata.namespace ?? "default")))
        if (!r.get("namespaces", ns)) r.store.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } }, { fieldManager: "test" });
      for (const o of objects) {
        // cluster-scoped Cilium kinds: the API server drops a namespace written on them
        if (o.apiVersion.startsWith("cilium.io/")) delete o.metadata.namespace;
        r.store.create(o, { fieldManager: "flux" });
      }
      const peers = peersOf(objects);
      r.c.router.configure({ addresses: peers.map((p) => p.ip), ...(peers[0]?.asn ? { asn: peers[0].asn } : {}), remoteAs: "external", listenRanges: [] });
      r.c.router.setInboundPolicy(true);
      await r.settle();

      // what the router holds, as (node, peer, prefix)
      const byAddress = new Map(facts.nodes.flatMap((n) => [[n.ipv4, n.name] as const, ...(n.ipv6 ? [[n.ipv6, n.name] as const] : [])]));
      const held: string[] = [];
      const tables: RouterState["tables"] = {};
      for (const afi of ["ipv4", "ipv6"] as const) {
        const json = JSON.parse(r.vtysh("-c", `show bgp ${afi} unicast json`).stdout);
        tables[afi] = parseBgpRoutes(json, afi);
        const peer = peers.find((p) => p.ip.includes(":") === (afi === "ipv6"))?.ip ?? peers[0]?.ip;
        for (const [prefix, paths] of Object.entries(json.routes ?? {}) as Array<[string, Array<{ nexthops: Array<{ ip: string }> }>]>)
          for (const p of paths) held.push(`${byAddress.get(p.nexthops[0]!.ip.replace(/^::ffff:/, "")) ?? p.nexthops[0]!.ip} ${peer} ${prefix}`);
      }
      const want = f.announces.flatMap((a) => (a.nodes === "all" ? facts.nodes.map((n) => n.name) : a.nodes).map((n) => `${n} ${a.peer} ${a.prefix}`));
      expect([...new Set(held)].sort()).toEqual([...new Set(want)].sort());

      // bgp-verify, live: the same causes as from the repo
      const live = inputsFromLive({
        nodes: r.list("nodes"),
        services: r.list("services"),
        pools: r.list("ciliumloadbalancerippools.cilium.io"),
        clusterConfigs: r.list("ciliumbgpclusterconfigs.cilium.io"),
        peerConfigs: r.list("ciliumbgppeerconfigs.cilium.io"),
        advertisements: r.list("ciliumbgpadvertisements.cilium.io"),
        peeringPolicies: r.list("ciliumbgppeeringpolicies.cilium.io"),
        nodeConfigs: r.list("ciliumbgpnodeconfigs.cilium.io"),
      });
      const router: RouterState = { summary: parseBgpSummary(JSON.parse(r.vtysh("-c", "show bgp summary json").stdout)), tables };
      const report = verifyBgp(live, router);
      expect(causes(report)).toEqual(causes(facts.repoOnly));
      expect(report.ok).toBe(f.verdict === "working" || f.causes.every((c) => c.rule === "legacy-peering-policy"));
    }, 30_000);
  }
});
