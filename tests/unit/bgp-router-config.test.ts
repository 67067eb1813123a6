import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import path from "node:path";
import { ConfigError } from "../../lib/cli/errors.ts";
import { planRouterConfig, poolPrefixEntries, renderRouterConfig } from "../../lib/bgp/router-config.ts";
import type { ClusterModel } from "../../lib/repo/model.ts";

const src = (file: string, line = 1) => ({ file, line });

/** A small hand-made model: what planRouterConfig reads of a ClusterModel. */
function model(over: { peers?: ClusterModel["bgp"]["peers"]; pools?: ClusterModel["pools"]; nodeV6?: boolean } = {}): ClusterModel {
  const cc = "kubernetes/apps/kube-system/cilium/bgp/clusterconfig.yaml";
  const m = {
    cluster: { name: { value: "home-ops", source: src("talos/talconfig.yaml") } },
    nodes: [1, 2, 3].map((i) => ({ hostname: `mini0${i}`, ipv4: `172.29.51.1${i}`, ipv6: `fd47:25e1:2f96:51::1${i}` })),
    networks: {
      nodeV4: { value: "172.29.51.0/24", source: src("talos/patches/global/machine-kubelet.yaml", 5) },
      ...(over.nodeV6 === false ? {} : { nodeV6: { value: "fd47:25e1:2f96:51::/64", source: src("talos/patches/global/machine-kubelet.yaml", 6) } }),
      router: { ipv4: { value: "172.29.51.1", source: src(cc, 12) } },
    },
    pools: over.pools ?? [
      { name: "lb-v4", apiVersion: "cilium.io/v2alpha1", blocks: [{ cidr: "172.29.52.0/24", source: src("p.yaml", 7) }], disabled: false, source: src("p.yaml") },
      { name: "lb-v6", apiVersion: "cilium.io/v2alpha1", blocks: [{ start: "fd47:25e1:2f96:52::10", stop: "fd47:25e1:2f96:52::ff", source: src("p.yaml", 20) }], disabled: false, source: src("p.yaml", 15) },
    ],
    bgp: {
      clusterConfigs: [{ name: "home", source: src(cc) }],
      peerConfigs: [{ name: "udm", apiVersion: "cilium.io/v2alpha1", labels: {}, spec: { gracefulRestart: { enabled: true } }, source: src("pc.yaml") }],
      peers: over.peers ?? [
        { clusterConfig: "home", instance: "main", name: "udm-v4", localASN: 64512, peerAddress: "172.29.51.1", peerASN: 64513, family: "ipv4", peerConfigRef: "udm", source: src(cc, 12) },
        { clusterConfig: "home", instance: "main", name: "udm-v6", localASN: 64512, peerAddress: "fd47:25e1:2f96:51::1", peerASN: 64513, family: "ipv6", peerConfigRef: "udm", source: src(cc, 17) },
      ],
    },
  };
  return m as unknown as ClusterModel;
}

describe("poolPrefixEntries", () => {
  test("a CIDR pool: one permit ge 32", () => {
    expect(poolPrefixEntries(model().pools[0]!)).toEqual([{ action: "permit", prefix: "172.29.52.0/24", ge: 32, pool: "lb-v4" }]);
  });
  test("a start-stop range: the exact covering CIDRs, host routes only", () => {
    const e = poolPrefixEntries(model().pools[1]!);
    expect(e.map((x) => `${x.prefix} ge ${x.ge}`)).toEqual([
      "fd47:25e1:2f96:52::10/124 ge 128",
      "fd47:25e1:2f96:52::20/123 ge 128",
      "fd47:25e1:2f96:52::40/122 ge 128",
      "fd47:25e1:2f96:52::80/121 ge 128",
    ]);
  });
  test("a single address: no ge (FRR wants len < ge)", () => {
    const p = { name: "one", apiVersion: "x", blocks: [{ start: "172.29.52.9", stop: "172.29.52.9", source: src("a") }], disabled: false, source: src("a") };
    expect(poolPrefixEntries(p as ClusterModel["pools"][number])).toEqual([{ action: "permit", prefix: "172.29.52.9/32", pool: "one" }]);
  });
  test("allowFirstLastIPs: No denies the first and last address of CIDR blocks (not of a /31)", () => {
    const p = {
      name: "nf",
      apiVersion: "x",
      allowFirstLastIPs: "No",
      blocks: [{ cidr: "172.29.52.0/28", source: src("a") }, { cidr: "172.29.53.0/31", source: src("a") }],
      disabled: false,
      source: src("a"),
    };
    expect(poolPrefixEntries(p as ClusterModel["pools"][number]).map((e) => `${e.action} ${e.prefix}${e.ge ? ` ge ${e.ge}` : ""}`)).toEqual([
      "deny 172.29.52.0/32",
      "deny 172.29.52.15/32",
      "permit 172.29.52.0/28 ge 32",
      "permit 172.29.53.0/31 ge 32",
    ]);
  });
  test("a malformed block is a ConfigError naming the file:line", () => {
    const p = { name: "bad", apiVersion: "x", blocks: [{ cidr: "172.29.52.1/24", source: src("pool.yaml", 9) }], disabled: false, source: src("pool.yaml") };
    expect(() => poolPrefixEntries(p as ClusterModel["pools"][number])).toThrow(/pool bad at pool.yaml:9/);
  });
});

