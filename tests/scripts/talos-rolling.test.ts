/**
 * talos-reboot and talos-upgrade against the simulated cluster: one node at a time behind the gates, faults
 * (a reboot that never returns, a Longhorn volume degrading, an unreachable node), refusals, dry runs.
 * "Never two nodes down at once" is asserted on the simulation's own event history.
 */
import path from "node:path";
import { afterEach, describe, expect, test } from "bun:test";
import { LONGHORN_KINDS } from "../../lib/sim/kinds.ts";
import { maxConcurrentDown, startSimulation, type Simulation } from "../../lib/sim/index.ts";
import { simulate } from "../helpers/sim.ts";
import { powerOnAndWaitHealthy, runScript } from "./talos-sim-harness.ts";
import { loadRepo } from "../../lib/repo/model.ts";

/** The Talos release the repo pins, and its next patch (what a rolling upgrade moves to; Renovate moves both). */
const { versions, schematic } = loadRepo(path.resolve(import.meta.dir, "../.."));
const SCHEMATIC = schematic.id;
const TALOS = versions.talos.value;
const KUBERNETES = versions.kubernetes.value;
const NEXT_TALOS = TALOS.replace(/\d+$/, (patch) => String(Number(patch) + 1));

const T = 120_000;


let sim: Simulation | undefined;
afterEach(async () => {
  await sim?.stop();
  sim = undefined;
});

async function bootstrapped(opts: Parameters<typeof startSimulation>[0] = {}) {
  sim = await simulate({ state: "bootstrapped", controllers: false, ...opts });
  return sim;
}

const events = (s: Simulation, type: string) => s.cluster.history.filter((e) => e.type === type).map((e) => e.node);

function addVolume(s: Simulation, name: string, robustness: string, state = "attached") {
  const store = s.cluster.store;
  if (!store.kinds.byKind("longhorn.io/v1beta2", "Volume")) {
    store.installCrds(LONGHORN_KINDS, { established: true });
    if (!store.tryGet("namespaces", "longhorn-system")) store.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: "longhorn-system" } });
  }
  const v = store.create({ apiVersion: "longhorn.io/v1beta2", kind: "Volume", metadata: { name, namespace: "longhorn-system" }, spec: { numberOfReplicas: 2 } });
  store.updateStatus({ ...v, status: { state, robustness } });
}

function setVolume(s: Simulation, name: string, robustness: string) {
  const v = s.cluster.store.tryGet({ apiVersion: "longhorn.io/v1beta2", kind: "Volume" }, name, "longhorn-system")!;
  s.cluster.store.updateStatus({ ...v, status: { ...(v.status ?? {}), robustness } });
}

