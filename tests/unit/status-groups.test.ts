import { describe, expect, test } from "bun:test";
import path from "node:path";
import { loadCluster } from "../../lib/talos/cluster.ts";
import { buildReport, type ReportInput } from "../../lib/talos/status.ts";
import type { KubeObject } from "../../lib/kube/client.ts";

/**
 * cluster-status says each problem once: what follows from a node being down is grouped under it, the etcd member of
 * a node that did not answer is unknown (not missing), and BGP status a down node can no longer update is not "ok".
 */
const cluster = loadCluster(path.resolve(import.meta.dir, "../.."));
const nodes = cluster.nodes;
const cps = nodes.filter((n) => n.controlPlane);
const down = cps.at(-1)!;
const NOT_INSTALLED = { ok: false as const, error: "not found", notInstalled: true };

function k8sNode(name: string, ready: boolean): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: { name, labels: { "node-role.kubernetes.io/control-plane": "" } },
    status: { conditions: [{ type: "Ready", status: ready ? "True" : "Unknown", reason: ready ? "KubeletReady" : "NodeStatusUnknown" }], nodeInfo: { kubeletVersion: "v1.31.0" } },
  };
}

function bgpConfig(node: string, peers: string[]): KubeObject {
  return {
    apiVersion: "cilium.io/v2alpha1",
    kind: "CiliumBGPNodeConfig",
    metadata: { name: node },
    status: { bgpInstances: [{ name: "home", peers: peers.map((p) => ({ name: p, peerAddress: "192.0.2.1", peeringState: "established" })) }] },
  };
}

function input(): ReportInput {
  const unreachable = `rpc error: code = Unavailable desc = connection error: desc = "transport: Error while dialing: dial tcp ${down.ip}:50000: connect: no route to host"`;
  return {
    cluster: cluster.name,
    nodes,
    extra: new Set(),
    versions: { rows: nodes.filter((n) => n !== down).map((n) => ({ node: n.ip, tag: "v1.10.0" })), errors: new Map([[down.ip, unreachable]]) },
    machines: { rows: nodes.filter((n) => n !== down).map((n) => ({ node: n.ip, stage: "running" }) as never), errors: new Map([[down.ip, unreachable]]) },
    etcdStatus: {
      rows: cps.filter((n) => n !== down).map((n, i) => ({ node: n.ip, memberId: `m${i}`, dbSize: 1, dbSizeText: "1 MB", leader: "m0", learner: false, errors: [] }) as never),
      errors: new Map([[down.ip, unreachable]]),
    },
    etcdMembers: { rows: cps.map((n, i) => ({ node: cps[0]!.ip, id: n === down ? "mdown" : `m${i}`, hostname: n.hostname, peerUrls: [], clientUrls: [], learner: false })), errors: new Map() },
    k8sNodes: { ok: true, value: nodes.map((n) => k8sNode(n.hostname, n !== down)) },
    daemonSets: NOT_INSTALLED,
    bgpConfigs: { ok: true, value: nodes.map((n) => bgpConfig(n.hostname, ["router-v4", "router-v6"])) },
    kustomizations: NOT_INSTALLED,
    helmReleases: NOT_INSTALLED,
    volumes: NOT_INSTALLED,
    certificates: NOT_INSTALLED,
    certDays: 14,
    now: new Date(0),
    readMs: 1,
  };
}

describe("cluster-status problem groups", () => {
  test("there is a control plane to take down", () => {
    expect(cps.length).toBeGreaterThan(1);
  });

  test("a node that is down is one problem with what follows from it", () => {
    const r = buildReport(input());
    expect(r.ok).toBe(false);
    const mine = r.groups.find((g) => g.cause === `${down.hostname} down`);
    expect(mine?.follows).toEqual(["Talos API", "kubelet", "etcd peer", "2 BGP sessions"]);
    // nothing about the down node is said outside its group
    for (const g of r.groups.filter((x) => x !== mine)) expect(g.problems.join("\n")).not.toContain(down.hostname);
    expect(r.groups.reduce((n, g) => n + g.problems.length, 0)).toBe(r.problems.length);
  });

  test("its etcd member is unknown, not missing", () => {
    const row = buildReport(input()).etcd.rows.find((x) => x.node === down.hostname);
    expect(row?.state).toBe("unknown");
    expect(row?.member).toBe("mdown");
  });

  test("BGP status a down node last reported is not counted as established", () => {
    const r = buildReport(input());
    const stale = r.bgp.sessions.filter((s) => s.node === down.hostname);
    expect(stale).toHaveLength(2);
    for (const s of stale) expect(s.state).not.toBe("established");
    expect(r.bgp.ok).toBe(false);
    expect(r.bgp.detail).toContain(`${(nodes.length - 1) * 2}/${nodes.length * 2} sessions established`);
  });

  test("gRPC text is translated: the report says what it means", () => {
    const r = buildReport(input());
    expect(r.problems.join("\n")).not.toContain("transport:");
    expect(r.nodes.find((n) => n.hostname === down.hostname)?.talosError).toBe("not answering");
  });

  test("with every node up, nothing is grouped under a node and BGP is ok", () => {
    const i = input();
    const ok: ReportInput = {
      ...i,
      versions: { rows: nodes.map((n) => ({ node: n.ip, tag: "v1.10.0" })), errors: new Map() },
      machines: { rows: nodes.map((n) => ({ node: n.ip, stage: "running" }) as never), errors: new Map() },
      etcdStatus: { rows: cps.map((n, idx) => ({ node: n.ip, memberId: n === down ? "mdown" : `m${idx}`, dbSize: 1, dbSizeText: "1 MB", leader: "m0", learner: false, errors: [] }) as never), errors: new Map() },
      k8sNodes: { ok: true, value: nodes.map((n) => k8sNode(n.hostname, true)) },
    };
    const r = buildReport(ok);
    expect(r.problems.filter((p) => !p.startsWith("cilium:"))).toEqual([]);
    expect(r.groups.map((g) => g.cause)).toEqual(r.problems);
    expect(r.bgp.ok).toBe(true);
  });
});
