/**
 * cluster-safe-reset and cluster-emergency-recovery against the simulated cluster.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { startSimulation, type Simulation } from "../../lib/sim/index.ts";
import { simulate } from "../helpers/sim.ts";
import { runScript, scratchDir } from "./talos-sim-harness.ts";

const T = 120_000;
let sim: Simulation | undefined;
let scratch: ReturnType<typeof scratchDir> | undefined;
afterEach(async () => {
  await sim?.stop();
  sim = undefined;
  scratch?.cleanup();
  scratch = undefined;
});
async function start(opts: Parameters<typeof startSimulation>[0] = {}) {
  sim = await simulate({ state: "bootstrapped", controllers: false, ...opts });
  scratch = scratchDir();
  return { s: sim, dir: scratch };
}
const events = (s: Simulation, type: string) => s.cluster.history.filter((e) => e.type === type).map((e) => e.node);
const snaps = (dir: string) => (existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".snapshot")) : []);

describe("cluster-safe-reset", () => {
  test("refuses without a terminal and --yes: exit 2, no snapshot, nothing reset", async () => {
    const { s, dir } = await start();
    const r = await runScript("cluster-safe-reset", ["--snapshot-dir", dir.dir], { env: s.env });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("refusing to reset ALL 3 nodes of cluster home-ops");
    expect(events(s, "reset")).toEqual([]);
    expect(snaps(dir.dir)).toEqual([]);
  }, T);

  test("--dry-run prints the snapshot and reset lines (STATE and EPHEMERAL only) and changes nothing", async () => {
    const { s, dir } = await start();
    const r = await runScript("cluster-safe-reset", ["--snapshot-dir", dir.dir, "--dry-run"], { env: s.env });
    expect(r.code).toBe(0);
    const resets = r.stdout.split("\n").filter((l) => l.includes("[dry-run] talosctl") && l.includes(" reset "));
    expect(resets.length).toBe(3);
    for (const l of resets) expect(l).toContain("--system-labels-to-wipe=STATE --system-labels-to-wipe=EPHEMERAL");
    expect(resets[2]).toContain("--graceful=false");
    expect(resets[0]).toContain("--graceful=true");
    expect(r.stdout).toContain("etcd snapshot");
    expect(events(s, "reset")).toEqual([]);
    expect(snaps(dir.dir)).toEqual([]);
  }, T);

  test("--node on a control plane: snapshot first, graceful leave, node back in maintenance, etcd shrinks", async () => {
    const { s, dir } = await start();
    const r = await runScript("cluster-safe-reset", ["--snapshot-dir", dir.dir, "--node", "mini03", "--yes", "--json"], { env: s.env });
    expect(r.code).toBe(0);
    expect(snaps(dir.dir).length).toBe(1);
    expect(events(s, "etcd-leave")).toEqual(["mini03"]);
    expect(s.cluster.machine("mini03")!.stage).toBe("maintenance");
    expect(s.cluster.talos.members.size).toBe(2);
    expect(s.cluster.machine("mini01")!.stage).toBe("running");
  }, T);

  test("--node refuses when the remaining members would lose quorum (exit 2, nothing changed)", async () => {
    const { s, dir } = await start({ faults: ["unreachable=mini02"] });
    const r = await runScript("cluster-safe-reset", ["--snapshot-dir", dir.dir, "--node", "mini03", "--yes"], { env: s.env });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("would break etcd quorum");
    expect(events(s, "reset")).toEqual([]);
    expect(snaps(dir.dir)).toEqual([]);
  }, T);

  test("full reset with a node that does not answer: exit 1 before the snapshot and the first reset", async () => {
    const { s, dir } = await start({ faults: ["unreachable=mini03"] });
    const r = await runScript("cluster-safe-reset", ["--snapshot-dir", dir.dir, "--yes"], { env: s.env });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("mini03 does not answer: nothing was changed");
    expect(events(s, "reset")).toEqual([]);
    expect(snaps(dir.dir)).toEqual([]);
  }, T);

  test("full reset: every node back in maintenance mode, last control plane non-graceful", async () => {
    const { s, dir } = await start();
    const r = await runScript("cluster-safe-reset", ["--snapshot-dir", dir.dir, "--yes", "--json"], { env: s.env });
    expect(r.code).toBe(0);
    const j = r.json();
    expect(j.nodes.map((n: any) => [n.node, n.graceful])).toEqual([
      ["mini01", true],
      ["mini02", true],
      ["mini03", false],
    ]);
    for (const h of ["mini01", "mini02", "mini03"]) expect(s.cluster.machine(h)!.stage).toBe("maintenance");
    expect(snaps(dir.dir).length).toBe(1);
  }, T);
});

describe("cluster-emergency-recovery", () => {
  test("refuses without --yes; with no snapshot it is a configuration error", async () => {
    const { s, dir } = await start();
    const none = await runScript("cluster-emergency-recovery", ["--snapshot-dir", dir.dir, "--yes"], { env: s.env });
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("no snapshot of home-ops");
    expect((await runScript("etcd-snapshot", ["--dir", dir.dir], { env: s.env })).code).toBe(0);
    const r = await runScript("cluster-emergency-recovery", ["--snapshot-dir", dir.dir], { env: s.env });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("refusing to wipe etcd on all 3 control planes");
    expect(events(s, "reset")).toEqual([]);
  }, T);

  // the plan is verified completely before the first wipe: a bad snapshot wipes nothing
  test.each([
    ["not a snapshot at all", (_good: Buffer) => Buffer.from("hello, this is not etcd\n"), "no sha256 trailer"],
    ["one flipped byte", (good: Buffer) => {
      const b = Buffer.from(good);
      b[40] = b[40]! ^ 0xff;
      return b;
    }, "sha256 trailer does not match"],
    ["truncated", (good: Buffer) => good.subarray(0, good.length - 100), "no sha256 trailer"],
    ["empty", (_good: Buffer) => Buffer.alloc(0), "it is empty"],
    ["a real etcd (bbolt) file offered to the simulation", (_good: Buffer) => {
      const body = Buffer.alloc(4096 * 4);
      body.writeUInt32LE(0xed0cdaed, 16);
      body.writeUInt32LE(2, 20);
      return Buffer.concat([body, Buffer.from(new Bun.CryptoHasher("sha256").update(body).digest())]);
    }, "simulated cluster restores only its own snapshots"],
  ])("a bad snapshot (%s): exit 2, nothing wiped, no reset in the Talos history", async (_name, corrupt, message) => {
    const { s, dir } = await start();
    expect((await runScript("etcd-snapshot", ["--dir", dir.dir], { env: s.env })).code).toBe(0);
    const good = snaps(dir.dir)[0]!;
    const bad = path.join(dir.dir, "bad.snapshot");
    writeFileSync(bad, corrupt(readFileSync(path.join(dir.dir, good))));
    const r = await runScript("cluster-emergency-recovery", ["--snapshot", path.join(dir.dir, "bad.snapshot"), "--yes"], { env: s.env });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain("refusing to recover from");
    expect(r.stderr).toContain(message);
    expect(r.stderr).toContain("nothing was wiped");
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(events(s, "reset")).toEqual([]);
    expect(events(s, "recover")).toEqual([]);
  }, T);

  test("a snapshot of the simulated cluster is refused when running for real (outside a rehearsal)", async () => {
    const { s, dir } = await start();
    expect((await runScript("etcd-snapshot", ["--dir", dir.dir], { env: s.env })).code).toBe(0);
    const { checkSnapshotFile } = await import("../../lib/talos/snapshot.ts");
    const file = path.join(dir.dir, snaps(dir.dir)[0]!);
    const real = await checkSnapshotFile(file, { simulated: false });
    expect(real.ok).toBe(false);
    expect(real.problems.join()).toContain("SIMULATED cluster");
    const rehearsal = await checkSnapshotFile(file, { simulated: true });
    expect(rehearsal.problems).toEqual([]);
    expect(rehearsal.revision).toBeGreaterThan(0);
    expect(rehearsal.hash).toMatch(/^[0-9a-f]{8}$/);
  }, T);

  test("an unreachable control plane: exit 1 before anything is wiped", async () => {
    const { s, dir } = await start();
    expect((await runScript("etcd-snapshot", ["--dir", dir.dir], { env: s.env })).code).toBe(0);
    s.cluster.faults.add("unreachable=mini02");
    const r = await runScript("cluster-emergency-recovery", ["--snapshot-dir", dir.dir, "--yes"], { env: s.env });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("mini02 does not answer: nothing was changed");
    expect(events(s, "reset")).toEqual([]);
  }, T);

  test("restores from the newest snapshot: objects made after it are gone, every member rejoins", async () => {
    const { s, dir } = await start();
    const store = s.cluster.store;
    store.create({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "before", namespace: "default" }, data: { a: "1" } });
    expect((await runScript("etcd-snapshot", ["--dir", dir.dir], { env: s.env })).code).toBe(0);
    store.create({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "after", namespace: "default" }, data: { b: "2" } });
    const dry = await runScript("cluster-emergency-recovery", ["--snapshot-dir", dir.dir, "--dry-run"], { env: s.env });
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain("--system-labels-to-wipe=EPHEMERAL");
    expect(dry.stdout).toMatch(/bootstrap --recover-from=.*\.snapshot/);
    expect(events(s, "reset")).toEqual([]);
    const r = await runScript("cluster-emergency-recovery", ["--snapshot-dir", dir.dir, "--yes", "--json"], { env: s.env });
    expect(r.code).toBe(0);
    expect(r.json().members).toBe(3);
    expect(events(s, "recover")).toEqual(["mini01"]);
    expect(store.tryGet({ apiVersion: "v1", kind: "ConfigMap" }, "before", "default")).toBeDefined();
    expect(store.tryGet({ apiVersion: "v1", kind: "ConfigMap" }, "after", "default")).toBeUndefined();
    expect([...s.cluster.talos.members.values()].every((m) => !m.learner)).toBe(true);
  }, T);
});
