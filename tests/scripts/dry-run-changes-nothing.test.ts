/**
 * The instrumented dry-run check: every mutating script's --dry-run against one simulated cluster changes nothing
 * there (no API write: the store's resourceVersion stays; no Talos event: the history stays; no maintenance lock
 * taken) and writes no file. The list of scripts comes from scripts/ itself, so a new mutating script is covered
 * (or this test says it lacks a dry-run case).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { loadScripts } from "../../lib/cli/registry.ts";
import { MAINTENANCE_LEASE } from "../../lib/safety/lock.ts";
import { startSimulation, type Simulation } from "../../lib/sim/index.ts";
import { loadCluster } from "../../lib/talos/cluster.ts";
import { ROOT, runScript, scratchDir } from "./talos-sim-harness.ts";

const T = 120_000;
let sim: Simulation;
const s = scratchDir();
const cps = loadCluster(ROOT).nodes.filter((n) => n.controlPlane).map((n) => n.hostname);

/** The dry runs, per script (several where a flag changes what would be done). */
const DRY_RUNS: Record<string, string[][]> = {
  "apps-deploy-cilium": [[]],
  "apps-deploy-core": [[]],
  "bgp-migrate": [[], ["--live"]],
  "bootstrap-1password-secrets": [[]],
  "bootstrap-phased": [[]],
  "cluster-emergency-recovery": [["--snapshot-dir", `${s.rel}/snapshots`]],
  "cluster-safe-reset": [["--snapshot-dir", `${s.rel}/snapshots`, "--keep", "1"], ["--node", cps.at(-1)!, "--snapshot-dir", `${s.rel}/snapshots`]],
  "etcd-snapshot": [["--dir", `${s.rel}/snapshots`, "--keep", "1"]],
  "flux-bootstrap": [[]],
  "flux-reconcile": [[], ["--suspend"], ["--resume"]],
  "talos-apply-config": [["--config-dir", `${s.rel}/configs`]],
  "talos-bootstrap": [["--kubeconfig", `${s.rel}/kubeconfig`]],
  "talos-generate-config": [["--out-dir", `${s.rel}/gen`, "--secret-file", `${s.rel}/gen-talsecret.yaml`]],
  "talos-reboot": [[], ["--node", cps[0]!]],
  "talos-upgrade": [[]],
  "talos-upgrade-k8s": [[]],
};

const codes = new Map<string, number>();

function files(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: false }).map(String).sort();
}

beforeAll(async () => {
  sim = await startSimulation({ state: "bootstrapped", controllers: false });
  // what some dry runs need to exist first: a snapshot and generated configs
  expect((await runScript("etcd-snapshot", ["--dir", `${s.rel}/snapshots`], { env: sim.env })).code).toBe(0);
  expect((await runScript("talos-generate-config", ["--out-dir", `${s.rel}/configs`, "--secret-file", `${s.rel}/talsecret.yaml`], { env: sim.env })).code).toBe(0);
}, T);
afterAll(async () => {
  await sim?.stop();
  s.cleanup();
});

describe("no dry run changes the simulated cluster", () => {
  test("every mutating live script has a dry-run case here", async () => {
    const mutating = (await loadScripts(ROOT)).filter((x) => x.def.mutates && x.def.live).map((x) => x.def.name).sort();
    expect(mutating.length).toBeGreaterThan(5);
    expect(Object.keys(DRY_RUNS).sort()).toEqual(mutating);
  });

  for (const [name, runs] of Object.entries(DRY_RUNS))
    for (const args of runs)
      test(`${name} ${args.join(" ")} --dry-run`, async () => {
        const rv = sim.cluster.store.resourceVersion;
        const history = sim.cluster.history.length;
        const before = files(s.dir);
        const r = await runScript(name, [...args, "--dry-run"], { env: sim.env });
        // it may refuse (a phase already done, a check failing) but never crash
        expect([0, 1, 2], r.stderr).toContain(r.code);
        codes.set(`${name} ${args.join(" ")}`, r.code);
        expect(r.stderr).not.toMatch(/\n\s+at /);
        expect(sim.cluster.store.resourceVersion).toBe(rv);
        expect(sim.cluster.history.slice(history).map((e) => `${e.type} ${e.node ?? ""}`)).toEqual([]);
        expect(files(s.dir)).toEqual(before);
        expect(sim.cluster.store.tryGet({ apiVersion: MAINTENANCE_LEASE.apiVersion, kind: MAINTENANCE_LEASE.kind }, MAINTENANCE_LEASE.name, MAINTENANCE_LEASE.namespace)).toBeUndefined();
      }, T);

  test("the dry runs planned something: the rolling, reset, recovery and snapshot ones exit 0", () => {
    for (const [run, code] of codes) if (/^(talos-reboot|talos-upgrade|cluster-|etcd-snapshot|talos-generate-config|talos-apply-config)/.test(run)) expect(`${run}: ${code}`).toBe(`${run}: 0`);
    expect(codes.size).toBe(Object.values(DRY_RUNS).flat().length);
  });
});
