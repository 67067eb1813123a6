import { afterEach, describe, expect, test } from "bun:test";
import { startSimulation, type Simulation } from "../../lib/sim/index.ts";
import { simulate } from "../helpers/sim.ts";
import { LONGHORN_KINDS } from "../../lib/sim/kinds.ts";
import { loadRepo } from "../../lib/repo/model.ts";
import { ROOT, runScript } from "./talos-sim-harness.ts";

/** The versions this repo pins (the simulation boots them; Renovate moves them). */
const { versions } = loadRepo(ROOT);
const TALOS = versions.talos.value;
const KUBERNETES = versions.kubernetes.value;

const T = 90_000;
let sim: Simulation | undefined;
afterEach(async () => {
  await sim?.stop();
  sim = undefined;
});

/** What a cluster after bootstrap phase 3 has: the Cilium agents running on every node. */
function ciliumRunning(s: Simulation, ready = s.cluster.topology.nodes.length) {
  const store = s.cluster.store;
  const ds = store.create({
    apiVersion: "apps/v1",
    kind: "DaemonSet",
    metadata: { name: "cilium", namespace: "kube-system" },
    spec: { selector: { matchLabels: { "k8s-app": "cilium" } }, template: { metadata: { labels: { "k8s-app": "cilium" } }, spec: { containers: [{ name: "cilium-agent", image: `quay.io/cilium/cilium:v${versions.cilium.value}` }] } } },
  });
  const n = s.cluster.topology.nodes.length;
  store.updateStatus({ ...ds, status: { desiredNumberScheduled: n, currentNumberScheduled: n, numberReady: ready, numberAvailable: ready, updatedNumberScheduled: n, numberMisscheduled: 0 } });
}

describe("cluster-status", () => {
  test("healthy cluster: exit 0, every node Ready with its Talos and kubelet version", async () => {
    sim = await simulate({ state: "bootstrapped", controllers: false });
    ciliumRunning(sim);
    const r = await runScript("cluster-status", ["--json"], { env: sim.env });
    expect(r.code).toBe(0);
    const j = r.json();
    expect(j.ok).toBe(true);
    expect(j.problems).toEqual([]);
    expect(j.nodes.map((n: any) => [n.hostname, n.ready, n.talosVersion, n.kubeletVersion, n.stage])).toEqual([
      ["mini01", true, TALOS, KUBERNETES, "running"],
      ["mini02", true, TALOS, KUBERNETES, "running"],
      ["mini03", true, TALOS, KUBERNETES, "running"],
    ]);
    expect(j.etcd.members).toBe(3);
    expect(j.etcd.leader).toBe(sim.cluster.talos.leader);
    expect(j.cilium.detail).toBe("3/3 agents ready");
    expect(j.longhorn.installed).toBe(false);
    // the human screen
    const h = await runScript("cluster-status", [], { env: sim.env });
    expect(h.code).toBe(0);
    expect(h.stdout).toContain("everything healthy");
    expect(h.stdout).toMatch(/mini02 .*Ready .*v1\.10\.5/);
  }, T);

  test("an unreachable node and a degraded volume: exit 1, each named", async () => {
    sim = await simulate({ state: "bootstrapped", controllers: false, faults: ["unreachable=mini02"] });
    ciliumRunning(sim);
    const store = sim.cluster.store;
    store.installCrds(LONGHORN_KINDS, { established: true });
    store.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: "longhorn-system" } });
    const v = store.create({ apiVersion: "longhorn.io/v1beta2", kind: "Volume", metadata: { name: "pvc-x", namespace: "longhorn-system" }, spec: {} });
    store.updateStatus({ ...v, status: { state: "attached", robustness: "degraded" } });
    const r = await runScript("cluster-status", ["--json"], { env: sim.env });
    expect(r.code).toBe(1);
    const j = r.json();
    expect(j.ok).toBe(false);
    const mini02 = j.nodes.find((n: any) => n.hostname === "mini02");
    // the meaning, not the gRPC text (which stays in talosErrorRaw)
    expect(mini02.talosError).toBe("not answering");
    expect(mini02.talosErrorRaw).toContain("no route to host");
    expect(j.problems.some((p: string) => p.startsWith("node mini02: Talos API"))).toBe(true);
    expect(j.problems.some((p: string) => p.includes("etcd on mini02 does not answer"))).toBe(true);
    expect(j.problems).toContain("longhorn: volume pvc-x is degraded (attached)");
    // one root cause explains the rest: mini02's Talos API, its etcd peer and the degraded volume are one problem
    expect(j.groups).toHaveLength(1);
    expect(j.groups[0].cause).toContain("mini02");
    expect(j.groups[0].follows).toEqual(expect.arrayContaining(["etcd peer", "volume"]));
    // each part once: what the cause names is not listed again among what follows from it
    for (const part of j.groups[0].follows) expect(j.groups[0].cause).not.toContain(part);
    expect(j.groups[0].problems).toHaveLength(j.problems.length);
    // its etcd member is unknown (its node did not answer), not missing
    expect(j.etcd.rows.find((r: any) => r.node === "mini02")?.state).toBe("unknown");
    const human = await runScript("cluster-status", [], { env: { ...sim.env, COLUMNS: "80" } });
    expect(human.stdout.split("\n").filter((l: string) => /mini02/.test(l) && /FAIL|✗/.test(l)).length).toBeGreaterThan(0);
    expect(human.stdout).toMatch(/1 problem \(\d+ findings/);
    expect(human.stdout).not.toContain("no route to host");
    for (const line of human.stdout.split("\n")) expect(Bun.stringWidth(line)).toBeLessThanOrEqual(80);
  }, T);

  test("a cluster before its CNI: nodes NotReady, Cilium missing, exit 1 with the reason", async () => {
    sim = await simulate({ state: "talos", controllers: false });
    const r = await runScript("cluster-status", [], { env: sim.env });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("NotReady");
    expect(r.stdout).toContain("Cilium is not installed");
  }, T);

  test("scaled out to 30 nodes: every node is read (discovered beyond the repo's three)", async () => {
    sim = await simulate({ state: "bootstrapped", controllers: false, nodes: 30 });
    ciliumRunning(sim);
    const r = await runScript("cluster-status", ["--json"], { env: sim.env });
    expect(r.code).toBe(0);
    const j = r.json();
    expect(j.nodes.length).toBe(30);
    expect(j.nodes.filter((n: any) => !n.inRepo).length).toBe(27);
    expect(j.nodes.every((n: any) => n.ready && n.talosVersion === TALOS)).toBe(true);
  }, T);

  test("bad flag value is a usage error", async () => {
    sim = await simulate({ state: "bootstrapped", controllers: false });
    const r = await runScript("cluster-status", ["--cert-days", "soon"], { env: sim.env });
    expect(r.code).toBe(2);
  }, T);
});
