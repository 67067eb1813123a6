import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { startSimulation, type Simulation } from "../../lib/sim/index.ts";
import { simulate } from "../helpers/sim.ts";
import { ROOT, runScript, scratchDir } from "./talos-sim-harness.ts";

const T = 90_000;

describe("etcd-snapshot", () => {
  let sim: Simulation;
  const s = scratchDir();
  beforeAll(async () => {
    sim = await simulate({ state: "bootstrapped", controllers: false });
  });
  afterAll(async () => {
    await sim?.stop();
    s.cleanup();
  });
  const snaps = () => (existsSync(s.dir) ? readdirSync(s.dir).filter((f) => f.endsWith(".snapshot")).sort() : []);

  test("--dry-run prints the talosctl line and writes nothing", async () => {
    const r = await runScript("etcd-snapshot", ["--dir", s.dir, "--dry-run"], { env: sim.env });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\[dry-run\] talosctl .*--nodes=172\.29\.51\.1[123] etcd snapshot .*etcd-home-ops-.*\.snapshot/);
    expect(snaps()).toEqual([]);
  }, T);

  test("saves a verified 0600 snapshot from a healthy non-leader member", async () => {
    const r = await runScript("etcd-snapshot", ["--dir", s.dir, "--json"], { env: sim.env });
    expect(r.code).toBe(0);
    const j = r.json();
    expect(j.file).toMatch(/^\.home-ops\/test-[0-9a-f]+\/etcd-home-ops-\d{8}T\d{6}\.\d{3}Z\.snapshot$/);
    const st = statSync(path.join(ROOT, j.file));
    expect(st.mode & 0o777).toBe(0o600);
    expect(j.info.bytes).toBe(st.size);
    expect(j.info.totalKeys).toBeGreaterThan(0);
    expect(j.info.hash).toMatch(/^[0-9a-f]{8}$/);
    expect(j.node).not.toBe(sim.cluster.talos.leader);
  }, T);

  test("keeps only the newest N: the dry run lists exactly what would go, pruning asks first (or --yes)", async () => {
    for (let i = 0; i < 3; i++) expect((await runScript("etcd-snapshot", ["--dir", s.dir, "--keep", "10"], { env: sim.env })).code).toBe(0);
    const before = snaps();
    expect(before.length).toBeGreaterThanOrEqual(3);
    // keeping 2 with one new snapshot: everything but the newest one goes
    const wouldGo = before.slice(0, before.length - 1);
    const dry = await runScript("etcd-snapshot", ["--dir", s.dir, "--keep", "2", "--dry-run"], { env: sim.env });
    expect(dry.code).toBe(0);
    const listed = dry.stdout.split("\n").filter((l) => l.startsWith("[dry-run] delete ")).map((l) => path.basename(l.split(" ")[2]!));
    expect(listed.sort()).toEqual(wouldGo);
    expect(snaps()).toEqual(before);
    // without a terminal and without --yes: refused, no new snapshot, nothing deleted
    const refused = await runScript("etcd-snapshot", ["--dir", s.dir, "--keep", "2"], { env: sim.env });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`refusing to delete ${wouldGo.length} older snapshots`);
    expect(snaps()).toEqual(before);
    const r = await runScript("etcd-snapshot", ["--dir", s.dir, "--keep", "2", "--yes", "--json"], { env: sim.env });
    expect(r.code).toBe(0);
    expect(r.json().pruned.map((p: string) => path.basename(p)).sort()).toEqual(wouldGo);
    const files = snaps();
    expect(files.length).toBe(2);
    // what remains has no .info.json of a deleted snapshot beside it
    expect(readdirSync(s.dir).filter((f) => f.endsWith(".info.json")).map((f) => f.replace(/\.info\.json$/, "")).sort()).toEqual(files);
  }, T);

  test("an unreachable member is skipped: the snapshot comes from another one", async () => {
    sim.cluster.faults.add("unreachable=mini02");
    sim.cluster.faults.add("unreachable=mini03");
    try {
      const r = await runScript("etcd-snapshot", ["--dir", s.dir, "--keep", "5", "--yes", "--json"], { env: sim.env });
      expect(r.code).toBe(0);
      expect(r.json().node).toBe("mini01");
      // asking for the unreachable one explicitly is a clear failure
      const bad = await runScript("etcd-snapshot", ["--dir", s.dir, "--node", "mini02"], { env: sim.env });
      expect(bad.code).toBe(1);
      expect(bad.stderr).toContain("mini02 is not a healthy etcd member");
    } finally {
      sim.cluster.faults.clear("unreachable");
    }
  }, T);

  test("snapshots land only where git ignores them; bad --keep is a usage error (exit 2)", async () => {
    for (const f of snaps()) {
      const r = Bun.spawnSync(["git", "check-ignore", "-q", path.join(s.rel, f)], { cwd: ROOT });
      expect(r.exitCode).toBe(0);
    }
    const before = snaps();
    expect((await runScript("etcd-snapshot", ["--dir", s.dir, "--keep", "0"], { env: sim.env })).code).toBe(2);
    expect((await runScript("etcd-snapshot", ["--dir", s.dir, "--keep", "many"], { env: sim.env })).code).toBe(2);
    expect(snaps()).toEqual(before);
  }, T);
});
