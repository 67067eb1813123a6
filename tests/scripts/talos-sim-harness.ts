/**
 * Test harness for the Talos/cluster scripts: start a simulated cluster (lib/sim), run a script as a process
 * against it (Bun.spawn, stdin not a TTY), and give back exit code, stdout and stderr.
 */
import { mkdirSync, rmSync } from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { startSimulation, type Simulation } from "../../lib/sim/index.ts";
import { simulate } from "../helpers/sim.ts";
import { runScript as spawnScript } from "../helpers/script.ts";

export const ROOT = path.resolve(import.meta.dir, "../..");

export type StartOpts = Parameters<typeof startSimulation>[0];

export type { ScriptRun } from "../helpers/script.ts";

/** A script of this repo against a simulation (`opts.env`: the simulation's environment). */
export function runScript(name: string, args: string[], opts: { env?: Record<string, string>; timeoutMs?: number } = {}) {
  return spawnScript(name, args, { ...opts, timeoutMs: opts.timeoutMs ?? 60_000 });
}

/** A git-ignored scratch folder inside the repo (.home-ops/ is ignored), removed by the returned cleanup. */
export function scratchDir(): { dir: string; rel: string; cleanup(): void } {
  const rel = path.join(".home-ops", `test-${randomBytes(4).toString("hex")}`);
  const dir = path.join(ROOT, rel);
  mkdirSync(dir, { recursive: true });
  return { dir, rel, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export async function withSim<T>(opts: StartOpts, fn: (sim: Simulation) => Promise<T>): Promise<T> {
  const sim = await simulate(opts);
  try {
    return await fn(sim);
  } finally {
    await sim.stop();
  }
}

/** Names of machines down at the same time, over the run (rolling operations must keep it at most 1). */
export function downEvents(sim: Simulation): Array<{ type: string; node?: string }> {
  return sim.cluster.history.filter((e) => e.type === "down" || e.type === "up").map((e) => ({ type: e.type, node: e.node }));
}

/**
 * Powers a machine held down by `reboot-never-returns` back on (as its owner would) and waits, through the same
 * health gates the rolling scripts use, until the cluster is healthy again: a rerun right after a power-on
 * rightly refuses while the node is still booting, so a test that means "later" must wait for "later".
 */
export async function powerOnAndWaitHealthy(sim: Simulation, host: string, timeoutMs = 30_000): Promise<void> {
  const { Exec } = await import("../../lib/exec.ts");
  const { KubeClient } = await import("../../lib/kube/index.ts");
  const { loadCluster, makeTalosctl } = await import("../../lib/talos/index.ts");
  const { clusterReader, waitForGates } = await import("../../lib/safety/index.ts");
  sim.cluster.powerOn(host);
  const exec = new Exec({ env: { ...process.env, ...sim.env } });
  const kube = KubeClient.fromEnv(sim.env);
  try {
    const nodes = loadCluster(ROOT).nodes.map((n) => ({ hostname: n.hostname, ip: n.ip, controlPlane: n.controlPlane }));
    await waitForGates({ talos: makeTalosctl(exec, ROOT, sim.env), kube: clusterReader(kube), nodes }, { timeoutMs });
  } finally {
    kube.close();
  }
}