describe("renderRouterConfig", () => {
  const text = renderRouterConfig(model());
  const lines = text.split("\n");

  test("ASNs, router-id, listen ranges into one peer group per family", () => {
    expect(lines).toContain("router bgp 64513");
    expect(lines).toContain(" bgp router-id 172.29.51.1");
    expect(lines).toContain(" neighbor CILIUM-V4 remote-as 64512");
    expect(lines).toContain(" bgp listen range 172.29.51.0/24 peer-group CILIUM-V4");
    expect(lines).toContain(" neighbor CILIUM-V6 remote-as 64512");
    expect(lines).toContain(" bgp listen range fd47:25e1:2f96:51::/64 peer-group CILIUM-V6");
    expect(lines).toContain(" bgp graceful-restart");
    expect(text).not.toContain("no bgp ebgp-requires-policy");
  });

  test("per family: activate, soft-reconfiguration, route-maps in/out, maximum-paths = node count", () => {
    for (const [afi, g] of [["ipv4", "CILIUM-V4"], ["ipv6", "CILIUM-V6"]] as const) {
      const start = lines.indexOf(` address-family ${afi} unicast`);
      const block = lines.slice(start, lines.indexOf(" exit-address-family", start));
      expect(block).toEqual([
        ` address-family ${afi} unicast`,
        `  neighbor ${g} activate`,
        `  neighbor ${g} soft-reconfiguration inbound`,
        `  neighbor ${g} route-map ${g}-IN in`,
        `  neighbor ${g} route-map CILIUM-OUT out`,
        "  maximum-paths 3",
      ]);
    }
  });

  test("prefix-lists permit exactly the pools as host routes; nothing goes out", () => {
    expect(lines).toContain("ip prefix-list CILIUM-LB-V4 seq 10 permit 172.29.52.0/24 ge 32");
    expect(lines).toContain("ipv6 prefix-list CILIUM-LB-V6 seq 10 permit fd47:25e1:2f96:52::10/124 ge 128");
    expect(lines.filter((l) => l.startsWith("ipv6 prefix-list"))).toHaveLength(4);
    expect(text).toContain("route-map CILIUM-V4-IN permit 10\n match ip address prefix-list CILIUM-LB-V4\nexit");
    expect(text).toContain("route-map CILIUM-V6-IN permit 10\n match ipv6 address prefix-list CILIUM-LB-V6\nexit");
    expect(text).toContain("route-map CILIUM-OUT deny 10\nexit");
  });

  test("per-node mode: one neighbor per node address, no listen range", () => {
    const t = renderRouterConfig(model(), { mode: "per-node" });
    expect(t).not.toContain("listen range");
    expect(t).toContain(" neighbor 172.29.51.12 peer-group CILIUM-V4\n neighbor 172.29.51.12 description mini02");
    expect(t).toContain(" neighbor fd47:25e1:2f96:51::13 peer-group CILIUM-V6");
  });

  test("v6 pools without a v6 peer: a warning (cause 9), no v6 group", () => {
    const m = model();
    m.bgp.peers = m.bgp.peers.filter((p) => p.family === "ipv4");
    const t = renderRouterConfig(m);
    expect(t).toContain("! WARNING: there are ipv6 pools (lb-v6) but no ipv6 peer");
    expect(t).not.toContain("CILIUM-V6");
  });

  test("a family without enabled pools denies everything inbound", () => {
    const m = model();
    m.pools = m.pools.map((p) => ({ ...p, disabled: p.name === "lb-v6" }));
    const t = renderRouterConfig(m);
    expect(t).toContain("route-map CILIUM-V6-IN deny 10");
    expect(t).toContain("pool lb-v6 is disabled");
  });

  test("bad models are ConfigErrors with a place to fix", () => {
    expect(() => renderRouterConfig(model({ peers: [] }))).toThrow(ConfigError);
    const noAsn = model();
    noAsn.bgp.peers[0]!.peerASN = undefined;
    expect(() => renderRouterConfig(noAsn)).toThrow(/udm-v4 at .*clusterconfig.yaml:12 has no peerASN/);
    const split = model();
    split.bgp.peers[1]!.peerASN = 65000;
    expect(() => renderRouterConfig(split)).toThrow(/disagree on the router's ASN.*64513, 65000/);
    expect(() => renderRouterConfig(model({ nodeV6: false }))).toThrow(/no ipv6 node subnet/);
  });
});

describe("the repo's own router config", () => {
  const root = path.resolve(import.meta.dir, "../..");
  test("renders from talos/ and kubernetes/ with every enabled pool permitted", async () => {
    if (!existsSync(path.join(root, "kubernetes/apps/kube-system/cilium"))) {
      console.warn("skip: kubernetes/apps/kube-system/cilium not in the repo yet");
      return;
    }
    const { loadRepo } = await import("../../lib/repo/model.ts");
    const m = loadRepo(root);
    const t = renderRouterConfig(m);
    for (const pool of m.pools.filter((p) => !p.disabled))
      for (const e of poolPrefixEntries(pool)) expect(t).toContain(`${e.action} ${e.prefix}`);
    expect(t).toContain(`maximum-paths ${m.nodes.length}`);
  });
});
