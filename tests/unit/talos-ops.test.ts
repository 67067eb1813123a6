/**
 * The pure decisions behind the Talos scripts: reset planning and single-node quorum refusal, snapshot source choice,
 * verification and retention, extension comparison, status report building, transient apply errors.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { EtcdView, GateNode } from "../../lib/safety/gates.ts";
import { isTransient } from "../../lib/talos/apply.ts";
import { compareExtensions, shortExtensionName } from "../../lib/talos/extensions.ts";
import type { EtcdMemberStatus, SnapshotInfo } from "../../lib/talos/parse.ts";
import { parseServiceDetail } from "../../lib/talos/parse.ts";
import { checkSingleReset, planReset } from "../../lib/talos/reset.ts";
import { deleteSnapshots, listSnapshots, pickSnapshotSource, snapshotName, snapshotsToPrune, verifySnapshot } from "../../lib/talos/snapshot.ts";
import { buildReport, type ReportInput } from "../../lib/talos/status.ts";
import { TalosctlError } from "../../lib/talos/talosctl.ts";

const cp = (h: string, ip: string): GateNode => ({ hostname: h, ip, controlPlane: true });
const wk = (h: string, ip: string): GateNode => ({ hostname: h, ip, controlPlane: false });
const cps = [cp("cp1", "10.0.0.1"), cp("cp2", "10.0.0.2"), cp("cp3", "10.0.0.3")];
const workers = [wk("w1", "10.0.0.21"), wk("w2", "10.0.0.22")];

function st(node: string, id: string, over: Partial<EtcdMemberStatus> = {}): EtcdMemberStatus {
  return { node, memberId: id, dbSize: 1, dbSizeText: "1 B", inUse: 1, inUseText: "1 B", leader: "id1", raftIndex: 1, raftTerm: 1, raftAppliedIndex: 1, learner: false, errors: [], ...over };
}
function view(hosts: GateNode[], healthy = hosts): EtcdView {
  return {
    members: hosts.map((h, i) => ({ node: "10.0.0.1", id: `id${i + 1}`, hostname: h.hostname, peerUrls: [], clientUrls: [], learner: false })),
    status: healthy.map((h) => st(h.ip, `id${hosts.indexOf(h) + 1}`)),
    unreachable: hosts.filter((h) => !healthy.includes(h)).map((h) => ({ node: h.hostname, error: "no route to host" })),
  };
}

describe("reset planning", () => {
  test("full reset: workers first, control planes graceful except the last", () => {
    const plan = planReset([...cps, ...workers], [...cps, ...workers]);
    expect(plan.map((s) => [s.node.hostname, s.graceful])).toEqual([
      ["w1", true],
      ["w2", true],
      ["cp1", true],
      ["cp2", true],
      ["cp3", false],
    ]);
  });
  test("one control plane of three: graceful (the others stay)", () => {
    expect(planReset(cps, [cps[1]!]).map((s) => s.graceful)).toEqual([true]);
  });
  test("single-node reset quorum checks for 1, 3 and 5 control planes", () => {
    expect(checkSingleReset(workers[0]!, [...cps, ...workers], view(cps)).ok).toBe(true);
    expect(checkSingleReset(cps[2]!, cps, view(cps)).ok).toBe(true);
    // one member already down: removing a healthy one leaves 1 healthy of 2
    expect(checkSingleReset(cps[2]!, cps, view(cps, [cps[0]!, cps[2]!])).ok).toBe(false);
    // removing the broken one is fine
    expect(checkSingleReset(cps[1]!, cps, view(cps, [cps[0]!, cps[2]!])).ok).toBe(true);
    const only = [cp("solo", "10.0.1.1")];
    const r = checkSingleReset(only[0]!, only, view(only));
    expect(r.ok).toBe(false);
    expect(r.reason).toContain("only control plane");
    const five = [1, 2, 3, 4, 5].map((i) => cp(`c${i}`, `10.0.2.${i}`));
    expect(checkSingleReset(five[0]!, five, view(five, five.slice(0, 4))).ok).toBe(true); // 4 left, 3 healthy, quorum 3
    expect(checkSingleReset(five[0]!, five, view(five, five.slice(0, 3))).ok).toBe(false); // 4 left, 2 healthy
  });
});

describe("snapshots", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "snap-test-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  test("source: healthy non-leader first, explicit node only when healthy", () => {
    const status = [st("10.0.0.1", "id1"), st("10.0.0.2", "id2"), st("10.0.0.3", "id3", { errors: ["alarm: NOSPACE"] })];
    expect(pickSnapshotSource(cps, status)?.hostname).toBe("cp2");
    expect(pickSnapshotSource(cps, status, "cp3")).toBeUndefined();
    expect(pickSnapshotSource(cps, [st("10.0.0.1", "id1")])?.hostname).toBe("cp1");
    expect(pickSnapshotSource(cps, [])).toBeUndefined();
  });
  test("names sort by time; retention keeps the newest", () => {
    const names = [0, 1, 2, 3].map((i) => snapshotName("home", new Date(Date.UTC(2026, 0, 1, 0, 0, i))));
    for (const n of names) writeFileSync(path.join(dir, n), "x");
    writeFileSync(path.join(dir, "etcd-other-20260101T000000.000Z.snapshot"), "x");
    expect(listSnapshots(dir, "home").map((s) => s.name)).toEqual([...names].reverse());
    // keeping 3 with one new snapshot to come: the newest 2 stay, the rest is the plan
    const plan = snapshotsToPrune(dir, "home", 3);
    expect(plan.map((s) => s.name)).toEqual([names[1]!, names[0]!]);
    expect(listSnapshots(dir, "home").length).toBe(4);
    expect(deleteSnapshots(plan).map((s) => path.basename(s.path))).toEqual([names[1]!, names[0]!]);
    expect(listSnapshots(dir, "home").length).toBe(2);
    expect(snapshotsToPrune(dir, "home", 3)).toEqual([]);
    expect(listSnapshots(dir, "other").length).toBe(1);
  });
  test("verification against the file", () => {
    const f = path.join(dir, "v.snapshot");
    writeFileSync(f, "0123456789");
    const info: SnapshotInfo = { path: f, bytes: 10, hash: "00000000", revision: 5, totalKeys: 3, totalSize: 10 };
    expect(verifySnapshot(info, f)).toEqual([]);
    expect(verifySnapshot({ ...info, bytes: 11 }, f)[0]).toContain("reported 11 bytes but the file has 10");
    expect(verifySnapshot({ ...info, totalKeys: 0 }, f)).toContain("the snapshot holds no keys");
    expect(verifySnapshot(info, path.join(dir, "missing"))[0]).toContain("does not exist");
  });
});

describe("extensions", () => {
  test("missing, unexpected and a foreign schematic are differences", () => {
    const nodes = [
      { hostname: "a", ip: "1" },
      { hostname: "b", ip: "2" },
      { hostname: "c", ip: "3" },
    ];
    const ext = (node: string, name: string, version = "v1") => ({ node, name, version, image: "" });
    const installed = [ext("1", "iscsi-tools"), ext("1", "schematic", "S"), ext("2", "lldpd"), ext("2", "schematic", "T")];
    const r = compareExtensions(nodes, installed, new Map([["3", "no route to host"]]), { schematicId: "S", extensions: ["siderolabs/iscsi-tools"] });
    expect(r[0]!.ok).toBe(true);
    expect(r[1]).toMatchObject({ ok: false, missing: ["iscsi-tools"], unexpected: ["lldpd"], schematicOk: false });
    expect(r[2]).toMatchObject({ ok: false, error: "no route to host" });
    expect(shortExtensionName("siderolabs/i915")).toBe("i915");
  });
});

describe("service detail", () => {
  test("talosctl service etcd", () => {
    const text = "NODE     10.0.0.1\nID       etcd\nSTATE    Preparing\nHEALTH   ?\nEVENTS   [Preparing]: Running pre state (2s ago)\n         [Waiting]: Waiting for service dependencies (5s ago)\n";
    expect(parseServiceDetail(text)).toEqual([
      { node: "10.0.0.1", id: "etcd", state: "Preparing", health: "?", events: ["[Preparing]: Running pre state (2s ago)", "[Waiting]: Waiting for service dependencies (5s ago)"] },
    ]);
  });
});

describe("transient apply errors", () => {
  test("EOF and Unavailable are retried, a bad config is not", () => {
    const err = (stderr: string) => new TalosctlError("applying the configuration", "10.0.0.1", { stderr, stdout: "", exitCode: 1 });
    expect(isTransient(err("error applying new configuration: 1 error occurred:\n\t* 10.0.0.1: rpc error: code = Unavailable desc = error reading from server: EOF\n"))).toBe(true);
    expect(isTransient(err("1 error occurred:\n\t* 10.0.0.1: rpc error: code = InvalidArgument desc = failed to parse config\n"))).toBe(false);
    expect(isTransient(new Error("EOF"))).toBe(false);
  });
});

describe("status report", () => {
  const ok = <T>(value: T) => ({ ok: true as const, value });
  const missing = { ok: false as const, error: "the cluster has no X", notInstalled: true };
  const node = (name: string, ready: boolean) => ({
    apiVersion: "v1",
    kind: "Node",
    metadata: { name, labels: { "node-role.kubernetes.io/control-plane": "" } },
    status: { conditions: [{ type: "Ready", status: ready ? "True" : "False", reason: ready ? "KubeletReady" : "KubeletNotReady" }], nodeInfo: { kubeletVersion: "v1.31.1" } },
  });
  const base = (): ReportInput => ({
    cluster: "home",
    nodes: cps.map((c) => ({ hostname: c.hostname, ip: c.ip, controlPlane: true, installerImage: "" })),
    extra: new Set(),
    versions: { rows: cps.map((c) => ({ node: c.ip, tag: "v1.10.5" })), errors: new Map() },
    machines: { rows: cps.map((c) => ({ node: c.ip, stage: "running" as const, ready: true, unmetConditions: [] })), errors: new Map() },
    etcdStatus: { rows: cps.map((c, i) => st(c.ip, `id${i + 1}`)), errors: new Map() },
    etcdMembers: { rows: view(cps).members, errors: new Map() },
    k8sNodes: ok(cps.map((c) => node(c.hostname, true))),
    daemonSets: ok([{ apiVersion: "apps/v1", kind: "DaemonSet", metadata: { name: "cilium" }, status: { desiredNumberScheduled: 3, numberReady: 3 } }]),
    bgpConfigs: missing,
    kustomizations: missing,
    helmReleases: missing,
    volumes: missing,
    certificates: missing,
    certDays: 14,
    now: new Date("2026-01-01T00:00:00Z"),
    readMs: 1,
  });
  test("healthy", () => {
    const r = buildReport(base());
    expect(r.ok).toBe(true);
    expect(r.etcd.leader).toBe("cp1");
    expect(r.flux.installed).toBe(false);
  });
  test("each section's failure is a problem", () => {
    const i = base();
    i.k8sNodes = ok([node("cp1", true), node("cp2", false)]);
    i.bgpConfigs = ok([{ apiVersion: "cilium.io/v2alpha1", kind: "CiliumBGPNodeConfig", metadata: { name: "cp1" }, status: { bgpInstances: [{ peers: [{ name: "udm", peerAddress: "10.0.0.254", peeringState: "active" }] }] } }]);
    i.kustomizations = ok([{ apiVersion: "kustomize.toolkit.fluxcd.io/v1", kind: "Kustomization", metadata: { name: "apps", namespace: "flux-system" }, status: { conditions: [{ type: "Ready", status: "False", reason: "BuildFailed", message: "kustomize build failed" }] } }]);
    i.certificates = ok([{ apiVersion: "cert-manager.io/v1", kind: "Certificate", metadata: { name: "wild", namespace: "net" }, status: { notAfter: "2026-01-05T00:00:00Z", conditions: [{ type: "Ready", status: "True" }] } }]);
    const r = buildReport(i);
    expect(r.ok).toBe(false);
    expect(r.problems).toEqual([
      "node cp2: NotReady (KubeletNotReady)",
      "node cp3: not registered in Kubernetes",
      "bgp: cp1 -> udm (10.0.0.254): active",
      "flux: Kustomization flux-system/apps: BuildFailed: kustomize build failed",
      "certificates: net/wild: expires in 4 days",
    ]);
  });
});
