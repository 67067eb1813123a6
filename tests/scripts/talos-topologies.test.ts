/**
 * Nothing assumes three control planes: a repo with ONE control plane and two workers (a fixture copy of talos/ with
 * the roles changed), rebooted and upgraded through the scripts against a simulation of that repo.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cpSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { maxConcurrentDown, startSimulation, type Simulation } from "../../lib/sim/index.ts";
import { simulate } from "../helpers/sim.ts";
import { ROOT, scratchDir } from "./talos-sim-harness.ts";
import { runScript } from "../helpers/script.ts";
import { loadRepo } from "../../lib/repo/model.ts";

/** The Talos release the repo pins, and its next patch (what a rolling upgrade moves to; Renovate moves both). */
const TALOS = loadRepo(path.resolve(import.meta.dir, "../..")).versions.talos.value;
const NEXT_TALOS = TALOS.replace(/\d+$/, (patch) => String(Number(patch) + 1));

const T = 180_000;
const scratch = scratchDir();
const fixture = path.join(scratch.dir, "repo");

/** A script of this repo, run in the fixture repo against its simulation. */
const run = (name: string, args: string[], env: Record<string, string>) => runScript(name, args, { cwd: fixture, env });

let sim: Simulation;
beforeAll(async () => {
  mkdirSync(path.join(fixture, "scripts"), { recursive: true });
  writeFileSync(path.join(fixture, "package.json"), '{"name":"fixture","private":true}\n');
  cpSync(path.join(ROOT, "talos"), path.join(fixture, "talos"), { recursive: true });
  const file = path.join(fixture, "talos", "talconfig.yaml");
  const text = readFileSync(file, "utf8");
  // mini02 and mini03 become workers: one control plane left
  const lines = text.split("\n");
  let host = "";
  for (let i = 0; i < lines.length; i++) {
    const h = /hostname: (\S+)/.exec(lines[i]!);
    if (h) host = h[1]!;
    if ((host === "mini02" || host === "mini03") && /^\s+controlPlane: true/.test(lines[i]!)) lines[i] = lines[i]!.replace("true", "false");
  }
  writeFileSync(file, lines.join("\n"));
  sim = await simulate({ root: fixture, state: "bootstrapped", controllers: false });
}, T);
afterAll(async () => {
  await sim?.stop();
  scratch.cleanup();
});

describe("one control plane and two workers", () => {
  test("the simulation and the scripts see one control plane", () => {
    expect(sim.cluster.topology.nodes.map((n) => [n.hostname, n.controlPlane])).toEqual([
      ["mini01", true],
      ["mini02", false],
      ["mini03", false],
    ]);
    expect(sim.cluster.talos.members.size).toBe(1);
  });

  test("rolling reboot: the control plane first (API outage announced), then the workers; never two down", async () => {
    const r = await run("talos-reboot", ["--yes"], sim.env);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("single control plane: etcd and the Kubernetes API are unavailable until it is back");
    expect(sim.cluster.history.filter((e) => e.type === "reboot").map((e) => e.node)).toEqual(["mini01", "mini02", "mini03"]);
    expect(maxConcurrentDown(sim.cluster.history)).toBe(1);
  }, T);

  test("upgrade: the single control plane is upgraded with --preserve (Talos refuses otherwise), workers without", async () => {
    const r = await run("talos-upgrade", ["--yes", "--to", NEXT_TALOS], sim.env);
    expect(r.code).toBe(0);
    const upgrades = sim.cluster.calls.filter((c) => c.tool === "talosctl" && c.argv.includes("upgrade"));
    const byNode = Object.fromEntries(upgrades.map((c) => [c.argv.find((a) => a.startsWith("--nodes="))!.slice(8), c.argv.includes("--preserve")]));
    expect(byNode).toEqual({ "172.29.51.11": true, "172.29.51.12": false, "172.29.51.13": false });
    for (const h of ["mini01", "mini02", "mini03"]) expect(sim.cluster.machine(h)!.version).toBe(NEXT_TALOS);
    expect(maxConcurrentDown(sim.cluster.history)).toBe(1);
  }, T);

  test("safe-reset refuses the only control plane on its own (exit 2); a worker is fine", async () => {
    const cp = await run("cluster-safe-reset", ["--node", "mini01", "--yes", "--skip-snapshot"], sim.env);
    expect(cp.code).toBe(2);
    expect(cp.stderr).toContain("mini01 is the only control plane");
    const w = await run("cluster-safe-reset", ["--node", "mini03", "--yes", "--skip-snapshot"], sim.env);
    expect(w.code).toBe(0);
    expect(sim.cluster.machine("mini03")!.stage).toBe("maintenance");
    expect(sim.cluster.talos.members.size).toBe(1);
  }, T);
});