describe("talos-reboot", () => {
  test("refuses without a terminal and without --yes: exit 2, nothing rebooted", async () => {
    const s = await bootstrapped();
    const r = await runScript("talos-reboot", [], { env: s.env });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("refusing to reboot 3 nodes of cluster home-ops");
    expect(r.stderr).toContain("--yes");
    expect(events(s, "reboot")).toEqual([]);
  }, T);

  test("--dry-run prints one talosctl reboot per node and reboots nothing", async () => {
    const s = await bootstrapped();
    const r = await runScript("talos-reboot", ["--dry-run"], { env: s.env });
    expect(r.code).toBe(0);
    const lines = r.stdout.split("\n").filter((l) => l.includes("[dry-run] talosctl"));
    expect(lines.map((l) => /--nodes=(\S+)/.exec(l)?.[1])).toEqual(["172.29.51.11", "172.29.51.12", "172.29.51.13"]);
    expect(lines.every((l) => l.includes("reboot --wait=true"))).toBe(true);
    expect(events(s, "reboot")).toEqual([]);
  }, T);

  test("reboots every node in turn, never two down at once, gates checked before and after each", async () => {
    const s = await bootstrapped();
    addVolume(s, "pvc-a", "healthy");
    const r = await runScript("talos-reboot", ["--yes", "--json"], { env: s.env });
    expect(r.code).toBe(0);
    const j = r.json();
    expect(j.nodes.map((n: any) => [n.node, n.result])).toEqual([
      ["mini01", "done"],
      ["mini02", "done"],
      ["mini03", "done"],
    ]);
    expect(events(s, "reboot")).toEqual(["mini01", "mini02", "mini03"]);
    expect(maxConcurrentDown(s.cluster.history)).toBe(1);
    // each node went down and came back before the next one was touched
    const seq = s.cluster.history.filter((e) => ["reboot", "down", "up"].includes(e.type)).map((e) => `${e.type}:${e.node}`);
    expect(seq).toEqual(["reboot:mini01", "down:mini01", "up:mini01", "reboot:mini02", "down:mini02", "up:mini02", "reboot:mini03", "down:mini03", "up:mini03"]);
    const phases = j.events.map((e: any) => `${e.node}:${e.phase}`);
    expect(phases.slice(0, 5)).toEqual(["mini01:gate-before", "mini01:quorum", "mini01:action", "mini01:node-back", "mini01:gate-after"]);
  }, T);

  test("a reboot that never returns stops the run at that node; the rest is untouched and a later run continues", async () => {
    const s = await bootstrapped({ faults: ["reboot-never-returns=mini02"] });
    const r = await runScript("talos-reboot", ["--yes", "--node-timeout", "60s"], { env: s.env });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("stopped at mini02: mini02 did not come back from its reboot within 60s");
    expect(r.stderr).toContain("continue with: bun scripts/talos-reboot.ts --node mini02 --node mini03");
    expect(events(s, "reboot")).toEqual(["mini01", "mini02"]);
    expect(maxConcurrentDown(s.cluster.history)).toBe(1);
    // the next run refuses to touch anything while mini02 is down (its gate fails first)
    const blocked = await runScript("talos-reboot", ["--yes", "--node", "mini03"], { env: s.env });
    expect(blocked.code).toBe(1);
    expect(blocked.stderr).toMatch(/gate failed before touching mini03/);
    expect(events(s, "reboot")).toEqual(["mini01", "mini02"]);
    // mini02 is powered on again and the cluster is healthy: the run continues with mini03
    await powerOnAndWaitHealthy(s, "mini02");
    const cont = await runScript("talos-reboot", ["--yes", "--node", "mini03", "--gate-timeout", "30s"], { env: s.env });
    expect(cont.code).toBe(0);
    expect(events(s, "reboot")).toEqual(["mini01", "mini02", "mini03"]);
  }, T);

  test("a degraded Longhorn volume before the start: exit 1 before any node is touched", async () => {
    const s = await bootstrapped();
    addVolume(s, "pvc-a", "healthy");
    addVolume(s, "pvc-b", "degraded");
    const r = await runScript("talos-reboot", ["--yes"], { env: s.env });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("longhorn gate failed before touching mini01");
    expect(r.stderr).toContain("pvc-b is degraded");
    expect(events(s, "reboot")).toEqual([]);
  }, T);

  test("a volume degrading during the first reboot blocks the next node", async () => {
    const s = await bootstrapped();
    addVolume(s, "pvc-a", "healthy");
    const off = s.cluster.talos.onEvent((e) => {
      if (e.type === "down" && e.node === "mini01") setVolume(s, "pvc-a", "degraded");
    });
    const r = await runScript("talos-reboot", ["--yes", "--gate-timeout", "3s", "--json"], { env: s.env });
    off();
    expect(r.code).toBe(1);
    const j = r.json();
    expect(j.stopped.node).toBe("mini01");
    expect(j.stopped.phase).toBe("gate-after");
    expect(j.stopped.message).toContain("pvc-a is degraded");
    expect(events(s, "reboot")).toEqual(["mini01"]);
    // rebuilt: the next run takes the remaining nodes
    setVolume(s, "pvc-a", "healthy");
    const cont = await runScript("talos-reboot", ["--yes", "--node", "mini02", "--node", "mini03"], { env: s.env });
    expect(cont.code).toBe(0);
    expect(events(s, "reboot")).toEqual(["mini01", "mini02", "mini03"]);
    expect(maxConcurrentDown(s.cluster.history)).toBe(1);
  }, T);

  test("an unreachable control plane: the etcd gate fails first, nothing rebooted", async () => {
    const s = await bootstrapped({ faults: ["unreachable=mini03"] });
    const r = await runScript("talos-reboot", ["--yes", "--node", "mini01"], { env: s.env });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("etcd gate failed before touching mini01");
    expect(events(s, "reboot")).toEqual([]);
  }, T);

  test("scaled out with workers: control planes first, then workers, one at a time", async () => {
    const s = await bootstrapped({ nodes: 5 });
    const r = await runScript("talos-reboot", ["--yes", "--json"], { env: s.env });
    expect(r.code).toBe(0);
    const order = events(s, "reboot");
    expect(order.slice(0, 3)).toEqual(["mini01", "mini02", "mini03"]);
    expect(order.length).toBe(5);
    expect(maxConcurrentDown(s.cluster.history)).toBe(1);
  }, T);

  test("bad flags are usage errors", async () => {
    const s = await bootstrapped();
    expect((await runScript("talos-reboot", ["--yes", "--node-timeout", "soon"], { env: s.env })).code).toBe(2);
    expect((await runScript("talos-reboot", ["--yes", "--node", "mini09"], { env: s.env })).code).toBe(2);
    expect(events(s, "reboot")).toEqual([]);
  }, T);
});

describe("talos-upgrade", () => {
  test("refuses without a terminal and without --yes: exit 2, nothing upgraded", async () => {
    const s = await bootstrapped();
    const r = await runScript("talos-upgrade", ["--to", NEXT_TALOS], { env: s.env });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`refusing to upgrade 3 nodes of cluster home-ops to Talos ${NEXT_TALOS}`);
    expect(events(s, "upgrade")).toEqual([]);
  }, T);

  test("refuses an installer without the repo's schematic (exit 2, nothing upgraded)", async () => {
    const s = await bootstrapped();
    const r = await runScript("talos-upgrade", ["--yes", "--image", `ghcr.io/siderolabs/installer:${NEXT_TALOS}`], { env: s.env });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("silently drop the system extensions");
    const other = await runScript("talos-upgrade", ["--yes", "--image", `factory.talos.dev/installer/${"a".repeat(64)}:${NEXT_TALOS}`], { env: s.env });
    expect(other.code).toBe(2);
    expect(other.stderr).toContain("not the repo's");
    expect(events(s, "upgrade")).toEqual([]);
  }, T);

  test("refuses a Talos version that does not support the repo's Kubernetes (exit 2)", async () => {
    const s = await bootstrapped();
    const r = await runScript("talos-upgrade", ["--yes", "--to", "v1.7.7"], { env: s.env });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`version of Kubernetes ${KUBERNETES} is too new to be used with Talos v1.7.7`);
    expect(events(s, "upgrade")).toEqual([]);
  }, T);

  test("--dry-run prints the upgrade lines with the schematic image", async () => {
    const s = await bootstrapped();
    const r = await runScript("talos-upgrade", ["--dry-run", "--to", NEXT_TALOS], { env: s.env });
    expect(r.code).toBe(0);
    const lines = r.stdout.split("\n").filter((l) => l.includes("[dry-run] talosctl"));
    expect(lines.length).toBe(3);
    for (const l of lines) expect(l).toContain(`upgrade --image=factory.talos.dev/installer/${SCHEMATIC}:${NEXT_TALOS}`);
    expect(events(s, "upgrade")).toEqual([]);
  }, T);

  test("upgrades one node at a time to the new version with the schematic; a second run skips them all", async () => {
    const s = await bootstrapped();
    const r = await runScript("talos-upgrade", ["--yes", "--to", NEXT_TALOS, "--json"], { env: s.env });
    expect(r.code).toBe(0);
    expect(events(s, "upgrade")).toEqual(["mini01", "mini02", "mini03"]);
    expect(maxConcurrentDown(s.cluster.history)).toBe(1);
    for (const h of ["mini01", "mini02", "mini03"]) {
      expect(s.cluster.machine(h)!.version).toBe(NEXT_TALOS);
      expect(s.cluster.machine(h)!.schematicId).toBe(SCHEMATIC);
    }
    const again = await runScript("talos-upgrade", ["--yes", "--to", NEXT_TALOS, "--json"], { env: s.env });
    expect(again.code).toBe(0);
    expect(again.json().nodes.every((n: any) => n.result === "skipped")).toBe(true);
    expect(events(s, "upgrade").length).toBe(3);
  }, T);

  test("an upgrade that never comes back stops there; the rerun skips the done node and continues", async () => {
    const s = await bootstrapped({ faults: ["reboot-never-returns=mini02"] });
    const r = await runScript("talos-upgrade", ["--yes", "--to", NEXT_TALOS, "--node-timeout", "4m"], { env: s.env });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("stopped at mini02");
    expect(events(s, "upgrade")).toEqual(["mini01", "mini02"]);
    await powerOnAndWaitHealthy(s, "mini02");
    const cont = await runScript("talos-upgrade", ["--yes", "--to", NEXT_TALOS, "--gate-timeout", "30s", "--json"], { env: s.env });
    expect(cont.code).toBe(0);
    const res = Object.fromEntries(cont.json().nodes.map((n: any) => [n.node, n.result]));
    expect(res).toEqual({ mini01: "skipped", mini02: "skipped", mini03: "done" });
    expect(maxConcurrentDown(s.cluster.history)).toBe(1);
  }, T);
});

describe("talos-upgrade against the live Kubernetes version", () => {
  test("refuses a Talos that does not support what the cluster runs now, even when talenv is behind (exit 2)", async () => {
    const s = await bootstrapped();
    s.cluster.setKubernetesVersion("v1.33.2");
    // Talos 1.9 supports Kubernetes up to 1.32: fine for talenv's 1.31.1, not for the live 1.33.2
    const r = await runScript("talos-upgrade", ["--yes", "--to", "v1.9.6"], { env: s.env });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("the cluster runs Kubernetes v1.33.2");
    expect(events(s, "upgrade")).toEqual([]);
  }, T);

  test("refuses going backwards or skipping a minor from what the nodes run (exit 2)", async () => {
    const s = await bootstrapped();
    const back = await runScript("talos-upgrade", ["--yes", "--to", "v1.8.7"], { env: s.env });
    expect(back.code).toBe(2);
    expect(back.stderr).toContain(`a node runs ${TALOS}: Talos ${TALOS} -> v1.8.7 is a downgrade`);
    expect(events(s, "upgrade")).toEqual([]);
  }, T);
});
